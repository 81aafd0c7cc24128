// Owns opening client connections: ws:// over node:net, wss:// over node:tls, optionally through an HTTP
// CONNECT proxy, with a handshake timeout; and `connect()`, the promise of an open WebSocket (which hands
// `http2: 'prefer' | 'require'` to the HTTP/2 client).

import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { type ClientDriver, parseWebSocketUrl } from '../driver/client.js';
import { client, validateOptions } from '../driver/index.js';
import type { PerMessageDeflateOptions } from '../extensions/permessage-deflate.js';
import { HandshakeError } from '../protocol/errors.js';
import { assertSafeHeader } from '../protocol/handshake.js';
import { type TransportEvents, WebSocket, type WebSocketTransport } from '../websocket.js';
import { certificateHint } from './certificate-hint.js';
import { type HeartbeatOptions, validateHeartbeat } from './heartbeat.js';
import { connectAny, type Http2Mode, type Http2SessionPool } from './http2-client.js';
import {
  DEFAULT_HANDSHAKE_TIMEOUT,
  linkSocket,
  type SocketLink,
  type SocketLinkOptions,
} from './socket-link.js';
import { whenOpen } from './when-open.js';

/** Options of {@link connect} and of `new WebSocket(url, protocols, options)`. */
export interface ClientOptions {
  /** Subprotocols to offer, most preferred first. */
  protocols?: string | readonly string[];
  /**
   * Extra request headers (names are tokens; values may not contain CR, LF or NUL: such a header throws
   * before anything is dialed, so no value can split the request).
   */
  headers?: Readonly<Record<string, string>>;
  /** The Origin header to send (browsers always send one; RFC 6455 §4.1 item 8). Checked as `headers`. */
  origin?: string;
  /**
   * Offer permessage-deflate (RFC 7692): `true` (the default), `false`, or its options. An offer costs
   * nothing the server does not accept, and browsers and ws make it too; a server that accepts has
   * chosen compression for its traffic.
   */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /** Milliseconds from dialing to the server's 101 before giving up. Default 10000. */
  handshakeTimeout?: number;
  /** An HTTP proxy to tunnel through with CONNECT, e.g. `'http://user:secret@proxy.local:3128'`. */
  proxy?: string;
  /** Largest message accepted, in bytes (default 64 MiB - 1); larger ones close the connection with 1009. */
  maxLength?: number;
  /** Most frames one message may have (default 131,072); more close the connection with 1009. */
  maxFragments?: number;
  /** Milliseconds to wait for the closing handshake and the server's FIN (default 5000); then 1006. */
  closeTimeout?: number;
  /**
   * Ping every `interval` ms and destroy the connection (an 'error' saying why, then close 1006) when no
   * pong arrives within `timeout` ms. Off by default on clients: the server is the side that pays for
   * connections nobody is at any more, and browsers never ping; turn it on to notice a dead server (or
   * a NAT that forgot the connection) without sending anything yourself.
   */
  heartbeat?: HeartbeatOptions | false;
  /**
   * The local address to connect from (a machine with several, or many connections to one server: each
   * source address has its own range of ephemeral ports).
   */
  localAddress?: string;
  /** wss: certificate authorities to trust instead of Node's default list (e.g. a self-signed cert). */
  ca?: tls.ConnectionOptions['ca'];
  /** wss: whether to refuse a server certificate that does not verify. Default true. */
  rejectUnauthorized?: boolean;
  /** wss: the SNI server name. Default the URL's host name, unless it is an IP address (RFC 6066 §3). */
  servername?: string;
  /**
   * Open the WebSocket as a stream of an HTTP/2 session (RFC 8441): `'prefer'` (falls back to the HTTP/1.1
   * upgrade when the server does not offer extended CONNECT; `connect()` only), `'require'` (fails
   * instead), or `'off'` (the default: HTTP/1.1). HTTP/2 does not go through a `proxy`.
   */
  http2?: Http2Mode;
  /** With `http2`: the pool whose sessions carry the WebSocket; default one shared by the process. */
  sessionPool?: Http2SessionPool;
}

const DEFAULT_PORTS = { 'ws:': 80, 'wss:': 443 } as const;

/** Every ClientOptions name, as a record so that the compiler notices an option added without it. */
const CLIENT_OPTIONS: Record<keyof ClientOptions, true> = {
  protocols: true,
  headers: true,
  origin: true,
  perMessageDeflate: true,
  handshakeTimeout: true,
  proxy: true,
  maxLength: true,
  maxFragments: true,
  closeTimeout: true,
  heartbeat: true,
  localAddress: true,
  ca: true,
  rejectUnauthorized: true,
  servername: true,
  http2: true,
  sessionPool: true,
};
/** @internal The option names connect() takes, for entry points built on it. */
export const CLIENT_OPTION_KEYS: readonly string[] = Object.keys(CLIENT_OPTIONS);

/**
 * @internal Throws a TypeError for an option `connect()` and `new WebSocket()` do not know, naming the
 * nearest one: a typo (`handshakeTimout`) must not be silently ignored.
 */
export function validateClientOptions(options: ClientOptions): void {
  validateOptions(options, CLIENT_OPTION_KEYS);
}

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
 * @internal Used by `new WebSocket(url)`: the transport of a new client connection, dialing already.
 * Throws TypeError for a bad URL or option.
 */
export function openClientTransport(url: string | URL, options: ClientOptions): WebSocketTransport {
  return new ClientTransport(url, options);
}

/**
 * Opens a client WebSocket and resolves once it is open. Rejects with the server's `HandshakeError`
 * (its `status` says what the server answered) when the handshake fails, and with an Error whose `cause`
 * is the underlying error on a network or TLS failure or a handshake timeout. With `http2: 'prefer'` or
 * `'require'` it is `connectAny()`: the WebSocket may be a stream of an HTTP/2 session (RFC 8441).
 *
 * @example
 * ```ts
 * const socket = await connect('wss://example.com/feed', { protocols: ['v2'], handshakeTimeout: 5000 });
 * for await (const message of socket) console.log(message);
 * const multiplexed = await connect('wss://example.com/feed', { http2: 'prefer' });
 * console.log(multiplexed.httpProtocol); // 'h2', or 'http/1.1' from a server without RFC 8441
 * ```
 */
export function connect(url: string | URL, options: ClientOptions = {}): Promise<WebSocket> {
  if (options.http2 !== undefined && options.http2 !== 'off') return connectAny(url, options);
  return whenOpen(() => new WebSocket(url, options.protocols, options), describeFailure);
}

function describeFailure(failure: unknown, url: string): Error {
  if (failure instanceof HandshakeError) return failure;
  if (failure instanceof Error) {
    const hint = certificateHint(failure);
    return new Error(`Could not open a WebSocket to ${url}: ${failure.message}${hint}`, { cause: failure });
  }
  return new Error(`Could not open a WebSocket to ${url}: the connection closed during the handshake`);
}
