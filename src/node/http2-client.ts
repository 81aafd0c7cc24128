// Owns opening client WebSockets over HTTP/2 (RFC 8441): the stream each WebSocket runs on, on a session
// of a pool (http2-session-pool.ts). Choosing between HTTP/2 and the HTTP/1.1 upgrade is connect.ts's.

import { EventEmitter } from 'node:events';
import http2, {
  type ClientHttp2Stream,
  type IncomingHttpHeaders,
  type IncomingHttpStatusHeader,
} from 'node:http2';
import { parseWebSocketUrl } from '../driver/client.js';
import { Http2ClientDriver } from '../driver/http2-client.js';
import {
  buildExtendedConnectRequest,
  type Http2HeaderBlock,
  type Http2HeaderMap,
} from '../protocol/extended-connect.js';
import { assertSafeHeader } from '../protocol/handshake.js';
import type { TransportEvents, WebSocketTransport } from '../websocket-transport.js';
import { certificateHint } from './certificate-hint.js';
import type { ClientOptions } from './client-options.js';
import { validateHeartbeat } from './heartbeat.js';
import {
  DEFAULT_HANDSHAKE_TIMEOUT,
  defaultHttp2SessionPool,
  type Http2SessionPool,
  type PooledSession,
} from './http2-session-pool.js';
import { Http2StreamLink, resetStream } from './http2-stream-link.js';

/**
 * Options of {@link connectHttp2} and {@link connectAny}: those of `connect()`, `http2` and `sessionPool`
 * included (connectAny's `http2` default is 'off'; connectHttp2 always requires HTTP/2).
 */
export type Http2ClientOptions = ClientOptions;

/** Raised when a server cannot carry a WebSocket over HTTP/2: it does not speak it, or has no extended CONNECT. */
export class Http2UnsupportedError extends Error {
  override readonly name = 'Http2UnsupportedError';
}

/**
 * The transport of a client WebSocket on an HTTP/2 stream: gets a session from the pool, opens the extended
 * CONNECT stream, and links it to the driver once the response arrives. Until then it answers for the stream
 * itself, so that a stream the server refused unprocessed (REFUSED_STREAM, as after a GOAWAY that crossed
 * the request) can be retried once on a fresh session, as RFC 9113 §8.7 allows.
 */
class Http2ClientTransport extends EventEmitter<TransportEvents> implements WebSocketTransport {
  readonly driver: Http2ClientDriver;
  readonly isClientSide = true;
  private readonly url: URL;
  private readonly options: Http2ClientOptions;
  private readonly pool: Http2SessionPool;
  private pooled: PooledSession | undefined;
  private requestHeaders: Http2HeaderBlock | undefined;
  private stream: ClientHttp2Stream | undefined;
  private streamError: Error | undefined;
  private link: Http2StreamLink | undefined;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private hasRetried = false;
  private isFinished = false;

  constructor(url: URL, options: Http2ClientOptions) {
    super();
    if (options.proxy !== undefined) {
      throw new TypeError(
        'WebSockets over HTTP/2 do not go through an HTTP proxy; use http2: "off" or "prefer"',
      );
    }
    this.url = url;
    this.options = options;
    this.pool = options.sessionPool ?? defaultHttp2SessionPool;
    const handshakeTimeout = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
    if (!Number.isFinite(handshakeTimeout) || handshakeTimeout <= 0) {
      throw new RangeError(`handshakeTimeout is a number of milliseconds > 0, not ${handshakeTimeout}`);
    }
    if (options.heartbeat !== undefined && options.heartbeat !== false) validateHeartbeat(options.heartbeat);
    // The request is built once the session is up; what would make it throw must fail here, at the call.
    if (options.origin !== undefined) assertSafeHeader('Origin', options.origin);
    buildExtendedConnectRequest({
      url,
      ...(options.protocols === undefined ? {} : { protocols: protocolList(options.protocols) }),
      ...(options.headers === undefined ? {} : { headers: options.headers }),
    });
    this.driver = new Http2ClientDriver(url, (headers) => this.request(headers), {
      perMessageDeflate: options.perMessageDeflate ?? true,
      ...(options.protocols === undefined ? {} : { protocols: options.protocols }),
      ...(options.headers === undefined ? {} : { headers: options.headers }),
      ...(options.origin === undefined ? {} : { origin: options.origin }),
      ...(options.maxLength === undefined ? {} : { maxLength: options.maxLength }),
      ...(options.maxFragments === undefined ? {} : { maxFragments: options.maxFragments }),
    });
    this.handshakeTimer = setTimeout(() => {
      this.destroy(
        new Error(`The opening handshake with ${url.href} timed out after ${handshakeTimeout} ms`),
      );
    }, handshakeTimeout);
    this.handshakeTimer.unref();
    this.acquire();
  }

  get bufferedAmount(): number {
    return this.link?.bufferedAmount ?? 0;
  }

  get isWriteBufferFull(): boolean {
    return this.link?.isWriteBufferFull ?? false;
  }

  /** HTTP/2 over TLS ('h2') or cleartext ('h2c'). */
  get httpProtocol(): 'h2' | 'h2c' {
    return this.link?.httpProtocol ?? (this.pooled?.session.alpnProtocol === 'h2' ? 'h2' : 'h2c');
  }

  destroy(error?: Error): void {
    if (this.link !== undefined) {
      this.link.destroy(error);
      return;
    }
    if (this.stream !== undefined) resetStream(this.stream);
    this.failBeforeLink(error);
  }

  private acquire(): void {
    this.pool.acquire(this.url, this.options).then(
      (pooled) => this.onSession(pooled),
      (error: unknown) => this.failBeforeLink(describeSessionFailure(this.url, error)),
    );
  }

  private onSession(pooled: PooledSession): void {
    if (this.isFinished) {
      pooled.release();
      return;
    }
    if (!pooled.supportsExtendedConnect) {
      pooled.release();
      // RFC 8441 §3: without the setting, a :protocol request would be malformed to this server.
      this.failBeforeLink(
        new Http2UnsupportedError(
          `${this.driver.url} speaks HTTP/2 but does not advertise extended CONNECT (RFC 8441 §3)`,
        ),
      );
      return;
    }
    this.pooled = pooled;
    try {
      // A retry sends the same request again: the driver built it (and its extension offer) once.
      if (this.requestHeaders === undefined) this.driver.start();
      else this.request(this.requestHeaders);
    } catch (error) {
      // Checked in the constructor already; an extension's offer is the one thing left that could throw.
      this.failBeforeLink(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** The driver's request: a stream on the session, watched until its response. */
  private request(headers: Http2HeaderBlock): void {
    this.requestHeaders = headers;
    const pooled = this.pooled!;
    let stream: ClientHttp2Stream;
    try {
      stream = pooled.session.request(headers, { endStream: false });
    } catch (error) {
      // The session went away between its SETTINGS and now (GOAWAY, closed).
      this.releaseSession();
      if (this.retry()) return;
      this.failBeforeLink(describeSessionFailure(this.url, error));
      return;
    }
    this.stream = stream;
    this.streamError = undefined;
    stream.once('response', this.onResponse);
    stream.on('error', this.onStreamError);
    stream.once('close', this.onStreamClose);
  }

  private readonly onStreamError = (error: Error): void => {
    this.streamError ??= error;
  };

  /** The stream ended before its response. */
  private readonly onStreamClose = (): void => {
    const stream = this.stream!;
    this.detachStream(stream);
    this.stream = undefined;
    this.releaseSession();
    if (stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM && this.retry()) return;
    this.failBeforeLink(
      this.streamError ??
        new Error(`The server closed the stream before answering (HTTP/2 error code ${stream.rstCode})`),
    );
  };

  private readonly onResponse = (headers: IncomingHttpHeaders & IncomingHttpStatusHeader): void => {
    const stream = this.stream!;
    this.detachStream(stream);
    if (this.isFinished) return;
    this.clearHandshakeTimer();
    // From here the stream is the WebSocket's connection (RFC 8441 §5), with the socket link's rules.
    const options = this.options;
    const link = new Http2StreamLink(this.driver, stream, {
      // This transport's own timer bounded the handshake.
      handshakeTimeout: 0,
      ...(options.closeTimeout === undefined ? {} : { closeTimeout: options.closeTimeout }),
      ...(options.heartbeat === undefined ? {} : { heartbeat: options.heartbeat }),
    });
    this.link = link;
    link.on('drain', () => this.emit('drain'));
    link.once('close', (event) => {
      this.isFinished = true;
      this.releaseSession();
      this.emit('close', event);
    });
    // Refused: nothing more to say on this stream, whatever the server still sends.
    if (!this.driver.receiveResponse(headers as Http2HeaderMap)) resetStream(stream);
  };

  private detachStream(stream: ClientHttp2Stream): void {
    stream.off('response', this.onResponse);
    stream.off('error', this.onStreamError);
    stream.off('close', this.onStreamClose);
  }

  /** Tries once more on a fresh session; false when it already did. */
  private retry(): boolean {
    if (this.hasRetried || this.isFinished) return false;
    this.hasRetried = true;
    this.acquire();
    return true;
  }

  private releaseSession(): void {
    this.pooled?.release();
    this.pooled = undefined;
  }

  private clearHandshakeTimer(): void {
    if (this.handshakeTimer !== undefined) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
  }

  /** A failure before the response: report it as the link would, error then 1006. */
  private failBeforeLink(error: Error | undefined): void {
    if (this.isFinished || this.link !== undefined) return;
    this.isFinished = true;
    this.clearHandshakeTimer();
    const stream = this.stream;
    if (stream !== undefined) {
      this.detachStream(stream);
      // Abandoned (reset, or its session failing): whatever it reports later is no longer anyone's news.
      stream.on('error', () => {});
    }
    this.releaseSession();
    if (error !== undefined) this.driver.emit('error', error);
    this.driver.io.end();
    this.emit('close', { code: 1006, reason: '', wasClean: false });
  }
}

function protocolList(protocols: string | readonly string[]): readonly string[] {
  return typeof protocols === 'string' ? [protocols] : protocols;
}

function describeSessionFailure(url: URL, error: unknown): Error {
  if (error instanceof Http2UnsupportedError) return error;
  const cause = error instanceof Error ? error : new Error(String(error));
  return new Http2UnsupportedError(
    `Could not open an HTTP/2 session to ${url.host}: ${cause.message}${certificateHint(cause)}`,
    {
      cause,
    },
  );
}

/**
 * @internal The transport of a client WebSocket over HTTP/2, dialing already: what `new WebSocket(url,
 * protocols, { http2: 'require' })` uses. Throws TypeError for a bad URL or option.
 */
export function openHttp2ClientTransport(url: string | URL, options: Http2ClientOptions): WebSocketTransport {
  return new Http2ClientTransport(parseWebSocketUrl(url), options);
}
