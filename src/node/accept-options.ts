// Owns the options of accepting one WebSocket connection (acceptUpgrade, acceptSocket, WebSocketServer,
// HTTP/2 hosting) and the request and verdict types of their `verifyRequest` hook.

import type { Socket } from 'node:net';
import type { PerMessageDeflateOptions } from '../extensions/permessage-deflate.js';
import type { HeartbeatOptions } from './heartbeat.js';

/** The request a `verifyRequest` hook sees: node:http's IncomingMessage, or for `acceptSocket` its parsed head. */
export interface UpgradeRequestInfo {
  readonly method?: string | undefined;
  /** The request target: path and query. */
  readonly url?: string | undefined;
  /** By lowercase name. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly socket: Socket;
}

/** How `verifyRequest` refuses with a status of its choosing. */
export interface VerifyRejection {
  /** The HTTP status, 400-599. */
  status: number;
  /**
   * Extra response headers (not Content-Length or Connection, which hybi sets). A name that is not a
   * token or a value with CR, LF or NUL is never written: the refusal goes out without these headers
   * and the mistake is reported ('error' on a WebSocketServer).
   */
  headers?: Readonly<Record<string, string>>;
  /** The plain-text body; the status's reason phrase when absent. */
  reason?: string;
}

/** `true` accepts; `false` refuses with 403; a {@link VerifyRejection} refuses as it says. */
export type VerifyResult = boolean | VerifyRejection;

/** Options of {@link acceptUpgrade} and {@link acceptSocket}. */
export interface AcceptOptions {
  /** Subprotocols the server supports, in preference order; the first the client offered is chosen. */
  protocols?: string | readonly string[];
  /**
   * Accept permessage-deflate (RFC 7692) when offered: `true`, its options, or `false` (the default).
   * Off by default on servers: each compressing connection holds zlib state and costs CPU per message,
   * which a server multiplies by its connections; turn it on where bandwidth is the scarcer resource.
   * Inflated messages are bounded by `maxLength` too: a decompression bomb fails with 1009.
   */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /** Largest message accepted, in bytes (default 64 MiB - 1); larger ones close the connection with 1009. */
  maxLength?: number;
  /**
   * Most frames one message may have (default 131,072: twice the 65,536 of Autobahn's 9.x cases); more
   * close the connection with 1009. Bounds the work a peer can cause with tiny fragments.
   */
  maxFragments?: number;
  /** Milliseconds to wait for the closing handshake and the client's FIN (default 5000); then 1006. */
  closeTimeout?: number;
  /**
   * Milliseconds the opening handshake may take, default 10000 (0: unbounded). `acceptSocket`: from
   * the first byte to the 101, request head and `verifyRequest` included; a slow head gets 408, a slow
   * hook 503. `acceptUpgrade` (node:http read the head already): bounds `verifyRequest`, answering 503.
   * `WebSocketServer` also sets its own http server's `headersTimeout` and `requestTimeout` to it.
   */
  handshakeTimeout?: number;
  /**
   * Ping every `interval` ms; a connection whose pong does not come within `timeout` ms is destroyed
   * (its 'error' says why, then close 1006). Default on, `{ interval: 30_000, timeout: 30_000 }`: a
   * server holds memory for every connection, and a peer that vanished without a FIN (power loss, NAT
   * expiry) would otherwise hold it until TCP keepalive gives up, two hours later. `false` turns it off.
   * The deadline waits while the application has paused reading; the pongs reach 'pong' listeners too.
   */
  heartbeat?: HeartbeatOptions | false;
  /**
   * Browser origins allowed to open a WebSocket, e.g. `['https://app.example.com']`: compared exactly
   * after normalization (lowercase, default port dropped). A request with another Origin, `null`, or
   * none is refused with 403 before `verifyRequest` runs. The defence against cross-site WebSocket
   * hijacking: see docs/security.md. Default: every origin (no check).
   */
  origins?: readonly string[];
  /** Extra headers on the 101 response (names are tokens; values may not contain CR, LF or NUL). */
  headers?: Readonly<Record<string, string>>;
  /**
   * Decides whether to accept a valid upgrade request, before anything is answered. Return (or resolve)
   * `true` to accept, `false` to refuse with 403, or `{ status, headers?, reason? }` (401 with
   * `WWW-Authenticate`, for instance). A hook that throws refuses with 500; one that does not settle
   * within `handshakeTimeout` refuses with 503; both are reported ('error' on a WebSocketServer).
   */
  verifyRequest?: (request: UpgradeRequestInfo) => VerifyResult | Promise<VerifyResult>;
  /** acceptSocket: the largest request head accepted, in bytes (default 16 KiB; larger gets 431). */
  maxHeadSize?: number;
}
