// Owns the link between a driver and one HTTP/2 stream (RFC 8441 §5): the stream carried as the socket link
// carries a TCP connection, and aborted with RST_STREAM(CANCEL) rather than by destroying anything shared.

import { EventEmitter } from 'node:events';
import http2, { type Http2Stream } from 'node:http2';
import type { Driver } from '../driver/driver.js';
import type { TransportEvents, WebSocketTransport } from '../websocket.js';
import { linkSocket, type SocketLink, type SocketLinkOptions } from './socket-link.js';

/**
 * A driver linked to one HTTP/2 stream: the stream is what the TCP connection is to RFC 6455 (RFC 8441 §5),
 * so the socket link carries it unchanged: END_STREAM is the orderly close, and a reset from the peer
 * (RST_STREAM) or the session going away ends the connection with 1006. Aborting from this side (a close
 * timeout, a heartbeat that expired, `destroy()`) resets the stream with CANCEL, as RFC 8441 §5 says; the
 * session's other streams go on.
 *
 * @example
 * ```ts
 * server.on('stream', (stream, headers) => {
 *   const driver = new Http2ServerDriver(headers, (answer) => stream.respond(answer, { endStream: false }));
 *   const link = new Http2StreamLink(driver, stream, { closeTimeout: 5000 });
 *   const socket = new WebSocket(link);
 *   driver.start();
 * });
 * ```
 */
export class Http2StreamLink extends EventEmitter<TransportEvents> implements WebSocketTransport {
  readonly driver: Driver;
  readonly stream: Http2Stream;
  /** HTTP/2 over TLS ('h2') or cleartext ('h2c'); read at the start, while the stream has its session. */
  readonly httpProtocol: 'h2' | 'h2c';
  private readonly link: SocketLink;

  constructor(driver: Driver, stream: Http2Stream, options: SocketLinkOptions = {}) {
    super();
    this.driver = driver;
    this.stream = stream;
    this.httpProtocol = httpProtocolOfStream(stream);
    // RFC 8441 §5: a WebSocket over HTTP/2 is aborted by resetting its stream, never its session.
    this.link = linkSocket(driver, stream, { ...options, abort: () => resetStream(stream) });
    this.link.on('drain', () => this.emit('drain'));
    this.link.on('close', (event) => this.emit('close', event));
  }

  /** Bytes written to the stream and not yet taken by the session (the peer's window holds them back). */
  get bufferedAmount(): number {
    return this.link.bufferedAmount;
  }

  /** Whether the stream's write buffer is past its high-water mark ('drain' follows). */
  get isWriteBufferFull(): boolean {
    return this.link.isWriteBufferFull;
  }

  /** Resets the stream with CANCEL; `error`, if given, is reported through the driver's 'error' first. */
  destroy(error?: Error): void {
    this.link.destroy(error);
  }
}

/** RFC 8441 §5: an abort is RST_STREAM with CANCEL. A closed stream stays as it is. */
export function resetStream(stream: Http2Stream): void {
  if (!stream.closed && !stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
}

/** The ALPN name of the session a stream belongs to (node names a cleartext session 'h2c'). */
function httpProtocolOfStream(stream: Http2Stream): 'h2' | 'h2c' {
  return stream.session?.alpnProtocol === 'h2' ? 'h2' : 'h2c';
}
