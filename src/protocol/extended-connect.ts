// Owns the opening handshake of WebSockets over HTTP/2 (RFC 8441): the extended CONNECT request, its checks
// on both sides and the header blocks that answer it. Pure: header maps in, header maps out.

import { STATUS_CODES } from 'node:http';
import { HandshakeError } from './errors.js';
import { assertSafeHeader, parseOfferedSubprotocols } from './handshake.js';
import { isToken } from './http-head.js';

/** RFC 8441 §5: the value of `:protocol` that asks for a WebSocket. */
export const WEBSOCKET_PROTOCOL = 'websocket';

/** The only protocol version RFC 6455 defines (§4.1); RFC 8441 §5 keeps Sec-WebSocket-Version. */
const WEBSOCKET_VERSION = '13';

/**
 * An HTTP/2 header block as node:http2 gives it: lowercase names, pseudo-headers included, `:status` a
 * number, repeated fields joined (or an array for `set-cookie`).
 */
export type Http2HeaderMap = Readonly<Record<string, string | string[] | number | undefined>>;

/** A header block to send: lowercase names, the pseudo-headers first. */
export type Http2HeaderBlock = Record<string, string | number>;

/**
 * Headers that are about one hop's connection: RFC 9113 §8.2.2 makes a message carrying them malformed, and
 * RFC 8441 §5 forbids Connection and Upgrade on the extended CONNECT by name.
 */
const CONNECTION_SPECIFIC_HEADERS = [
  'connection',
  'upgrade',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
];

/** What a valid extended CONNECT asks for. */
export interface ExtendedConnectRequest {
  /** `'https'` for a wss: WebSocket, `'http'` for ws: (RFC 8441 §5). */
  scheme: 'http' | 'https';
  /** The target's authority: host and optional port. */
  authority: string;
  /** The path and query of the WebSocket URI. */
  path: string;
  /** Subprotocols offered, in the client's order of preference. */
  offeredProtocols: string[];
  /** The Sec-WebSocket-Extensions offer, for the extension layer. */
  extensionHeader: string | undefined;
  origin: string | undefined;
}

/** The outcome of {@link validateExtendedConnect}. */
export type ExtendedConnectCheck =
  | ({ ok: true } & ExtendedConnectRequest)
  | { ok: false; error: HandshakeError };

/**
 * Whether a request is an extended CONNECT at all: `:method` CONNECT with a `:protocol` (RFC 8441 §4),
 * whatever the protocol. A plain CONNECT (a proxy tunnel, RFC 9113 §8.5) is not.
 *
 * @example
 * ```ts
 * server.on('stream', (stream, headers) => {
 *   if (isExtendedConnect(headers)) acceptHttp2Stream(stream, headers);
 * });
 * ```
 */
export function isExtendedConnect(headers: Http2HeaderMap): boolean {
  return headers[':method'] === 'CONNECT' && headers[':protocol'] !== undefined;
}

/**
 * Checks a WebSocket opening handshake carried by an HTTP/2 extended CONNECT, as RFC 8441 §4-5 asks of a
 * server. On failure `error.status` is what to answer with: 405 (with `Allow: CONNECT`) for another
 * method, 501 for a `:protocol` other than websocket, 426 (with `sec-websocket-version: 13`) for another or
 * missing version, 400 for everything else. Sec-WebSocket-Key is not read: RFC 8441 §5 leaves it out of
 * the handshake. Extensions are not checked here; the extension layer reads `extensionHeader`.
 *
 * @example
 * ```ts
 * const check = validateExtendedConnect(headers);
 * if (!check.ok) respondWith(buildExtendedConnectRejection(check.error));
 * else stream.respond(buildExtendedConnectResponse({ protocol: 'chat' }));
 * ```
 */
export function validateExtendedConnect(headers: Http2HeaderMap): ExtendedConnectCheck {
  try {
    return checkExtendedConnect(headers);
  } catch (error) {
    if (error instanceof HandshakeError) return { ok: false, error };
    throw error;
  }
}

function checkExtendedConnect(headers: Http2HeaderMap): ExtendedConnectCheck {
  const method = stringHeader(headers, ':method');
  // RFC 8441 §5: this request replaces the GET of RFC 6455; RFC 9110 §15.5.6: a 405 lists the methods allowed.
  if (method !== 'CONNECT') {
    throw new HandshakeError(
      405,
      `A WebSocket over HTTP/2 is opened with the CONNECT method, not ${method ?? 'none'}`,
      { allow: 'CONNECT' },
    );
  }
  const protocol = stringHeader(headers, ':protocol');
  if (protocol === undefined) {
    throw new HandshakeError(
      400,
      'A CONNECT without :protocol asks for a tunnel; a WebSocket needs :protocol websocket (RFC 8441 §5)',
    );
  }
  // RFC 9220 §3 (RFC 8441's sibling for HTTP/3): a :protocol the server does not know is answered 501.
  // Upgrade tokens compare case-insensitively, as RFC 6455 §4.2.1 compares the Upgrade header.
  if (protocol.toLowerCase() !== WEBSOCKET_PROTOCOL) {
    throw new HandshakeError(501, `The protocol ${JSON.stringify(protocol)} is not served here`);
  }
  // RFC 8441 §5: :scheme is https for wss: and http for ws:.
  const scheme = stringHeader(headers, ':scheme');
  if (scheme !== 'http' && scheme !== 'https') {
    throw new HandshakeError(
      400,
      scheme === undefined
        ? 'The :scheme pseudo-header is missing (RFC 8441 §4)'
        : `The :scheme must be http or https, not ${JSON.stringify(scheme)}`,
    );
  }
  // RFC 8441 §4: :path is the WebSocket URI's path and query, in origin form (RFC 9113 §8.3.1).
  const path = stringHeader(headers, ':path');
  if (path === undefined || !path.startsWith('/')) {
    throw new HandshakeError(
      400,
      path === undefined
        ? 'The :path pseudo-header is missing (RFC 8441 §4)'
        : `The :path must start with "/", not ${JSON.stringify(path)}`,
    );
  }
  // RFC 8441 §5: :authority carries what Host did in HTTP/1.1.
  const authority = stringHeader(headers, ':authority');
  if (authority === undefined || authority.length === 0) {
    throw new HandshakeError(400, 'The :authority pseudo-header is missing or empty (RFC 8441 §5)');
  }
  // RFC 9113 §8.3.1: a Host header that names another authority makes the request malformed.
  const host = stringHeader(headers, 'host');
  if (host !== undefined && host.toLowerCase() !== authority.toLowerCase()) {
    throw new HandshakeError(400, `The Host header ${JSON.stringify(host)} differs from :authority`);
  }
  for (const name of CONNECTION_SPECIFIC_HEADERS) {
    if (headers[name] !== undefined) {
      throw new HandshakeError(400, `The ${name} header is not allowed over HTTP/2 (RFC 9113 §8.2.2)`);
    }
  }
  // RFC 8441 §5 keeps Sec-WebSocket-Version; RFC 6455 §4.4: another version is answered 426 with ours.
  const version = joinedHeader(headers['sec-websocket-version']);
  if (version !== WEBSOCKET_VERSION) {
    throw new HandshakeError(
      426,
      version === undefined
        ? 'The sec-websocket-version header is missing; this server speaks version 13'
        : `sec-websocket-version ${version} is not supported; this server speaks version 13`,
      { 'sec-websocket-version': WEBSOCKET_VERSION },
    );
  }
  const offeredProtocols = parseOfferedProtocols(headers['sec-websocket-protocol']);
  // RFC 6454 §7: Origin is one serialized origin, which never contains a comma.
  const origin = joinedHeader(headers.origin);
  if (origin?.includes(',')) {
    throw new HandshakeError(400, 'The origin header must appear once but was sent more than once');
  }
  return {
    ok: true,
    scheme,
    authority,
    path,
    offeredProtocols,
    extensionHeader: joinedHeader(headers['sec-websocket-extensions']),
    origin,
  };
}

/** RFC 6455 §4.1, item 10, as over HTTP/1.1 (RFC 8441 §5 keeps the header's meaning). */
function parseOfferedProtocols(value: string | string[] | number | undefined): string[] {
  return parseOfferedSubprotocols(joinedHeader(value));
}

/** Options for {@link buildExtendedConnectResponse}. */
export interface ExtendedConnectResponseOptions {
  /** The selected subprotocol, if any. */
  protocol?: string | undefined;
  /** The accepted extensions' response, already serialized. */
  extensionHeader?: string | undefined;
  /** More headers; names are lowercased (RFC 9113 §8.2.1). */
  headers?: Readonly<Record<string, string>> | undefined;
}

/**
 * The response that accepts an extended CONNECT: `:status 200` (RFC 8441 §5), the subprotocol and the
 * extensions. No Sec-WebSocket-Accept: RFC 8441 §5 leaves the key and accept out. Throws a TypeError for a
 * custom header that is unsafe, a pseudo-header, or connection-specific (RFC 9113 §8.2.2).
 *
 * @example
 * ```ts
 * stream.respond(buildExtendedConnectResponse({ protocol: 'chat' }));
 * // { ':status': 200, 'sec-websocket-protocol': 'chat' }
 * ```
 */
export function buildExtendedConnectResponse(options: ExtendedConnectResponseOptions = {}): Http2HeaderBlock {
  const block: Http2HeaderBlock = { ':status': 200 };
  if (options.protocol !== undefined) addHeader(block, 'sec-websocket-protocol', options.protocol);
  if (options.extensionHeader !== undefined && options.extensionHeader.length > 0) {
    addHeader(block, 'sec-websocket-extensions', options.extensionHeader);
  }
  addExtraHeaders(block, options.headers);
  return block;
}

/** A refusal: the header block, and the plain-text body that says why. */
export interface ExtendedConnectRejection {
  headers: Http2HeaderBlock;
  body: Buffer;
}

/**
 * The response that refuses a handshake: the error's status, its headers (lowercased) and its message as a
 * plain-text body. Only the stream ends; the HTTP/2 connection and its other streams go on.
 *
 * @example
 * ```ts
 * const { headers, body } = buildExtendedConnectRejection(new HandshakeError(403, 'Forbidden'));
 * stream.respond(headers);
 * stream.end(body);
 * ```
 */
export function buildExtendedConnectRejection(error: HandshakeError): ExtendedConnectRejection {
  const { status } = error;
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    throw new TypeError(`A rejection needs an HTTP status from 200 to 599, not ${status}`);
  }
  const body = Buffer.from(error.message || STATUS_CODES[status] || '', 'utf8');
  const headers: Http2HeaderBlock = { ':status': status, 'content-type': 'text/plain; charset=utf-8' };
  for (const [name, value] of Object.entries(error.headers)) {
    if (name.toLowerCase() === 'content-length') {
      throw new TypeError(
        'A rejection sets content-length itself; remove it from the HandshakeError headers',
      );
    }
    addHeader(headers, name, value);
  }
  headers['content-length'] = body.length;
  return { headers, body };
}

/** Options for {@link buildExtendedConnectRequest}. */
export interface ExtendedConnectRequestOptions {
  /** `ws:`, `wss:`, `http:` or `https:`; a fragment is never sent (RFC 6455 §3). */
  url: URL;
  /** Subprotocols to offer, most preferred first; each a token, each once. */
  protocols?: readonly string[];
  /** The extension offers, already serialized. */
  extensionHeader?: string | undefined;
  origin?: string | undefined;
  /** More headers; names are lowercased (RFC 9113 §8.2.1). */
  headers?: Readonly<Record<string, string>> | undefined;
}

/**
 * The extended CONNECT that opens a WebSocket on an HTTP/2 stream (RFC 8441 §5): `:method CONNECT`,
 * `:protocol websocket`, `:scheme` https for wss: and http for ws:, `:path` and `:authority` from the URL,
 * and `sec-websocket-version: 13`. No key: RFC 8441 §5 replaces it with `:protocol`.
 *
 * @example
 * ```ts
 * const stream = session.request(buildExtendedConnectRequest({ url: new URL('wss://example.com/chat') }), {
 *   endStream: false,
 * });
 * ```
 */
export function buildExtendedConnectRequest(options: ExtendedConnectRequestOptions): Http2HeaderBlock {
  const { url } = options;
  if (!(url instanceof URL)) throw new TypeError('buildExtendedConnectRequest needs options.url to be a URL');
  const isSecure = url.protocol === 'wss:' || url.protocol === 'https:';
  if (!isSecure && url.protocol !== 'ws:' && url.protocol !== 'http:') {
    throw new TypeError(`A WebSocket URL must use ws: or wss:, not ${url.protocol}`);
  }
  if (url.host.length === 0) throw new TypeError(`The WebSocket URL ${url.href} has no host`);
  const block: Http2HeaderBlock = {
    ':method': 'CONNECT',
    ':protocol': WEBSOCKET_PROTOCOL,
    ':scheme': isSecure ? 'https' : 'http',
    // RFC 6455 §3: the resource name is the path and query; a fragment is not part of it.
    ':path': `${url.pathname || '/'}${url.search}`,
    ':authority': url.host,
    'sec-websocket-version': WEBSOCKET_VERSION,
  };
  if (options.origin !== undefined) addHeader(block, 'origin', options.origin);
  const protocols = options.protocols ?? [];
  if (protocols.length > 0) {
    const seen = new Set<string>();
    for (const protocol of protocols) {
      if (typeof protocol !== 'string' || !isToken(protocol)) {
        throw new TypeError(`A subprotocol must be a token, not ${JSON.stringify(protocol)}`);
      }
      if (seen.has(protocol))
        throw new TypeError(`The subprotocol ${JSON.stringify(protocol)} is listed twice`);
      seen.add(protocol);
    }
    addHeader(block, 'sec-websocket-protocol', protocols.join(', '));
  }
  if (options.extensionHeader !== undefined && options.extensionHeader.length > 0) {
    addHeader(block, 'sec-websocket-extensions', options.extensionHeader);
  }
  addExtraHeaders(block, options.headers);
  return block;
}

/** The outcome of {@link validateExtendedConnectResponse}. */
export type ExtendedConnectResponseCheck =
  | { ok: true; protocol: string | undefined; extensionHeader: string | undefined }
  | { ok: false; error: HandshakeError };

/**
 * Checks a server's answer to an extended CONNECT as a client: `:status 200` (RFC 8441 §5), and a
 * subprotocol only if it is one the client offered (RFC 6455 §4.1). Extensions are returned unchecked for
 * the extension layer. Errors carry the response's status.
 *
 * @example
 * ```ts
 * stream.on('response', (headers) => {
 *   const check = validateExtendedConnectResponse(headers, { protocols: ['chat'] });
 *   if (!check.ok) stream.close();
 * });
 * ```
 */
export function validateExtendedConnectResponse(
  headers: Http2HeaderMap,
  expected: { protocols: readonly string[] },
): ExtendedConnectResponseCheck {
  const rawStatus = headers[':status'];
  const status = typeof rawStatus === 'number' ? rawStatus : Number(rawStatus ?? 0);
  const fail = (message: string): ExtendedConnectResponseCheck => ({
    ok: false,
    error: new HandshakeError(Number.isInteger(status) ? status : 0, message),
  });
  if (status !== 200) return fail(`Unexpected server response: ${status}`);
  const protocol = joinedHeader(headers['sec-websocket-protocol']);
  if (protocol !== undefined) {
    if (expected.protocols.length === 0) {
      return fail(`The server chose subprotocol ${JSON.stringify(protocol)} but none was offered`);
    }
    if (!expected.protocols.includes(protocol)) {
      return fail(`The server chose subprotocol ${JSON.stringify(protocol)}, which was not offered`);
    }
  }
  return { ok: true, protocol, extensionHeader: joinedHeader(headers['sec-websocket-extensions']) };
}

// --- helpers -----------------------------------------------------------------------------------

function stringHeader(headers: Http2HeaderMap, name: string): string | undefined {
  const value = headers[name];
  return typeof value === 'string' ? value : undefined;
}

/** A header's value as one string: an array joined as RFC 9110 §5.3 does, a number as its digits. */
function joinedHeader(value: string | string[] | number | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value)) return value.join(', ');
  return String(value);
}

/** Adds a header under its lowercase name (RFC 9113 §8.2.1), checked like every header hybi writes. */
function addHeader(block: Http2HeaderBlock, name: string, value: string): void {
  assertSafeHeader(name, value);
  const lowerName = name.toLowerCase();
  block[lowerName] = value;
}

function addExtraHeaders(
  block: Http2HeaderBlock,
  headers: Readonly<Record<string, string>> | undefined,
): void {
  if (headers === undefined) return;
  for (const [name, value] of Object.entries(headers)) {
    const lowerName = name.toLowerCase();
    if (CONNECTION_SPECIFIC_HEADERS.includes(lowerName)) {
      throw new TypeError(`The ${name} header cannot be sent over HTTP/2 (RFC 9113 §8.2.2)`);
    }
    if (block[lowerName] !== undefined && lowerName.startsWith('sec-websocket-')) {
      throw new TypeError(`The ${name} header is set by the handshake itself`);
    }
    addHeader(block, name, value);
  }
}
