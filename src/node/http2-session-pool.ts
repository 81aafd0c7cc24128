// Owns the pool of HTTP/2 sessions that client WebSockets to one origin share (RFC 8441): one session per
// origin and TLS configuration, opened on first use, replaced after GOAWAY, closed when idle.

import http2, { type ClientHttp2Session } from 'node:http2';
import type tls from 'node:tls';

/**
 * @internal What a session depends on, out of a client's options (`ClientOptions` has them all): the TLS
 * configuration (part of the pool key) and how long to wait for the server's SETTINGS.
 */
export interface Http2SessionOptions {
  handshakeTimeout?: number;
  ca?: tls.ConnectionOptions['ca'];
  rejectUnauthorized?: boolean;
  servername?: string;
}

/** @internal Milliseconds for the server's SETTINGS, and for a WebSocket's whole handshake, unless options say. */
export const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;
const DEFAULT_IDLE_TIMEOUT = 5000;

/** Options of {@link Http2SessionPool}. */
export interface Http2SessionPoolOptions {
  /**
   * Milliseconds a session with no WebSocket on it stays open for the next one (default 5000; 0 closes it as
   * soon as its last WebSocket closed). An idle session never keeps the process alive.
   */
  idleTimeout?: number;
}

/** @internal One HTTP/2 session of a pool, with what its server's SETTINGS said. */
export class PooledSession {
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
  async acquire(url: URL, options: Http2SessionOptions): Promise<PooledSession> {
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

  private open(url: URL, options: Http2SessionOptions, key: string): PooledSession {
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

function sessionKeyOf(url: URL, options: Http2SessionOptions): string {
  const parts = [url.protocol, url.host];
  if (url.protocol === 'wss:') {
    parts.push(identityOf(options.ca), String(options.rejectUnauthorized ?? true), options.servername ?? '');
  }
  return parts.join(' ');
}

function tlsOptionsOf(options: Http2SessionOptions): tls.ConnectionOptions {
  return {
    ...(options.servername === undefined ? {} : { servername: options.servername }),
    ...(options.ca === undefined ? {} : { ca: options.ca }),
    ...(options.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: options.rejectUnauthorized }),
  };
}
