// Owns opening client WebSockets over HTTP/2 (RFC 8441): the pool of sessions several WebSockets to one
// origin share, the stream each WebSocket runs on, and the choice between HTTP/2 and the HTTP/1.1 upgrade.

import { EventEmitter } from 'node:events';
import http2, {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  type IncomingHttpHeaders,
  type IncomingHttpStatusHeader,
} from 'node:http2';
import type tls from 'node:tls';
import { parseWebSocketUrl } from '../driver/client.js';
import { Http2ClientDriver } from '../driver/http2-client.js';
import { HandshakeError } from '../protocol/errors.js';
import {
  buildExtendedConnectRequest,
  type Http2HeaderBlock,
  type Http2HeaderMap,
} from '../protocol/extended-connect.js';
import { assertSafeHeader } from '../protocol/handshake.js';
import { type TransportEvents, WebSocket, type WebSocketTransport } from '../websocket.js';
import { certificateHint } from './certificate-hint.js';
import { type ClientOptions, connect, validateClientOptions } from './client.js';
import { validateHeartbeat } from './heartbeat.js';
import { Http2StreamLink, resetStream } from './http2-stream-link.js';
import { whenOpen } from './when-open.js';

/**
 * Which HTTP a client opens its WebSocket with: `'prefer'` tries HTTP/2 and falls back to the HTTP/1.1
 * upgrade when the server does not speak HTTP/2 or does not advertise extended CONNECT; `'require'` fails
 * instead; `'off'` never tries HTTP/2.
 */
export type Http2Mode = 'prefer' | 'require' | 'off';

/**
 * Options of {@link connectHttp2} and {@link connectAny}: those of `connect()`, `http2` and `sessionPool`
 * included (connectAny's `http2` default is 'off'; connectHttp2 always requires HTTP/2).
 */
export type Http2ClientOptions = ClientOptions;

const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;
const DEFAULT_IDLE_TIMEOUT = 5000;

/** Raised when a server cannot carry a WebSocket over HTTP/2: it does not speak it, or has no extended CONNECT. */
export class Http2UnsupportedError extends Error {
  override readonly name = 'Http2UnsupportedError';
}

/** Options of {@link Http2SessionPool}. */
export interface Http2SessionPoolOptions {
  /**
   * Milliseconds a session with no WebSocket on it stays open for the next one (default 5000; 0 closes it as
   * soon as its last WebSocket closed). An idle session never keeps the process alive.
   */
  idleTimeout?: number;
}

/** One HTTP/2 session of a pool, with what its server's SETTINGS said. */
class PooledSession {
  readonly session: ClientHttp2Session;
  /** Resolves once the server's first SETTINGS arrived; rejects if the session ends or fails first. */
  readonly ready: Promise<void>;
  /** Transports (and connectAny) holding this session: it is idle at 0. */
  private holders = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly idleTimeout: number;

  constructor(session: ClientHttp2Session, idleTimeout: number, settingsTimeout: number, forget: () => void) {
    this.session = session;
    this.idleTimeout = idleTimeout;
    this.ready = new Promise((resolve, reject) => {
      let hasSettings = false;
      const timer = setTimeout(() => {
        session.destroy(new Error(`The server sent no HTTP/2 SETTINGS within ${settingsTimeout} ms`));
      }, settingsTimeout);
      timer.unref();
      session.once('remoteSettings', () => {
        hasSettings = true;
        clearTimeout(timer);
        resolve();
      });
      // A session error is reported to the WebSockets through their streams; listening keeps it from
      // being an uncaught 'error', and takes the session out of the pool.
      session.on('error', (error) => {
        forget();
        if (!hasSettings) reject(error);
      });
      session.once('close', () => {
        clearTimeout(timer);
        this.stopIdle();
        forget();
        if (!hasSettings) reject(new Error('The HTTP/2 session closed before the server sent its SETTINGS'));
      });
    });
    // Nobody may be waiting yet; the rejection still reaches every later acquirer.
    this.ready.catch(() => {});
    // RFC 9113 §6.8: after GOAWAY no new stream may start; streams already open finish on this session.
    session.once('goaway', forget);
  }

  /** RFC 8441 §3: the server sent SETTINGS_ENABLE_CONNECT_PROTOCOL = 1. */
  get supportsExtendedConnect(): boolean {
    return this.session.remoteSettings.enableConnectProtocol === true;
  }

  get isUsable(): boolean {
    return !this.session.closed && !this.session.destroyed;
  }

  /** Someone means to use this session: it stays open and keeps the process alive until `release()`. */
  retain(): void {
    this.holders++;
    this.stopIdle();
    this.session.ref();
  }

  /** A user of this session is done with it; the last one starts the idle timeout. */
  release(): void {
    this.holders--;
    if (this.holders === 0) this.startIdle();
  }

  private startIdle(): void {
    if (!this.isUsable) return;
    this.session.unref();
    this.stopIdle();
    if (this.idleTimeout === 0) {
      this.session.close();
      return;
    }
    this.idleTimer = setTimeout(() => this.session.close(), this.idleTimeout);
    this.idleTimer.unref();
  }

  private stopIdle(): void {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }
}

/** TLS objects (a `ca` Buffer, say) identify a session by their identity, not their contents. */
const objectIds = new WeakMap<object, number>();
let nextObjectId = 1;

function identityOf(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value !== 'object' || value === null) return String(value);
  let id = objectIds.get(value);
  if (id === undefined) {
    id = nextObjectId++;
    objectIds.set(value, id);
  }
  return `#${id}`;
}

/**
 * HTTP/2 sessions shared by client WebSockets: one per origin and TLS configuration, opened on first use,
 * replaced after GOAWAY or an error, and closed after `idleTimeout` without WebSockets.
 *
 * @example
 * ```ts
 * const pool = new Http2SessionPool({ idleTimeout: 30_000 });
 * const [a, b] = await Promise.all([
 *   connectHttp2('wss://example.com/a', { sessionPool: pool }),
 *   connectHttp2('wss://example.com/b', { sessionPool: pool }), // the same TLS connection
 * ]);
 * ```
 */
export class Http2SessionPool {
  private readonly sessions = new Map<string, PooledSession>();
  private readonly everyPooled = new Set<PooledSession>();
  private readonly idleTimeout: number;

  constructor(options: Http2SessionPoolOptions = {}) {
    const idleTimeout = options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT;
    if (!Number.isFinite(idleTimeout) || idleTimeout < 0) {
      throw new RangeError(`idleTimeout is a number of milliseconds >= 0, not ${idleTimeout}`);
    }
    this.idleTimeout = idleTimeout;
  }

  /** Sessions open or opening. */
  get size(): number {
    return this.everyPooled.size;
  }

  /**
   * @internal The session for `url`'s origin once its server's SETTINGS are in: the pooled one, or a new
   * one, retained for the caller, who must `release()` it when done. Rejects if the session cannot be set
   * up (the server does not speak HTTP/2, say).
   */
  async acquire(url: URL, options: ClientOptions): Promise<PooledSession> {
    const key = sessionKeyOf(url, options);
    let pooled = this.sessions.get(key);
    if (pooled === undefined || !pooled.isUsable) {
      pooled = this.open(url, options, key);
    }
    pooled.retain();
    try {
      await pooled.ready;
    } catch (error) {
      pooled.release();
      throw error;
    }
    return pooled;
  }

  /**
   * Closes every session: no new stream starts on them (GOAWAY), and the promise resolves once the
   * WebSockets still on them have closed and the sessions are gone.
   */
  async close(): Promise<void> {
    const closing = [...this.everyPooled].map((pooled) => {
      const session = pooled.session;
      if (session.destroyed) return Promise.resolve();
      return new Promise<void>((resolve) => {
        session.once('close', () => resolve());
        session.close();
      });
    });
    this.sessions.clear();
    await Promise.all(closing);
  }

  /** Destroys every session at once: their WebSockets end with 1006. */
  destroy(): void {
    for (const pooled of this.everyPooled) pooled.session.destroy();
    this.sessions.clear();
  }

  private open(url: URL, options: ClientOptions, key: string): PooledSession {
    const isSecure = url.protocol === 'wss:';
    const origin = `${isSecure ? 'https:' : 'http:'}//${url.host}`;
    const session = http2.connect(origin, {
      // RFC 9113 §8.4: a WebSocket client has no use for server push.
      settings: { enablePush: false },
      ...(isSecure ? tlsOptionsOf(options) : {}),
    });
    const forget = (): void => {
      if (this.sessions.get(key) === pooled) this.sessions.delete(key);
    };
    const pooled: PooledSession = new PooledSession(
      session,
      this.idleTimeout,
      options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT,
      forget,
    );
    session.once('close', () => this.everyPooled.delete(pooled));
    this.sessions.set(key, pooled);
    this.everyPooled.add(pooled);
    return pooled;
  }
}

/** The pool of the process, used when options name none. */
export const defaultHttp2SessionPool = new Http2SessionPool();

function sessionKeyOf(url: URL, options: ClientOptions): string {
  const parts = [url.protocol, url.host];
  if (url.protocol === 'wss:') {
    parts.push(identityOf(options.ca), String(options.rejectUnauthorized ?? true), options.servername ?? '');
  }
  return parts.join(' ');
}

function tlsOptionsOf(options: ClientOptions): tls.ConnectionOptions {
  return {
    ...(options.servername === undefined ? {} : { servername: options.servername }),
    ...(options.ca === undefined ? {} : { ca: options.ca }),
    ...(options.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: options.rejectUnauthorized }),
  };
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

/**
 * Opens a client WebSocket as a stream of an HTTP/2 session (RFC 8441) and resolves once it is open.
 * WebSockets to one origin share one session (see {@link Http2SessionPool}). Waits for the server's SETTINGS
 * and rejects with an {@link Http2UnsupportedError} when the server does not speak HTTP/2 or does not
 * advertise extended CONNECT; with the server's `HandshakeError` when it refuses the WebSocket; with an Error
 * whose `cause` says why on a network failure or a handshake timeout.
 *
 * @example
 * ```ts
 * const socket = await connectHttp2('wss://example.com/feed', { protocols: ['v2'] });
 * socket.send('hello');
 * ```
 */
export function connectHttp2(url: string | URL, options: Http2ClientOptions = {}): Promise<WebSocket> {
  // A client transport: the WebSocket starts CONNECTING and fires 'open' as `new WebSocket(url)` does,
  // and holds the frames behind the response until this promise's awaiter has run.
  return whenOpen(() => {
    validateClientOptions(options);
    return new WebSocket(new Http2ClientTransport(parseWebSocketUrl(url), options));
  }, describeFailure);
}

/**
 * Opens a client WebSocket over HTTP/2 or HTTP/1.1 as `options.http2` says (default `'off'`): `'prefer'`
 * uses a session's extended CONNECT when the server advertises it and otherwise the HTTP/1.1 upgrade;
 * `'require'` rejects with an {@link Http2UnsupportedError} instead. `socket.httpProtocol` says which
 * was used. Behind a `proxy`, HTTP/1.1 is used ('require' throws a TypeError).
 *
 * @example
 * ```ts
 * const socket = await connectAny('wss://example.com/chat', { http2: 'prefer' });
 * console.log(socket.httpProtocol); // 'h2', or 'http/1.1' from a server without RFC 8441
 * ```
 */
export async function connectAny(url: string | URL, options: Http2ClientOptions = {}): Promise<WebSocket> {
  validateClientOptions(options);
  const mode = options.http2 ?? 'off';
  if (mode !== 'off' && mode !== 'prefer' && mode !== 'require') {
    throw new TypeError(`http2 is 'prefer', 'require' or 'off', not ${JSON.stringify(mode)}`);
  }
  const { http2: _mode, sessionPool, ...http1Options } = options;
  if (mode === 'off' || (mode === 'prefer' && options.proxy !== undefined)) return connect(url, http1Options);
  const parsed = parseWebSocketUrl(url);
  if (mode === 'require') return connectHttp2(parsed, options);
  let pooled: PooledSession;
  try {
    pooled = await (sessionPool ?? defaultHttp2SessionPool).acquire(parsed, options);
  } catch {
    // No HTTP/2 there (an HTTP/1.1-only server answers the preface with an error): upgrade instead.
    return connect(parsed, http1Options);
  }
  if (!pooled.supportsExtendedConnect) {
    pooled.release();
    return connect(parsed, http1Options);
  }
  // The WebSocket's transport retains the session as it starts; only then is this hold let go.
  const opening = connectHttp2(parsed, options);
  pooled.release();
  return opening;
}

function describeFailure(failure: unknown, url: string): Error {
  if (failure instanceof HandshakeError || failure instanceof Http2UnsupportedError) return failure;
  if (failure instanceof Error) {
    const hint = certificateHint(failure);
    return new Error(`Could not open a WebSocket to ${url}: ${failure.message}${hint}`, { cause: failure });
  }
  return new Error(`Could not open a WebSocket to ${url}: the stream closed during the handshake`);
}
