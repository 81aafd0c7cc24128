// Owns the client side of the RFC 8441 handshake: the extended CONNECT request, the :status 200 check and
// extension activation; after it, the same protocol driver on the HTTP/2 stream.

import { ExtensionNegotiationError } from '../extensions/extensions.js';
import { HandshakeError } from '../protocol/errors.js';
import {
  buildExtendedConnectRequest,
  type Http2HeaderBlock,
  type Http2HeaderMap,
  validateExtendedConnectResponse,
} from '../protocol/extended-connect.js';
import { CloseCode } from '../protocol/opcodes.js';
import { type ClientDriverOptions, handshakeHeaders, parseWebSocketUrl } from './client.js';
import { Driver } from './driver.js';

/** How the driver sends its request: the adapter opens a stream with `headers` as its HEADERS frame. */
export type Http2Request = (headers: Http2HeaderBlock) => void;

/**
 * The client end of a WebSocket carried by one HTTP/2 stream (RFC 8441). `start()` hands the extended
 * CONNECT to `request`, which opens the stream; the adapter passes the response's header block to
 * `receiveResponse()`, and from a 200 on the driver reads and writes frames through `io`.
 *
 * @example
 * ```ts
 * let stream: ClientHttp2Stream;
 * const driver = new Http2ClientDriver('wss://example.com/chat', (headers) => {
 *   stream = session.request(headers, { endStream: false });
 * });
 * driver.start();
 * linkSocket(driver, stream!);
 * stream!.on('response', (headers) => driver.receiveResponse(headers));
 * ```
 */
export class Http2ClientDriver extends Driver {
  /** The response status (200 on success), 0 until it arrives. */
  statusCode = 0;
  private readonly parsedUrl: URL;
  private readonly request: Http2Request;
  private hasStarted = false;

  constructor(url: string | URL, request: Http2Request, options: ClientDriverOptions = {}) {
    super('client', '', { masking: true, ...options });
    this.parsedUrl = parseWebSocketUrl(url);
    this.url = this.parsedUrl.href;
    this.request = request;
    for (const [name, value] of Object.entries(options.headers ?? {})) this.setHeader(name, value);
  }

  /** Sends the extended CONNECT through `request`. */
  start(): boolean {
    if (this.readyState !== 0 || this.hasStarted) return false;
    this.hasStarted = true;
    const options = this.options as ClientDriverOptions;
    const headers = handshakeHeaders(this.customHeaders, this.parsedUrl);
    this.request(
      buildExtendedConnectRequest({
        url: this.parsedUrl,
        protocols: this.configuredProtocols,
        extensionHeader: this.extensions.generateOffer(),
        origin: options.origin,
        headers,
      }),
    );
    return true;
  }

  /**
   * The response's header block arrived: checks it, activates the extensions the server accepted and opens
   * the connection; or fails the handshake (an extension the client cannot accept fails with 1010, as RFC
   * 6455 §9.1 asks). Returns whether the connection opened.
   */
  receiveResponse(headers: Http2HeaderMap): boolean {
    if (this.readyState !== 0 || !this.hasStarted) return false;
    const status = headers[':status'];
    this.statusCode = typeof status === 'number' ? status : Number(status ?? 0);
    const copy: Record<string, string | string[] | undefined> = {};
    for (const [name, value] of Object.entries(headers)) {
      copy[name] = typeof value === 'number' ? String(value) : value;
    }
    this.headers = copy;
    const check = validateExtendedConnectResponse(headers, { protocols: this.configuredProtocols });
    if (!check.ok) return this.failHandshake(check.error);
    try {
      this.extensions.activate(check.extensionHeader);
    } catch (error) {
      if (!(error instanceof ExtensionNegotiationError)) throw error;
      return this.failHandshake(
        new HandshakeError(this.statusCode, error.message),
        CloseCode.MandatoryExtension,
      );
    }
    this.protocol = check.protocol ?? null;
    this.keepResponseExtensions();
    this.open();
    return true;
  }

  protected receiveHandshakeBytes(chunk: Buffer): void {
    // node:http2 delivers the response's HEADERS before its DATA; anything earlier waits for open().
    if (this.hasStarted) this.holdInput(chunk);
  }
}
