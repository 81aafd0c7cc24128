// Owns opening client connections over HTTP/1.1: ws:// over node:net, wss:// over node:tls, optionally
// through an HTTP CONNECT proxy, with a handshake timeout. `connect()` (connect.ts) and `new WebSocket(url)`
// (through the dialer, dialer.ts) open their transports here.

import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { type ClientDriver, parseWebSocketUrl } from '../driver/client.js';
import { client } from '../driver/index.js';
import { assertSafeHeader } from '../protocol/handshake.js';
import type { TransportEvents, WebSocketTransport } from '../websocket-transport.js';
import type { ClientOptions } from './client-options.js';
import { validateHeartbeat } from './heartbeat.js';
import {
  DEFAULT_HANDSHAKE_TIMEOUT,
  linkSocket,
  type SocketLink,
  type SocketLinkOptions,
} from './socket-link.js';

const DEFAULT_PORTS = { 'ws:': 80, 'wss:': 443 } as const;

/**
 * The transport of a client WebSocket: dials (maybe through a proxy, maybe with TLS), links the socket
 * to the driver, and stands in for the link until it exists.
 */
class ClientTransport extends EventEmitter<TransportEvents> implements WebSocketTransport {
  readonly driver: ClientDriver;
  readonly isClientSide = true;
  private readonly url: URL;
  private readonly options: ClientOptions;
  private link: SocketLink | undefined;
  /** The socket to the proxy, until the tunnel is up and linked. */
  private tunnelSocket: net.Socket | undefined;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private isFinished = false;

  constructor(url: string | URL, options: ClientOptions) {
    super();
    this.url = parseWebSocketUrl(url);
    this.options = options;
    const proxy = options.proxy === undefined ? undefined : parseProxyUrl(options.proxy);
    const handshakeTimeout = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
    if (!Number.isFinite(handshakeTimeout) || handshakeTimeout <= 0) {
      throw new RangeError(`handshakeTimeout is a number of milliseconds > 0, not ${handshakeTimeout}`);
    }
    if (options.heartbeat !== undefined && options.heartbeat !== false) validateHeartbeat(options.heartbeat);
    // The request is written after dialing; a value that could split it must fail before anything is dialed.
    if (options.origin !== undefined) assertSafeHeader('Origin', options.origin);
    this.driver = client(this.url, {
      perMessageDeflate: options.perMessageDeflate ?? true,
      ...(options.protocols === undefined ? {} : { protocols: options.protocols }),
      ...(options.headers === undefined ? {} : { headers: options.headers }),
      ...(options.origin === undefined ? {} : { origin: options.origin }),
      ...(options.maxLength === undefined ? {} : { maxLength: options.maxLength }),
      ...(options.maxFragments === undefined ? {} : { maxFragments: options.maxFragments }),
    });
    this.driver.on('open', this.clearHandshakeTimer);
    this.handshakeTimer = setTimeout(() => {
      this.destroy(
        new Error(`The opening handshake with ${this.url.href} timed out after ${handshakeTimeout} ms`),
      );
    }, handshakeTimeout);
    this.handshakeTimer.unref();
    if (proxy === undefined) this.attach(this.dial());
    else this.dialThroughProxy(proxy);
  }

  get bufferedAmount(): number {
    return this.link?.bufferedAmount ?? 0;
  }

  get isWriteBufferFull(): boolean {
    return this.link?.isWriteBufferFull ?? false;
  }

  destroy(error?: Error): void {
    if (this.link !== undefined) {
      this.link.destroy(error);
      return;
    }
    this.failBeforeLink(error);
  }

  private readonly clearHandshakeTimer = (): void => {
    if (this.handshakeTimer !== undefined) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
  };

  private get host(): string {
    // URL keeps IPv6 literals in brackets; sockets want them bare.
    const hostname = this.url.hostname;
    return hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  }

  private get port(): number {
    const protocol = this.url.protocol as keyof typeof DEFAULT_PORTS;
    return this.url.port === '' ? DEFAULT_PORTS[protocol] : Number(this.url.port);
  }

  private get isSecure(): boolean {
    return this.url.protocol === 'wss:';
  }

  private dial(): Duplex {
    const address = { host: this.host, port: this.port, ...this.localAddressOption() };
    if (!this.isSecure) return net.connect(address);
    return tls.connect({ ...address, ...this.tlsOptions() });
  }

  private localAddressOption(): { localAddress?: string } {
    const localAddress = this.options.localAddress;
    return localAddress === undefined ? {} : { localAddress };
  }

  private tlsOptions(): tls.ConnectionOptions {
    const options = this.options;
    const servername = options.servername ?? (net.isIP(this.host) === 0 ? this.host : undefined);
    return {
      // ALPN: this is HTTP/1.1, whatever else the server speaks (RFC 8441 needs a different handshake).
      ALPNProtocols: ['http/1.1'],
      ...(servername === undefined ? {} : { servername }),
      ...(options.ca === undefined ? {} : { ca: options.ca }),
      ...(options.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: options.rejectUnauthorized }),
    };
  }

  private dialThroughProxy(proxyAddress: URL): void {
    const proxyHost = proxyAddress.hostname.startsWith('[')
      ? proxyAddress.hostname.slice(1, -1)
      : proxyAddress.hostname;
    const socket = net.connect({
      host: proxyHost,
      port: Number(proxyAddress.port || 80),
      ...this.localAddressOption(),
    });
    this.tunnelSocket = socket;
    const tunnel = this.driver.proxy(proxyAddress.href);
    const onData = (chunk: Buffer): void => {
      tunnel.write(chunk);
    };
    const onTunnelData = (chunk: Buffer): void => {
      socket.write(chunk);
    };
    const onError = (error: Error): void => {
      this.failBeforeLink(
        new Error(`The proxy ${proxyAddress.host} failed: ${error.message}`, { cause: error }),
      );
    };
    const onClose = (): void => {
      this.failBeforeLink(
        new Error(`The proxy ${proxyAddress.host} closed the connection before the tunnel`),
      );
    };
    const detach = (): void => {
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      tunnel.off('data', onTunnelData);
    };
    tunnel.on('data', onTunnelData);
    tunnel.once('error', (error: Error) => {
      detach();
      this.failBeforeLink(error);
      socket.destroy();
    });
    tunnel.once('connect', ({ rest }: { rest: Buffer }) => {
      detach();
      this.tunnelSocket = undefined;
      if (this.isSecure) {
        // TLS takes over the socket's handle; the server says nothing before our ClientHello.
        this.attach(tls.connect({ socket, ...this.tlsOptions() }));
        return;
      }
      // Stop the flow until the link listens, so no byte of the tunnel is lost in between.
      socket.pause();
      if (rest.length > 0) socket.unshift(rest);
      this.attach(socket);
    });
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    tunnel.start();
  }

  /** A failure while only the proxy socket exists: report it as the link would, error then 1006. */
  private failBeforeLink(error: Error | undefined): void {
    if (this.isFinished || this.link !== undefined) return;
    this.isFinished = true;
    this.clearHandshakeTimer();
    this.tunnelSocket?.destroy();
    this.tunnelSocket = undefined;
    if (error !== undefined) this.driver.emit('error', error);
    this.driver.io.end();
    this.emit('close', { code: 1006, reason: '', wasClean: false });
  }

  private attach(socket: Duplex): void {
    const options = this.options;
    const linkOptions: SocketLinkOptions = {
      // This transport's own timer bounds the handshake, dialing and proxy included.
      handshakeTimeout: 0,
      ...(options.closeTimeout === undefined ? {} : { closeTimeout: options.closeTimeout }),
      ...(options.heartbeat === undefined ? {} : { heartbeat: options.heartbeat }),
    };
    const link = linkSocket(this.driver, socket, linkOptions);
    this.link = link;
    link.on('drain', () => this.emit('drain'));
    link.on('close', (event) => {
      this.isFinished = true;
      this.clearHandshakeTimer();
      this.driver.off('open', this.clearHandshakeTimer);
      this.emit('close', event);
    });
    this.driver.start();
  }
}

function parseProxyUrl(proxy: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(proxy);
  } catch (error) {
    // Not the value itself: a proxy URL may carry a password.
    throw new TypeError('The proxy option is not a URL; give one like http://proxy.local:3128', {
      cause: error,
    });
  }
  if (parsed.protocol !== 'http:') {
    throw new TypeError(`The proxy URL must start with http:, not ${parsed.protocol}`);
  }
  return parsed;
}

/**
 * @internal Used by `new WebSocket(url)` and `connect()`: the transport of a new client connection, dialing already.
 * Throws TypeError for a bad URL or option.
 */
export function openClientTransport(url: string | URL, options: ClientOptions): WebSocketTransport {
  return new ClientTransport(url, options);
}
