// Owns the entry points that resolve with an open client WebSocket: `connect()` (HTTP/1.1, or as
// `options.http2` says), `connectHttp2()` (RFC 8441) and `connectAny()`, which picks between the two.

import { parseWebSocketUrl } from '../driver/client.js';
import { HandshakeError } from '../protocol/errors.js';
import { WebSocket } from '../websocket.js';
import { certificateHint } from './certificate-hint.js';
import { type ClientOptions, validateClientOptions } from './client-options.js';
// `new WebSocket(url)` below dials through the Node dialer, registered when dialer.ts loads.
import './dialer.js';
import { type Http2ClientOptions, Http2UnsupportedError, openHttp2ClientTransport } from './http2-client.js';
import { defaultHttp2SessionPool, type PooledSession } from './http2-session-pool.js';
import { whenOpen } from './when-open.js';

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
    return new WebSocket(openHttp2ClientTransport(url, options));
  }, describeHttp2Failure);
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

function describeHttp2Failure(failure: unknown, url: string): Error {
  if (failure instanceof HandshakeError || failure instanceof Http2UnsupportedError) return failure;
  if (failure instanceof Error) {
    const hint = certificateHint(failure);
    return new Error(`Could not open a WebSocket to ${url}: ${failure.message}${hint}`, { cause: failure });
  }
  return new Error(`Could not open a WebSocket to ${url}: the stream closed during the handshake`);
}
