// Owns the options of a client connection, `connect()`'s and `new WebSocket(url, protocols, options)`'s,
// and the check that names a mistyped one.

import type tls from 'node:tls';
import { validateOptions } from '../driver/index.js';
import type { PerMessageDeflateOptions } from '../extensions/permessage-deflate.js';
import type { HeartbeatOptions } from './heartbeat.js';
import type { Http2SessionPool } from './http2-session-pool.js';

/**
 * Which HTTP a client opens its WebSocket with: `'prefer'` tries HTTP/2 and falls back to the HTTP/1.1
 * upgrade when the server does not speak HTTP/2 or does not advertise extended CONNECT; `'require'` fails
 * instead; `'off'` never tries HTTP/2.
 */
export type Http2Mode = 'prefer' | 'require' | 'off';

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

declare module '../websocket-transport.js' {
  /**
   * `new WebSocket(url, protocols, options)` takes the options of `connect()`. Declared here, by the
   * floor that dials, so that the WebSocket face names no transport (its own file imports nothing above it).
   */
  interface WebSocketOptions extends ClientOptions {}
}
