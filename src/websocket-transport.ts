// Owns what the WebSocket face asks of the floors below and above it: the transport that moves a
// connection's bytes, and the dialer that opens one for `new WebSocket(url)`, which the Node floor
// registers (the face names no socket, TLS or HTTP/2 module, so nothing imports in a circle).

import type { EventEmitter } from 'node:events';
import type { Driver } from './driver/driver.js';
import type { Session } from './session/session.js';

/** How the final close of a transport is reported: the WebSocket's close event, before wrapping. */
export interface TransportCloseEvent {
  /** The close code of the closing handshake, or 1006 when it did not complete (RFC 6455 §7.1.5). */
  code: number;
  reason: string;
  /** Whether both close frames were exchanged without a failure or a transport error. */
  wasClean: boolean;
}

/** Events a transport reports to the WebSocket on top of it. */
export interface TransportEvents {
  /** The transport is gone (TCP closed): reported once, last. */
  close: [TransportCloseEvent];
  /** The transport's write buffer was full and has drained. */
  drain: [];
}

/** Which HTTP carried a WebSocket's handshake: ALPN names (RFC 7301; `h2c` is HTTP/2 without TLS). */
export type HttpProtocol = 'http/1.1' | 'h2' | 'h2c';

/**
 * What a {@link WebSocket} needs from whatever moves its bytes: the driver (already wired to the bytes),
 * how many bytes wait to be written, a way to abort, and the final close. Errors come through the driver's
 * 'error' event. `SocketLink` (node:net, node:tls) is one; `Http2StreamLink` (an HTTP/2 stream) another.
 */
export interface WebSocketTransport extends Pick<EventEmitter<TransportEvents>, 'on' | 'off'> {
  readonly driver: Driver;
  /**
   * Whether the driver is a client's, still in its opening handshake: the WebSocket then starts
   * CONNECTING, fires 'open' and reports the server's Sec-WebSocket-Extensions, as `new WebSocket(url)`
   * does. Default false: a server hands its WebSocket out already open.
   */
  readonly isClientSide?: boolean;
  /** The HTTP/2 session kind when the WebSocket runs on an HTTP/2 stream (RFC 8441); absent for HTTP/1.1. */
  readonly httpProtocol?: 'h2' | 'h2c';
  /** Bytes written to the transport and not yet handed to the network. */
  readonly bufferedAmount: number;
  /**
   * Whether the transport's write buffer is past its high-water mark; when it was, a 'drain' follows.
   * Optional: without it, a WebSocket compares `bufferedAmount` with 16 KiB and promises no 'drain'.
   */
  readonly isWriteBufferFull?: boolean;
  /** Ends the connection without a closing handshake; `error`, if given, is reported first. */
  destroy(error?: Error): void;
}

/**
 * What a {@link SessionTransport} reports to the WebSocket on top: the session's opening, messages,
 * pings, pongs, a failure ('error', the first one is the one the WebSocket keeps), the session's close
 * ('closed'), a write buffer that drained ('drain'), and the transport's end ('close', with its
 * {@link TransportCloseEvent}, once, last).
 */
export type TransportReport = 'open' | 'message' | 'ping' | 'pong' | 'error' | 'closed' | 'drain' | 'close';

/** How a transport reports: one function shared by every WebSocket, given the one it reports to. */
export type TransportReceiver = (owner: object, kind: TransportReport, value: unknown) => void;

/**
 * A transport that carries a {@link Session} itself, without a Driver: what hybi's servers hand their
 * WebSockets (`SessionLink`). The WebSocket drives the session directly and hears from the transport
 * through `attach`; the transport writes what the session makes and feeds it what it reads.
 */
export interface SessionTransport {
  readonly session: Session;
  /** The WebSocket URL, absolute (`ws://host/path`). */
  readonly url: string;
  /** As {@link WebSocketTransport.isClientSide}. */
  readonly isClientSide?: boolean;
  /** The HTTP/2 session kind when the WebSocket runs on an HTTP/2 stream (RFC 8441); absent for HTTP/1.1. */
  readonly httpProtocol?: 'h2' | 'h2c' | undefined;
  /** Bytes written to the transport and not yet handed to the network, messages being compressed included. */
  readonly bufferedAmount: number;
  /** Whether the transport's write buffer is past its high-water mark; when it was, a 'drain' follows. */
  readonly isWriteBufferFull: boolean;
  /** Where reports go: the WebSocket calls this once, in its constructor. */
  attach(owner: object, receiver: TransportReceiver): void;
  /** Reports `error` as the connection's failure (its close will not be clean), without ending it. */
  fail(error: Error): void;
  /** Ends the connection without a closing handshake; `error`, if given, is reported first. */
  destroy(error?: Error): void;
}

/**
 * Options of `new WebSocket(url, protocols, options)`. The face reads only these two; the dialer's floor
 * declares the rest by merging into this interface (src/node/client-options.ts adds every `connect()`
 * option), so the type users see is complete while this file names nothing above it.
 */
export interface WebSocketOptions {
  /** Subprotocols to offer, most preferred first. */
  protocols?: string | readonly string[];
  /** `'require'` opens the WebSocket on an HTTP/2 stream (RFC 8441); `'off'` (the default) upgrades HTTP/1.1. */
  http2?: 'prefer' | 'require' | 'off';
}

/** What opens the transport of `new WebSocket(url, protocols, options)`. */
export interface WebSocketDialer {
  /** Throws a TypeError for an option the dialer does not know (before anything else is checked). */
  validate(options: WebSocketOptions): void;
  /**
   * The transport of a new client connection to `url`, dialing already, with `isClientSide` set.
   * `options.http2` is `'require'` or `'off'` here. Throws a TypeError for a bad URL or option.
   */
  open(url: string | URL, options: WebSocketOptions): WebSocketTransport | SessionTransport;
}

let registeredDialer: WebSocketDialer | undefined;

/** @internal Makes `dialer` the one `new WebSocket(url)` uses; the Node floor registers its own on load. */
export function registerWebSocketDialer(dialer: WebSocketDialer): void {
  registeredDialer = dialer;
}

/** @internal The dialer of `new WebSocket(url)`; throws when none was registered. */
export function webSocketDialer(): WebSocketDialer {
  if (registeredDialer === undefined) {
    throw new Error(
      "new WebSocket(url) has no dialer: import WebSocket from 'hybi', whose Node entry registers one",
    );
  }
  return registeredDialer;
}
