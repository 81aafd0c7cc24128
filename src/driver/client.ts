// Owns the client side of the opening handshake: the request, the response check, extension activation.

import { ExtensionNegotiationError } from '../extensions/extensions.js';
import { HandshakeError } from '../protocol/errors.js';
import { buildClientRequest, generateKey, validateServerResponse } from '../protocol/handshake.js';
import { HttpHeadParser } from '../protocol/http-head.js';
import { CloseCode } from '../protocol/opcodes.js';
import { Driver, type DriverOptions } from './driver.js';
import { HttpProxy, type ProxyOptions } from './proxy.js';

export interface ClientDriverOptions extends DriverOptions {
  /** Sent as the Origin header (browsers always send one; RFC 6455 §4.1 item 8). */
  origin?: string;
  /** Extra request headers. */
  headers?: Readonly<Record<string, string>>;
}

/**
 * The headers a client's handshake carries: the application's, plus Basic credentials from the URL's
 * userinfo (RFC 7617) unless the application set Authorization itself, in whatever letter case.
 */
export function handshakeHeaders(
  custom: Record<string, string> | undefined,
  url: URL,
): Record<string, string> {
  const headers: Record<string, string> = { ...custom };
  const hasAuthorization = Object.keys(headers).some((name) => name.toLowerCase() === 'authorization');
  if (url.username !== '' && !hasAuthorization) {
    const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    headers.authorization = `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`;
  }
  return headers;
}

/** Parses and checks a ws:/wss: URL (http:/https: are accepted and mapped, as browsers do). */
export function parseWebSocketUrl(url: string | URL): URL {
  let parsed: URL;
  try {
    parsed = new URL(typeof url === 'string' ? url : url.href);
  } catch (error) {
    // node:url says only "Invalid URL": name the one given, which may have come from far away (config, env).
    throw new TypeError(
      `Invalid WebSocket URL: ${JSON.stringify(String(url))} (expected ws://host[:port]/path)`,
      {
        cause: error,
      },
    );
  }
  if (parsed.protocol === 'http:') parsed.protocol = 'ws:';
  if (parsed.protocol === 'https:') parsed.protocol = 'wss:';
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') {
    throw new TypeError(`A WebSocket URL starts with ws: or wss:, not ${parsed.protocol}`);
  }
  // RFC 6455 §3: fragment identifiers are meaningless in WebSocket URIs.
  if (parsed.hash !== '') throw new TypeError('A WebSocket URL may not have a #fragment');
  return parsed;
}

/** The client end of a WebSocket: `start()` writes the request; the response is read from `parse()`. */
export class ClientDriver extends Driver {
  /** The response status (101 on success). */
  statusCode = 0;
  private readonly parsedUrl: URL;
  private readonly key = generateKey();
  private readonly headParser: HttpHeadParser<'response'>;
  private hasStarted = false;

  constructor(url: string | URL, options: ClientDriverOptions = {}) {
    super('client', '', { masking: true, ...options });
    this.parsedUrl = parseWebSocketUrl(url);
    this.url = this.parsedUrl.href;
    this.headParser = new HttpHeadParser(
      'response',
      options.maxHeadSize === undefined ? {} : { maxHeadSize: options.maxHeadSize },
    );
    for (const [name, value] of Object.entries(options.headers ?? {})) this.setHeader(name, value);
  }

  /** Writes the handshake request. */
  start(): boolean {
    if (this.readyState !== 0 || this.hasStarted) return false;
    this.hasStarted = true;
    const options = this.options as ClientDriverOptions;
    const headers = handshakeHeaders(this.customHeaders, this.parsedUrl);
    this.write([
      buildClientRequest({
        url: this.parsedUrl,
        key: this.key,
        protocols: this.configuredProtocols,
        extensionHeader: this.extensions.generateOffer(),
        origin: options.origin,
        headers,
      }),
    ]);
    return true;
  }

  /** A CONNECT tunnel through an HTTP proxy at `origin`, to pipe before this driver (websocket-driver's API). */
  proxy(origin: string, options: ProxyOptions = {}): HttpProxy {
    return new HttpProxy(this.parsedUrl, origin, options);
  }

  protected receiveHandshakeBytes(chunk: Buffer): void {
    if (!this.hasStarted) return;
    const result = this.headParser.push(chunk);
    if (result.state === 'incomplete') return;
    if (result.state === 'error') {
      this.failHandshake(new HandshakeError(0, `Invalid handshake response: ${result.reason}`));
      return;
    }
    const head = result.head;
    this.statusCode = head.statusCode;
    // An ordinary object, as websocket-driver gives (the parser's has a null prototype); spreading
    // defines every field as an own property, so a field named __proto__ stays a field.
    this.headers = { ...head.headers };
    const check = validateServerResponse(head, { key: this.key, protocols: this.configuredProtocols });
    if (!check.ok) {
      // As websocket-driver: once the server's accept value is right, protocol is null until one is agreed.
      if (check.isAccepted) this.protocol = null;
      this.failHandshake(check.error);
      return;
    }
    try {
      this.extensions.activate(check.extensionHeader);
    } catch (error) {
      if (!(error instanceof ExtensionNegotiationError)) throw error;
      // RFC 6455 §9.1: an extension the client did not offer (or cannot accept) fails the connection.
      this.protocol = null;
      this.failHandshake(new HandshakeError(head.statusCode, error.message), CloseCode.MandatoryExtension);
      return;
    }
    this.protocol = check.protocol ?? null;
    this.keepResponseExtensions();
    this.holdInput(result.rest);
    this.open();
  }
}
