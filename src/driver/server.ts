// Owns the server side of the opening handshake, for an upgrade request node:http already parsed
// (`http()`) and for a raw socket whose request head hybi parses itself (`server()`).

import { HandshakeError } from '../protocol/errors.js';
import {
  buildRejectionResponse,
  buildServerResponse,
  parseOfferedSubprotocols,
  requestTargetParts,
  selectSubprotocol,
  type UpgradeRequest,
  validateClientRequest,
} from '../protocol/handshake.js';
import { HttpHeadParser } from '../protocol/http-head.js';
import { Driver, type DriverOptions } from './driver.js';

/**
 * A request as node:http gives it to an 'upgrade' listener (only what the handshake reads).
 * `socket` and `connection` are `unknown` so that node's IncomingMessage fits as it is.
 */
export interface ServerRequest extends UpgradeRequest {
  socket?: unknown;
  connection?: unknown;
}

const EMPTY_BODY = Buffer.alloc(0);

/** The client's subprotocol offer, or none when it is malformed (start() then refuses the request). */
function offeredSubprotocols(request: ServerRequest): string[] {
  try {
    return parseOfferedSubprotocols(request.headers['sec-websocket-protocol']);
  } catch (error) {
    if (error instanceof HandshakeError) return [];
    throw error;
  }
}

function isEncryptedSocket(socket: unknown): boolean {
  if (typeof socket !== 'object' || socket === null) return false;
  const candidate = socket as { encrypted?: unknown; authorized?: unknown };
  return candidate.encrypted === true || candidate.authorized !== undefined;
}

/**
 * Whether the request arrived over TLS, directly or (as proxies say) by a forwarded header.
 * Same rules as websocket-driver's `isSecureRequest`.
 */
export function isSecureRequest(request: ServerRequest): boolean {
  if (isEncryptedSocket(request.socket) || isEncryptedSocket(request.connection)) return true;
  const headers = request.headers;
  return (
    headers.https === 'on' ||
    headers['x-forwarded-ssl'] === 'on' ||
    headers['x-forwarded-scheme'] === 'https' ||
    headers['x-forwarded-proto'] === 'https'
  );
}

/** The WebSocket URL a request asks for (`ws://host/path?query`, `wss:` over TLS): Host and the target. */
export function webSocketUrlOf(request: ServerRequest): string {
  const host = request.headers.host;
  // RFC 9112 §3.2.2: an absolute-form target names the host itself, and that wins over Host.
  const target = requestTargetParts(request.url ?? '/');
  const authority = target.authority ?? (typeof host === 'string' ? host : '');
  return `${isSecureRequest(request) ? 'wss:' : 'ws:'}//${authority}${target.path}${target.query}`;
}

/**
 * The server end of a WebSocket. Made by `http(request)` when node:http parsed the request, or by
 * `server()` for a raw socket: then it parses the request head itself, emits 'connect', and waits for
 * `start()`.
 */
export class ServerDriver extends Driver {
  /** The request line and headers, once known. */
  method = '';
  /**
   * `server()` only: the bytes that came after the request head in the same read (frames a client sent
   * eagerly), a copy, as websocket-driver's `body`; empty when none did. `undefined` for `http()`.
   */
  body: Buffer | undefined;
  private request: ServerRequest | undefined;
  private readonly headParser: HttpHeadParser<'request'> | undefined;
  private isStartRequested = false;
  /** `server()` only: the URL rebuilt from Host and the target, for `absoluteUrl`. */
  private rawModeUrl: string | undefined;
  /** The request head is known (given by node:http, or parsed here); later bytes are frames. */
  private hasRequestHead = false;

  constructor(request: ServerRequest | undefined, options: DriverOptions = {}) {
    super('server', request === undefined ? '' : webSocketUrlOf(request), options);
    if (request === undefined) {
      this.headParser = new HttpHeadParser(
        'request',
        options.maxHeadSize === undefined ? {} : { maxHeadSize: options.maxHeadSize },
      );
    } else {
      this.adoptRequest(request);
    }
  }

  /** Validates the request and writes the 101 response (or the HTTP error, and then fails). */
  start(): boolean {
    if (this.readyState !== 0) return false;
    const request = this.request;
    if (request === undefined) {
      // Raw mode before the head arrived: start as soon as it has.
      this.isStartRequested = true;
      return true;
    }
    // The request is needed only for the handshake: an upgrade request (node's IncomingMessage, a
    // stream) weighs more than the rest of an idle connection; `headers`, `method` and `url` stay.
    this.request = undefined;
    const check = validateClientRequest(request);
    if (!check.ok) return this.reject(check.error);
    const agreed = this.negotiateAsServer(check.offeredProtocols, check.extensionHeader);
    if (agreed instanceof HandshakeError) return this.reject(agreed);
    const { protocol, extensionHeader } = agreed;
    this.write([
      buildServerResponse({ key: check.key, protocol, extensionHeader, headers: this.customHeaders ?? {} }),
    ]);
    this.open();
    return true;
  }

  protected receiveHandshakeBytes(chunk: Buffer): void {
    const parser = this.headParser;
    if (parser === undefined || this.hasRequestHead) {
      // http() mode, or raw mode waiting for start(): frames the client sent eagerly wait for open().
      this.holdInput(chunk);
      return;
    }
    const result = parser.push(chunk);
    if (result.state === 'incomplete') return;
    if (result.state === 'error') {
      this.reject(new HandshakeError(result.status, result.reason));
      return;
    }
    const head = result.head;
    this.adoptRequest({
      method: head.method,
      url: head.target,
      httpVersion: head.httpVersion,
      // An ordinary object, as websocket-driver's parser gives; spreading keeps a __proto__ field a field.
      headers: { ...head.headers },
    });
    // websocket-driver's server() gives the request target itself (`/chat?room=1`), not a URL: routing
    // code compares it with paths.
    this.url = head.target;
    this.rawModeUrl = webSocketUrlOf(this.request!);
    // A copy: the held bytes are unmasked in place once parsed.
    this.body = result.rest.length === 0 ? EMPTY_BODY : Buffer.from(result.rest);
    this.holdInput(result.rest);
    this.emit('connect', {});
    if (this.isStartRequested && this.readyState === 0) this.start();
  }

  private adoptRequest(request: ServerRequest): void {
    this.request = request;
    this.hasRequestHead = true;
    this.method = request.method ?? '';
    this.headers = request.headers;
    // As websocket-driver: the subprotocol is known once the request is, before start() answers it.
    this.protocol = selectSubprotocol(offeredSubprotocols(request), this.configuredProtocols);
  }

  override get absoluteUrl(): string {
    return this.rawModeUrl ?? this.url;
  }

  private reject(error: HandshakeError): false {
    this.write([buildRejectionResponse(error)]);
    return this.failHandshake(error);
  }
}
