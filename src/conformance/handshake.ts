// Owns the tester's side of the opening handshake (RFC 6455 §4), written apart from hybi's: the request it
// sends and the checks on a server's response, the response it sends and the checks on a client's request.

import { createHash, randomBytes } from 'node:crypto';
import type { RequestDraft, ResponseDraft } from './case.js';

/** RFC 6455 §1.3 and §4.2.2: the GUID appended to the key before hashing. */
const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** A response head larger than this is not a WebSocket handshake. */
const MAX_HEAD_BYTES = 64 * 1024;

/** Header fields by lowercase name, every occurrence kept. */
export type HeaderFields = Record<string, string[]>;

/** RFC 6455 §4.2.2 item 5.4: base64 of the SHA-1 of the key and the GUID. */
export function acceptKeyFor(key: string): string {
  return createHash('sha1').update(`${key}${WEBSOCKET_GUID}`, 'latin1').digest('base64');
}

/** RFC 6455 §4.1 item 7: 16 random bytes, base64. */
export function newWebSocketKey(): string {
  return randomBytes(16).toString('base64');
}

/** The request a conforming client sends to `url` (RFC 6455 §4.1), for a case to rewrite. */
export function createRequestDraft(url: URL, key: string, extensionOffer: string | undefined): RequestDraft {
  const headers: [string, string][] = [
    ['Host', url.host],
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
    ['Sec-WebSocket-Key', key],
    ['Sec-WebSocket-Version', '13'],
    ['User-Agent', 'hybi-conformance'],
  ];
  if (extensionOffer !== undefined) headers.push(['Sec-WebSocket-Extensions', extensionOffer]);
  return { method: 'GET', target: `${url.pathname || '/'}${url.search}`, httpVersion: '1.1', headers };
}

export function serializeRequest(draft: RequestDraft): string {
  const lines = [`${draft.method} ${draft.target} HTTP/${draft.httpVersion}`];
  for (const [name, value] of draft.headers) lines.push(`${name}: ${value}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** The 101 response a conforming server sends (RFC 6455 §4.2.2), for a case to rewrite. */
export function createResponseDraft(key: string, extensionResponse: string | undefined): ResponseDraft {
  const headers: [string, string][] = [
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
    ['Sec-WebSocket-Accept', acceptKeyFor(key)],
  ];
  if (extensionResponse !== undefined) headers.push(['Sec-WebSocket-Extensions', extensionResponse]);
  return { statusLine: 'HTTP/1.1 101 Switching Protocols', headers };
}

export function serializeResponse(draft: ResponseDraft): string {
  const lines = [draft.statusLine];
  for (const [name, value] of draft.headers) lines.push(`${name}: ${value}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** Sets a header field in a draft, replacing every earlier occurrence (case-insensitively). */
export function setHeader(headers: [string, string][], name: string, value: string): void {
  removeHeader(headers, name);
  headers.push([name, value]);
}

export function removeHeader(headers: [string, string][], name: string): void {
  const lowerName = name.toLowerCase();
  for (let index = headers.length - 1; index >= 0; index--) {
    if (headers[index]![0].toLowerCase() === lowerName) headers.splice(index, 1);
  }
}

/** A server's response head as read off the socket. */
export interface ResponseHead {
  statusCode: number;
  statusLine: string;
  headers: HeaderFields;
  text: string;
}

export type ResponseHeadResult =
  | { state: 'incomplete' }
  | { state: 'complete'; head: ResponseHead; rest: Buffer }
  | { state: 'error'; reason: string };

/**
 * Reads a response head up to its blank line. Lenient on purpose (a bare LF ends lines too): the tester
 * reports what the server sent rather than refusing to read it; malformed heads are still errors.
 */
export class ResponseHeadReader {
  private buffered: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): ResponseHeadResult {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const crlfEnd = this.buffered.indexOf('\r\n\r\n');
    const lfEnd = this.buffered.indexOf('\n\n');
    let end = -1;
    let separatorLength = 0;
    if (crlfEnd !== -1 && (lfEnd === -1 || crlfEnd < lfEnd)) {
      end = crlfEnd;
      separatorLength = 4;
    } else if (lfEnd !== -1) {
      end = lfEnd;
      separatorLength = 2;
    }
    if (end === -1) {
      if (this.buffered.length > MAX_HEAD_BYTES)
        return { state: 'error', reason: `no end of the response head in ${MAX_HEAD_BYTES} bytes` };
      return { state: 'incomplete' };
    }
    const text = this.buffered.toString('latin1', 0, end);
    const rest = this.buffered.subarray(end + separatorLength);
    const lines = text.split(/\r?\n/);
    const statusLine = lines[0] ?? '';
    const match = /^HTTP\/(\d)\.(\d) (\d{3})(?: .*)?$/.exec(statusLine);
    if (match === null)
      return { state: 'error', reason: `malformed status line ${JSON.stringify(statusLine)}` };
    const headers: HeaderFields = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0) return { state: 'error', reason: `malformed header line ${JSON.stringify(line)}` };
      addField(headers, line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    return { state: 'complete', head: { statusCode: Number(match[3]), statusLine, headers, text }, rest };
  }
}

function addField(headers: HeaderFields, name: string, value: string): void {
  const list = headers[name];
  if (list === undefined) headers[name] = [value];
  else list.push(value);
}

/** Header fields from node's alternating `rawHeaders` list. */
export function fieldsFromRawHeaders(rawHeaders: readonly string[]): HeaderFields {
  const headers: HeaderFields = {};
  for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
    addField(headers, rawHeaders[index]!.toLowerCase(), rawHeaders[index + 1]!);
  }
  return headers;
}

/** The comma-separated elements of every occurrence of a field, trimmed, empty ones dropped. */
export function listElements(values: readonly string[] | undefined): string[] {
  if (values === undefined) return [];
  return values
    .flatMap((value) => value.split(','))
    .map((element) => element.trim())
    .filter((element) => element.length > 0);
}

/**
 * What a 101 response gets wrong, as RFC 6455 §4.1 makes the client check it (each a reason the client
 * MUST fail the connection): Upgrade `websocket`, Connection with the `Upgrade` token, the right
 * Sec-WebSocket-Accept, and a subprotocol only if one was offered.
 */
export function checkServerResponse(
  head: ResponseHead,
  key: string,
  offeredProtocols: readonly string[],
): string[] {
  const problems: string[] = [];
  const upgrade = head.headers.upgrade;
  if (upgrade === undefined || upgrade.length !== 1 || upgrade[0]!.toLowerCase() !== 'websocket') {
    problems.push(`RFC 6455 §4.1: Upgrade must be "websocket", got ${JSON.stringify(upgrade ?? null)}`);
  }
  if (!listElements(head.headers.connection).some((token) => token.toLowerCase() === 'upgrade')) {
    problems.push(
      `RFC 6455 §4.1: Connection must contain "Upgrade", got ${JSON.stringify(head.headers.connection ?? null)}`,
    );
  }
  const accept = head.headers['sec-websocket-accept'];
  const expectedAccept = acceptKeyFor(key);
  if (accept === undefined || accept.length !== 1 || accept[0] !== expectedAccept) {
    problems.push(
      `RFC 6455 §4.1: Sec-WebSocket-Accept must be ${expectedAccept}, got ${JSON.stringify(accept ?? null)}`,
    );
  }
  const protocol = head.headers['sec-websocket-protocol'];
  if (protocol !== undefined) {
    const chosen = listElements(protocol);
    if (chosen.length !== 1 || !offeredProtocols.includes(chosen[0]!)) {
      problems.push(`RFC 6455 §4.1: Sec-WebSocket-Protocol ${JSON.stringify(protocol)} was not offered`);
    }
  }
  return problems;
}

/** The parts of a client's request the checks read (node's IncomingMessage fits). */
export interface ClientRequestHead {
  method: string | undefined;
  httpVersion: string;
  headers: HeaderFields;
}

/**
 * What a client's opening request gets wrong (RFC 6455 §4.1, the client's MUSTs): GET over HTTP/1.1 or
 * later, Host, Upgrade with `websocket`, Connection with `Upgrade`, one Sec-WebSocket-Key of 16 bytes in
 * base64, and Sec-WebSocket-Version 13.
 */
export function checkClientRequest(request: ClientRequestHead): string[] {
  const problems: string[] = [];
  const { headers } = request;
  if (request.method !== 'GET')
    problems.push(`RFC 6455 §4.1 item 2: the method must be GET, got ${request.method}`);
  const [major = 0, minor = 0] = request.httpVersion.split('.').map(Number);
  if (major < 1 || (major === 1 && minor < 1)) {
    problems.push(`RFC 6455 §4.1 item 2: HTTP/1.1 or later is required, got HTTP/${request.httpVersion}`);
  }
  if (headers.host === undefined) problems.push('RFC 6455 §4.1 item 4: the Host header is missing');
  if (!listElements(headers.upgrade).some((token) => token.toLowerCase() === 'websocket')) {
    problems.push('RFC 6455 §4.1 item 5: Upgrade must include "websocket"');
  }
  if (!listElements(headers.connection).some((token) => token.toLowerCase() === 'upgrade')) {
    problems.push('RFC 6455 §4.1 item 6: Connection must include "Upgrade"');
  }
  const keys = headers['sec-websocket-key'];
  if (keys === undefined || keys.length !== 1) {
    problems.push('RFC 6455 §4.1 item 7: exactly one Sec-WebSocket-Key is required');
  } else if (!/^[A-Za-z0-9+/]{22}==$/.test(keys[0]!)) {
    problems.push(
      `RFC 6455 §4.1 item 7: Sec-WebSocket-Key ${JSON.stringify(keys[0])} is not base64 of 16 bytes`,
    );
  }
  const versions = headers['sec-websocket-version'];
  if (versions === undefined || versions.length !== 1 || versions[0] !== '13') {
    problems.push(
      `RFC 6455 §4.1 item 9: Sec-WebSocket-Version must be 13, got ${JSON.stringify(versions ?? null)}`,
    );
  }
  return problems;
}
