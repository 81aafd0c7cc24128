// Owns the opening handshake of RFC 6455 §4, both sides: checking and answering requests, writing and checking them.

import { createHash, randomBytes } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { HandshakeError } from './errors.js';
import { isToken } from './http-head.js';

/** RFC 6455 §1.3: the GUID appended to Sec-WebSocket-Key before hashing it into Sec-WebSocket-Accept. */
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** The only protocol version RFC 6455 defines (§4.1, §11.6). */
const WEBSOCKET_VERSION = '13';

/** Custom headers for the builders: one value, or several written as repeated header lines. */
type ExtraHeaders = Readonly<Record<string, string | readonly string[]>>;

/**
 * The Sec-WebSocket-Accept value for a Sec-WebSocket-Key: base64 of the SHA-1 of the key followed by
 * {@link WEBSOCKET_GUID} (RFC 6455 §4.2.2, step 5.4).
 *
 * @example
 * ```ts
 * computeAcceptKey('dGhlIHNhbXBsZSBub25jZQ=='); // 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=' (RFC 6455 §1.3)
 * ```
 */
export function computeAcceptKey(key: string): string {
  // latin1 hashes the header's own octets, which is how node hands header values over.
  return createHash('sha1')
    .update(key + WEBSOCKET_GUID, 'latin1')
    .digest('base64');
}

/**
 * A fresh Sec-WebSocket-Key: 16 random bytes, base64 (RFC 6455 §4.1, item 7).
 *
 * @example
 * ```ts
 * const key = generateKey(); // e.g. 'x3JJHMbDL1EzLkh9GBhXDw=='
 * ```
 */
export function generateKey(): string {
  return randomBytes(16).toString('base64');
}

/**
 * Splits a comma-separated header value (RFC 9110 §5.6.1 `#token`) into its elements: each trimmed of
 * SP / HTAB, empty elements dropped, case kept. Whether each element is a token is left to the caller.
 *
 * @example
 * ```ts
 * parseTokenList('keep-alive, Upgrade'); // ['keep-alive', 'Upgrade']
 * ```
 */
export function parseTokenList(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  const text = Array.isArray(value) ? value.join(',') : value;
  const elements: string[] = [];
  for (const element of text.split(',')) {
    const trimmed = element.replace(/^[ \t]+|[ \t]+$/g, '');
    if (trimmed.length > 0) elements.push(trimmed);
  }
  return elements;
}

/**
 * A request target in origin form (`/chat?room=1`). RFC 9112 §3.2.2: a server MUST accept the
 * absolute form (`http://example.com/chat?room=1`) too, which a client sends through a proxy; its path
 * and query are what the origin form would have been, and `authority` the host it names (which then
 * wins over the Host header). Anything else (`*`, authority form) is kept as it is.
 *
 * @example requestTargetParts('http://example.com/chat?x') // { path: '/chat', query: '?x', authority: 'example.com' }
 */
export function requestTargetParts(target: string): {
  path: string;
  query: string;
  authority: string | undefined;
} {
  let originForm = target;
  let authority: string | undefined;
  // An absolute-URI starts with a scheme: a letter, then letters, digits, + - . and a colon (RFC 3986 §3.1).
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(target)) {
    try {
      const url = new URL(target);
      originForm = `${url.pathname || '/'}${url.search}`;
      authority = url.host;
    } catch {
      // Not a URL after all: left as it came, and matched as it is.
    }
  }
  const queryStart = originForm.indexOf('?');
  return queryStart === -1
    ? { path: originForm, query: '', authority }
    : { path: originForm.slice(0, queryStart), query: originForm.slice(queryStart), authority };
}

/**
 * The parts of an upgrade request the server checks (`url` is carried for callers, not read here).
 * node's `IncomingMessage` fits as it is (it types `method` and `url` as possibly undefined; a missing
 * method fails the check); an `HttpRequestHead` fits once its `target` is given as `url`.
 */
export interface UpgradeRequest {
  method?: string | undefined;
  /** `major.minor`, e.g. `'1.1'`. */
  httpVersion: string;
  url?: string | undefined;
  /** By lowercase name. */
  headers: Record<string, string | string[] | undefined>;
}

/** The outcome of {@link validateClientRequest}. */
export type ClientRequestCheck =
  | {
      ok: true;
      key: string;
      offeredProtocols: string[];
      extensionHeader: string | undefined;
      origin: string | undefined;
    }
  | { ok: false; error: HandshakeError };

/**
 * Checks a client's opening handshake as RFC 6455 §4.2.1 asks of a server. On failure `error.status` is
 * what to answer with: 405 (with `Allow: GET`) for another method, 426 (with `Sec-WebSocket-Version: 13`)
 * for another or missing version (§4.4), 400 for everything else. Extensions are not checked here; the
 * extension layer reads `extensionHeader`.
 *
 * @example
 * ```ts
 * const check = validateClientRequest(request);
 * if (!check.ok) socket.end(buildRejectionResponse(check.error));
 * else socket.write(buildServerResponse({ key: check.key }));
 * ```
 */
export function validateClientRequest(request: UpgradeRequest): ClientRequestCheck {
  try {
    return checkClientRequest(request);
  } catch (error) {
    if (error instanceof HandshakeError) return { ok: false, error };
    throw error;
  }
}

function checkClientRequest(request: UpgradeRequest): ClientRequestCheck {
  const { headers } = request;
  // RFC 6455 §4.1, item 2: the method must be GET. RFC 9110 §15.5.6: a 405 lists the allowed methods.
  if (request.method !== 'GET') {
    throw new HandshakeError(405, `The method must be GET, not ${request.method ?? 'none'}`, {
      Allow: 'GET',
    });
  }
  // RFC 6455 §4.1, item 2: HTTP/1.1 or higher.
  if (!isHttpVersionAtLeast11(request.httpVersion)) {
    throw new HandshakeError(400, `The HTTP version must be 1.1 or later, not ${request.httpVersion}`);
  }
  // RFC 6455 §4.1, item 4; RFC 9112 §3.2: a request with no Host, or with more than one, gets a 400.
  const host = singleHeader(headers, 'host', 'Host');
  if (host === undefined || host.length === 0) {
    throw new HandshakeError(400, 'The Host header is missing or empty');
  }
  // RFC 6455 §4.2.1, items 3 and 4; both headers are token lists, compared case-insensitively.
  if (!hasToken(headers.upgrade, 'websocket')) {
    throw new HandshakeError(400, 'The Upgrade header must contain the token "websocket"');
  }
  if (!hasToken(headers.connection, 'upgrade')) {
    throw new HandshakeError(400, 'The Connection header must contain the token "upgrade"');
  }
  // RFC 6455 §4.4: an unsupported version is answered 426 with the versions the server speaks. A joined
  // duplicate ("13, 13") is not exactly 13 either.
  const version = joinHeader(headers['sec-websocket-version']);
  if (version !== WEBSOCKET_VERSION) {
    throw new HandshakeError(
      426,
      version === undefined
        ? 'The Sec-WebSocket-Version header is missing; this server speaks version 13'
        : `Sec-WebSocket-Version ${version} is not supported; this server speaks version 13`,
      { 'Sec-WebSocket-Version': WEBSOCKET_VERSION },
    );
  }
  // RFC 6455 §4.2.1, item 5: the key is base64 of 16 bytes, sent once.
  const key = singleHeader(headers, 'sec-websocket-key', 'Sec-WebSocket-Key');
  if (key === undefined) throw new HandshakeError(400, 'The Sec-WebSocket-Key header is missing');
  if (!isWebSocketKey(key)) {
    throw new HandshakeError(400, `Sec-WebSocket-Key ${JSON.stringify(key)} is not base64 of 16 bytes`);
  }
  const offeredProtocols = parseOfferedSubprotocols(headers['sec-websocket-protocol']);
  // RFC 6454 §7: Origin is one serialized origin, which never contains a comma.
  const origin = singleHeader(headers, 'origin', 'Origin');
  return {
    ok: true,
    key,
    offeredProtocols,
    extensionHeader: joinHeader(headers['sec-websocket-extensions']),
    origin,
  };
}

/**
 * RFC 6455 §4.1, item 10: subprotocols are tokens, each offered once. Empty elements are dropped as
 * RFC 9110 §5.6.1 allows; names compare case-sensitively.
 */
export function parseOfferedSubprotocols(value: string | string[] | undefined): string[] {
  const protocols = parseTokenList(value);
  const seen = new Set<string>();
  for (const protocol of protocols) {
    if (!isToken(protocol)) {
      throw new HandshakeError(
        400,
        `Sec-WebSocket-Protocol offers ${JSON.stringify(protocol)}, which is not a token`,
      );
    }
    if (seen.has(protocol)) {
      throw new HandshakeError(
        400,
        `Sec-WebSocket-Protocol offers ${JSON.stringify(protocol)} more than once`,
      );
    }
    seen.add(protocol);
  }
  return protocols;
}

/**
 * Whether a request asks for a WebSocket upgrade at all: GET, an Upgrade header with the token
 * `websocket` and a Connection header with the token `upgrade` (as websocket-driver's `isWebSocket`).
 * It does not validate the handshake; {@link validateClientRequest} does.
 *
 * @example
 * ```ts
 * server.on('upgrade', (request, socket) => {
 *   if (!isWebSocketUpgrade(request)) return socket.destroy();
 * });
 * ```
 */
export function isWebSocketUpgrade(request: UpgradeRequest): boolean {
  return (
    request.method === 'GET' &&
    hasToken(request.headers.upgrade, 'websocket') &&
    hasToken(request.headers.connection, 'upgrade')
  );
}

/**
 * Picks the subprotocol to answer with, in the server's order of preference: the first of `supported`
 * that the client offered, or undefined when they share none (RFC 6455 §4.2.2, item 5.4 leaves the choice to
 * the server).
 *
 * @example
 * ```ts
 * selectSubprotocol(['chat', 'superchat'], ['superchat', 'chat']); // 'superchat'
 * ```
 */
export function selectSubprotocol(
  offered: readonly string[],
  supported: readonly string[],
): string | undefined {
  return supported.find((protocol) => offered.includes(protocol));
}

/** Options for {@link buildServerResponse}. */
export interface ServerResponseOptions {
  /** The client's Sec-WebSocket-Key, as validated. */
  key: string;
  /** The selected subprotocol, if any. */
  protocol?: string | undefined;
  /** The accepted extensions' response, already serialized. */
  extensionHeader?: string | undefined;
  /** More headers; an array is written as repeated lines. */
  headers?: ExtraHeaders | undefined;
}

/**
 * The 101 response that completes a server's handshake (RFC 6455 §4.2.2, item 5). Every header is checked
 * with {@link assertSafeHeader}, so a value cannot split the response.
 *
 * @example
 * ```ts
 * socket.write(buildServerResponse({ key: check.key, protocol: 'chat' }));
 * ```
 */
export function buildServerResponse(options: ServerResponseOptions): Buffer {
  const lines = ['HTTP/1.1 101 Switching Protocols'];
  addHeaderLine(lines, 'Upgrade', 'websocket');
  addHeaderLine(lines, 'Connection', 'Upgrade');
  addHeaderLine(lines, 'Sec-WebSocket-Accept', computeAcceptKey(options.key));
  if (options.protocol !== undefined) addHeaderLine(lines, 'Sec-WebSocket-Protocol', options.protocol);
  if (options.extensionHeader !== undefined && options.extensionHeader.length > 0) {
    addHeaderLine(lines, 'Sec-WebSocket-Extensions', options.extensionHeader);
  }
  addExtraHeaders(lines, options.headers);
  return encodeHead(lines);
}

/**
 * The response that refuses a handshake: the error's status with its standard reason phrase, the error's
 * headers, and its message as a plain-text body, closing the connection. A `Content-Type` among the
 * error's headers replaces the default; `Content-Length` and `Connection` are computed here and throw a
 * TypeError if given.
 *
 * @example
 * ```ts
 * socket.end(buildRejectionResponse(new HandshakeError(403, 'Origin not allowed')));
 * ```
 */
export function buildRejectionResponse(error: HandshakeError): Buffer {
  const { status } = error;
  if (!Number.isInteger(status) || status < 100 || status > 599) {
    throw new TypeError(`A rejection needs an HTTP status from 100 to 599, not ${status}`);
  }
  const body = Buffer.from(error.message, 'utf8');
  const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}`];
  let contentType = 'text/plain; charset=utf-8';
  const extra: Record<string, string> = {};
  for (const [name, value] of Object.entries(error.headers)) {
    const lowerName = name.toLowerCase();
    if (lowerName === 'content-length' || lowerName === 'connection') {
      throw new TypeError(`A rejection sets ${name} itself; remove it from the HandshakeError headers`);
    }
    if (lowerName === 'content-type') contentType = value;
    else extra[name] = value;
  }
  addHeaderLine(lines, 'Content-Type', contentType);
  addHeaderLine(lines, 'Content-Length', String(body.length));
  addHeaderLine(lines, 'Connection', 'close');
  addExtraHeaders(lines, extra);
  return Buffer.concat([encodeHead(lines), body]);
}

/** Options for {@link buildClientRequest}. */
export interface ClientRequestOptions {
  /** `ws:`, `wss:`, `http:` or `https:`; a fragment is never sent (RFC 6455 §3). */
  url: URL;
  /** The Sec-WebSocket-Key to send, usually from {@link generateKey}. */
  key: string;
  /** Subprotocols to offer, most preferred first; each a token, each once. */
  protocols?: readonly string[];
  /** The extension offers, already serialized. */
  extensionHeader?: string | undefined;
  origin?: string | undefined;
  /** More headers; an array is written as repeated lines. */
  headers?: ExtraHeaders | undefined;
}

/**
 * The GET request that opens a client's handshake (RFC 6455 §4.1). The Host header leaves out the default
 * port and brackets an IPv6 address, as `URL.host` does. Credentials in the URL are not sent; pass an
 * Authorization header instead.
 *
 * @example
 * ```ts
 * const key = generateKey();
 * socket.write(buildClientRequest({ url: new URL('wss://example.com/chat'), key, protocols: ['chat'] }));
 * ```
 */
export function buildClientRequest(options: ClientRequestOptions): Buffer {
  const { url } = options;
  if (!(url instanceof URL)) throw new TypeError('buildClientRequest needs options.url to be a URL');
  if (!['ws:', 'wss:', 'http:', 'https:'].includes(url.protocol)) {
    throw new TypeError(`A WebSocket URL must use ws: or wss:, not ${url.protocol}`);
  }
  if (url.host.length === 0) throw new TypeError(`The WebSocket URL ${url.href} has no host`);
  // RFC 6455 §3: the resource name is the path and query; a fragment is not part of it.
  const lines = [`GET ${url.pathname || '/'}${url.search} HTTP/1.1`];
  addHeaderLine(lines, 'Host', url.host);
  addHeaderLine(lines, 'Upgrade', 'websocket');
  addHeaderLine(lines, 'Connection', 'Upgrade');
  addHeaderLine(lines, 'Sec-WebSocket-Key', options.key);
  addHeaderLine(lines, 'Sec-WebSocket-Version', WEBSOCKET_VERSION);
  if (options.origin !== undefined) addHeaderLine(lines, 'Origin', options.origin);
  const protocols = options.protocols ?? [];
  if (protocols.length > 0) {
    // RFC 6455 §4.1, item 10: tokens, each unique.
    const seen = new Set<string>();
    for (const protocol of protocols) {
      if (typeof protocol !== 'string' || !isToken(protocol)) {
        throw new TypeError(`A subprotocol must be a token, not ${JSON.stringify(protocol)}`);
      }
      if (seen.has(protocol)) {
        throw new TypeError(`The subprotocol ${JSON.stringify(protocol)} is listed twice`);
      }
      seen.add(protocol);
    }
    addHeaderLine(lines, 'Sec-WebSocket-Protocol', protocols.join(', '));
  }
  if (options.extensionHeader !== undefined && options.extensionHeader.length > 0) {
    addHeaderLine(lines, 'Sec-WebSocket-Extensions', options.extensionHeader);
  }
  addExtraHeaders(lines, options.headers);
  return encodeHead(lines);
}

/** The outcome of {@link validateServerResponse}. */
export type ServerResponseCheck =
  | { ok: true; protocol: string | undefined; extensionHeader: string | undefined }
  /** `isAccepted`: the status, Upgrade, Connection and Sec-WebSocket-Accept were right (a later check failed). */
  | { ok: false; error: HandshakeError; isAccepted: boolean };

/**
 * Checks a server's answer as RFC 6455 §4.1 asks of a client: status 101, Upgrade `websocket`,
 * Connection `upgrade`, the right Sec-WebSocket-Accept, and a subprotocol only if it is one the client
 * offered. A server offered protocols may still pick none: that is allowed (RFC 6455 §4.2.2 makes the
 * header optional), `protocol` is then undefined, and the application decides whether to go on.
 * Extensions are returned unchecked for the extension layer. Errors carry the response's status.
 *
 * @example
 * ```ts
 * const check = validateServerResponse(head, { key, protocols: ['chat'] });
 * if (!check.ok) fail(check.error);
 * ```
 */
export function validateServerResponse(
  head: { statusCode: number; headers: Record<string, string | string[] | undefined> },
  expected: { key: string; protocols: readonly string[] },
): ServerResponseCheck {
  const { statusCode, headers } = head;
  let isAccepted = false;
  const fail = (message: string): ServerResponseCheck => ({
    ok: false,
    error: new HandshakeError(statusCode, message),
    isAccepted,
  });
  if (statusCode !== 101) return fail(`Unexpected server response: ${statusCode}`);
  if (!hasToken(headers.upgrade, 'websocket')) {
    return fail('The server response has no Upgrade header with the token "websocket"');
  }
  if (!hasToken(headers.connection, 'upgrade')) {
    return fail('The server response has no Connection header with the token "upgrade"');
  }
  const accept = headers['sec-websocket-accept'];
  if (accept === undefined) return fail('The server response has no Sec-WebSocket-Accept header');
  if (accept !== computeAcceptKey(expected.key)) {
    return fail(`Sec-WebSocket-Accept ${JSON.stringify(accept)} does not match the key that was sent`);
  }
  isAccepted = true;
  const protocol = joinHeader(headers['sec-websocket-protocol']);
  if (protocol !== undefined) {
    if (expected.protocols.length === 0) {
      return fail(`The server chose subprotocol ${JSON.stringify(protocol)} but none was offered`);
    }
    // RFC 6455 §4.1, the client's checks of the response: the value must be one the client offered.
    if (!expected.protocols.includes(protocol)) {
      return fail(`The server chose subprotocol ${JSON.stringify(protocol)}, which was not offered`);
    }
  }
  return { ok: true, protocol, extensionHeader: joinHeader(headers['sec-websocket-extensions']) };
}

/**
 * Throws a TypeError unless `name` is a token and `value` is safe to write in a head: HTAB, SP, visible
 * ASCII and U+0080–U+00FF only, as node's own header check allows. CR and LF would split the head (response
 * splitting), NUL is never valid (RFC 9110 §5.5), and a character above U+00FF would be mangled by the latin1
 * encoding of the head — U+010A, for one, would become a LF.
 *
 * @example
 * ```ts
 * assertSafeHeader('X-Trace', 'abc'); // passes
 * assertSafeHeader('X-Trace', 'a\r\nSet-Cookie: b'); // throws TypeError
 * ```
 */
export function assertSafeHeader(name: string, value: string): void {
  if (typeof name !== 'string' || !isToken(name)) {
    throw new TypeError(`Header name ${JSON.stringify(name)} is not a token`);
  }
  if (typeof value !== 'string') {
    throw new TypeError(`Header ${name} needs a string value, not ${typeof value}`);
  }
  for (let index = 0; index < value.length; index++) {
    const code = value.charCodeAt(index);
    const isSafe = code === 0x09 || (code >= 0x20 && code !== 0x7f && code <= 0xff);
    if (!isSafe) {
      throw new TypeError(
        `Header ${name} has a value with a forbidden character (CR, LF, NUL, control or beyond U+00FF)`,
      );
    }
  }
}

function addHeaderLine(lines: string[], name: string, value: string): void {
  assertSafeHeader(name, value);
  lines.push(`${name}: ${value}`);
}

function addExtraHeaders(lines: string[], headers: ExtraHeaders | undefined): void {
  if (headers === undefined) return;
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value === 'string') {
      addHeaderLine(lines, name, value);
    } else {
      for (const item of value) addHeaderLine(lines, name, item);
    }
  }
}

/** Start line and header lines, each ending in CRLF, then the blank line. latin1, as checked above. */
function encodeHead(lines: readonly string[]): Buffer {
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}

/** A header's value as one string: an array (only node's `set-cookie` is one) joined as RFC 9110 §5.3 does. */
function joinHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * A header that must appear once. Repeated lines arrive joined with `', '` (or as an array), and none of
 * these values can hold a comma, so a comma means the header was sent twice.
 */
function singleHeader(
  headers: Record<string, string | string[] | undefined>,
  lowerName: string,
  name: string,
): string | undefined {
  const value = headers[lowerName];
  if (value === undefined) return undefined;
  if (Array.isArray(value) || value.includes(',')) {
    throw new HandshakeError(400, `The ${name} header must appear once but was sent more than once`);
  }
  return value;
}

function hasToken(value: string | string[] | undefined, lowerToken: string): boolean {
  return parseTokenList(value).some((element) => element.toLowerCase() === lowerToken);
}

// "major.minor", both decimal. Anchored, no nested repetition.
const HTTP_VERSION = /^([0-9]+)\.([0-9]+)$/;

function isHttpVersionAtLeast11(version: string): boolean {
  const match = HTTP_VERSION.exec(version);
  if (match === null) return false;
  const major = Number(match[1]);
  const minor = Number(match[2]);
  return major > 1 || (major === 1 && minor >= 1);
}

// 22 base64 characters and the padding of a 16-byte value (RFC 4648 §4).
const WEBSOCKET_KEY = /^[A-Za-z0-9+/]{22}==$/;

/**
 * RFC 6455 §4.2.1, item 5: base64 that decodes to exactly 16 bytes. Canonical only: the last character
 * must leave its unused low bits zero, so that one nonce has one spelling.
 */
function isWebSocketKey(key: string): boolean {
  return WEBSOCKET_KEY.test(key) && Buffer.from(key, 'base64').toString('base64') === key;
}
