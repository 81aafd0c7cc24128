// Owns the server side of the RFC 8441 handshake: an extended CONNECT checked and answered with :status 200,
// subprotocols and extensions negotiated as over HTTP/1.1, then the same protocol driver on the stream.

import { HandshakeError } from '../protocol/errors.js';
import {
  buildExtendedConnectRejection,
  buildExtendedConnectResponse,
  type Http2HeaderBlock,
  type Http2HeaderMap,
  validateExtendedConnect,
} from '../protocol/extended-connect.js';
import { Driver, type DriverOptions } from './driver.js';

/**
 * How the driver answers: the adapter sends `headers` as the stream's HEADERS frame and, when `body` is
 * given (a refusal), writes it and ends the stream. Called once, before any WebSocket frame is written.
 */
export type Http2Respond = (headers: Http2HeaderBlock, body: Buffer | undefined) => void;

function stringOf(value: string | string[] | number | undefined): string {
  return typeof value === 'string' ? value : '';
}

/**
 * The server end of a WebSocket carried by one HTTP/2 stream (RFC 8441). Built from the request's header
 * block and a `respond` function; `start()` validates, negotiates and responds, then the driver is open
 * and reads and writes WebSocket frames through `io` like any other.
 *
 * @example
 * ```ts
 * http2Server.on('stream', (stream, headers) => {
 *   const driver = new Http2ServerDriver(headers, (block, body) => {
 *     stream.respond(block, { endStream: false });
 *     if (body !== undefined) stream.end(body);
 *   });
 *   linkSocket(driver, stream);
 *   driver.start();
 * });
 * ```
 */
export class Http2ServerDriver extends Driver {
  /** Always 'CONNECT' for a request that reached the handshake. */
  readonly method: string;
  private readonly requestHeaders: Http2HeaderMap;
  private readonly respond: Http2Respond;
  private hasResponded = false;

  constructor(headers: Http2HeaderMap, respond: Http2Respond, options: DriverOptions = {}) {
    super('server', urlOf(headers), { requireMasking: true, ...options });
    this.respond = respond;
    this.method = stringOf(headers[':method']);
    const copy: Record<string, string | string[] | undefined> = {};
    for (const [name, value] of Object.entries(headers)) {
      copy[name] = typeof value === 'number' ? String(value) : value;
    }
    this.headers = copy;
    this.requestHeaders = headers;
  }

  /** Validates the request and responds :status 200 (or the HTTP error, and then fails). */
  start(): boolean {
    if (this.readyState !== 0 || this.hasResponded) return false;
    const check = validateExtendedConnect(this.requestHeaders);
    if (!check.ok) return this.reject(check.error);
    const agreed = this.negotiateAsServer(check.offeredProtocols, check.extensionHeader);
    if (agreed instanceof HandshakeError) return this.reject(agreed);
    const { protocol, extensionHeader } = agreed;
    this.hasResponded = true;
    // RFC 8441 §5: a 200 accepts; from here the stream is what the TCP connection was to RFC 6455.
    this.respond(
      buildExtendedConnectResponse({ protocol, extensionHeader, headers: this.customHeaders ?? {} }),
      undefined,
    );
    this.open();
    return true;
  }

  /**
   * Refuses the handshake with an HTTP status of the application's choosing (e.g. 403 from an authorization
   * check) before `start()`. Emits 'error' and 'close' as any failed handshake does.
   */
  refuse(error: HandshakeError): boolean {
    if (this.readyState !== 0 || this.hasResponded) return false;
    this.reject(error);
    return true;
  }

  protected receiveHandshakeBytes(chunk: Buffer): void {
    // DATA the client sent right after its HEADERS: frames that wait for open().
    this.holdInput(chunk);
  }

  private reject(error: HandshakeError): false {
    this.hasResponded = true;
    const rejection = buildExtendedConnectRejection(error);
    this.respond(rejection.headers, rejection.body);
    return this.failHandshake(error);
  }
}

/** The WebSocket URI the request names: ws: or wss: by its :scheme (RFC 8441 §5), then authority and path. */
function urlOf(headers: Http2HeaderMap): string {
  const scheme = headers[':scheme'] === 'https' ? 'wss:' : 'ws:';
  return `${scheme}//${stringOf(headers[':authority'])}${stringOf(headers[':path']) || '/'}`;
}
