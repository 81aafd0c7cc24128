// Owns the error values of the protocol: a peer's violation carries the close code or HTTP status to answer with.

/**
 * A violation of RFC 6455 / RFC 7692 by the peer, detected after the handshake.
 * The connection fails with `closeCode` (1002, 1007, 1009, ...).
 */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly closeCode: number;

  constructor(closeCode: number, message: string) {
    super(message);
    this.closeCode = closeCode;
  }
}

/**
 * A handshake that cannot go on. On the server side `status` is the HTTP status to answer with
 * (400, 403, 426, 431, ...) and `headers` are extra response headers (426 carries
 * `Sec-WebSocket-Version: 13`). On the client side `status` is the status the server answered with,
 * or 0 when the response could not be read at all.
 */
export class HandshakeError extends Error {
  override readonly name = 'HandshakeError';
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, message: string, headers: Readonly<Record<string, string>> = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}
