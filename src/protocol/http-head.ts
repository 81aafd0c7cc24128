// Owns reading one HTTP/1.1 request or response head off a raw byte stream (RFC 9112 §2–§5), bounded in size.

/**
 * Header fields by lowercase name, shaped like node's `IncomingHttpHeaders`: repeated fields are joined
 * with `', '` (RFC 9110 §5.3), except `set-cookie`, which cannot be joined and is an array (RFC 6265 §3).
 */
export type HttpHeaders = Record<string, string | string[]>;

/** A parsed request head: what a server reads before it answers an upgrade on a raw socket. */
export interface HttpRequestHead {
  method: string;
  target: string;
  /** `major.minor`, e.g. `'1.1'`, as node's `IncomingMessage.httpVersion` spells it. */
  httpVersion: string;
  headers: HttpHeaders;
  /** Names and values as received, alternating, like node's `IncomingMessage.rawHeaders`. */
  rawHeaders: string[];
}

/** A parsed response head: what a client reads after it sent its upgrade request. */
export interface HttpResponseHead {
  /** `major.minor`, e.g. `'1.1'`. */
  httpVersion: string;
  statusCode: number;
  statusMessage: string;
  headers: HttpHeaders;
  /** Names and values as received, alternating, like node's `IncomingMessage.rawHeaders`. */
  rawHeaders: string[];
}

/**
 * What one `push()` found. `rest` holds the bytes after the blank line that ends the head (a client may
 * send frames right behind its request); it is a view into the pushed chunk, not a copy.
 * `status` is the HTTP status a server answers a bad request with (400, 431, 505); it is 0 for responses.
 */
export type HeadParseResult<H> =
  | { state: 'incomplete' }
  | { state: 'complete'; head: H; rest: Buffer }
  | { state: 'error'; status: number; reason: string };

/** The head type a parser of kind `K` produces. */
type HeadOf<K extends 'request' | 'response'> = K extends 'request' ? HttpRequestHead : HttpResponseHead;

/** Options for {@link HttpHeadParser}. */
export interface HttpHeadParserOptions {
  /** Largest head accepted, in bytes, counting the start line, the fields and the blank line. Default 16384. */
  maxHeadSize?: number;
}

const DEFAULT_MAX_HEAD_SIZE = 16 * 1024;

const NUL = 0x00;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;

// RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|"
// / "~" / DIGIT / ALPHA. A lookup table keeps the test one array read per character.
const TOKEN_CODES = new Uint8Array(128);
for (const character of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  TOKEN_CODES[character.charCodeAt(0)] = 1;
}

/** Whether a UTF-16 code unit is a `tchar` of RFC 9110 §5.6.2. */
export function isTokenCode(code: number): boolean {
  return code < 128 && TOKEN_CODES[code] === 1;
}

/**
 * Whether `value` is a non-empty `token` of RFC 9110 §5.6.2 — the grammar of header names, methods,
 * subprotocol names and extension names.
 *
 * @example
 * ```ts
 * isToken('permessage-deflate'); // true
 * isToken('chat room'); // false
 * ```
 */
export function isToken(value: string): boolean {
  if (value.length === 0) return false;
  for (let index = 0; index < value.length; index++) {
    if (!isTokenCode(value.charCodeAt(index))) return false;
  }
  return true;
}

/** Internal: a head line that breaks the grammar; caught in `push()` and turned into an error result. */
class MalformedHead {
  readonly status: number;
  readonly reason: string;
  constructor(status: number, reason: string) {
    this.status = status;
    this.reason = reason;
  }
}

/**
 * Reads one HTTP/1.1 head from a byte stream, in whatever chunks it arrives, and stops at the blank line.
 *
 * Each byte is looked at once: the search for the end of the head carries its state from chunk to chunk,
 * and the head is joined into one buffer only when it is complete. Nothing beyond `maxHeadSize` is kept:
 * the first byte past the limit without a blank line ends parsing with 431 (RFC 6585 §5).
 *
 * Line endings must be CRLF. A bare LF or a bare CR is an error: RFC 9112 §2.2 lets a recipient accept a
 * bare LF, but lenient line splitting is how request smuggling starts, and every WebSocket client sends
 * CRLF. Empty lines before the start line are skipped (RFC 9112 §2.2).
 *
 * @example
 * ```ts
 * const parser = new HttpHeadParser('request');
 * socket.on('data', (chunk) => {
 *   const result = parser.push(chunk);
 *   if (result.state === 'complete') handleUpgrade(result.head, result.rest);
 *   else if (result.state === 'error') reject(result.status, result.reason);
 * });
 * ```
 */
export class HttpHeadParser<K extends 'request' | 'response'> {
  readonly #kind: K;
  readonly #maxHeadSize: number;
  /** Chunks (or their scanned parts) that belong to the head, kept until the blank line arrives. */
  readonly #chunks: Buffer[] = [];
  /** Bytes of head scanned so far, across all chunks. */
  #scannedLength = 0;
  /** Bytes of leading empty lines, skipped when the head is decoded. */
  #headStart = 0;
  /** Bytes in the current line so far, not counting its CR. */
  #lineLength = 0;
  #isAfterCarriageReturn = false;
  #hasStartLine = false;
  #isFinished = false;

  constructor(kind: K, options: HttpHeadParserOptions = {}) {
    if (kind !== 'request' && kind !== 'response') {
      throw new TypeError(`HttpHeadParser kind must be 'request' or 'response', not ${String(kind)}`);
    }
    const maxHeadSize = options.maxHeadSize ?? DEFAULT_MAX_HEAD_SIZE;
    if (!Number.isSafeInteger(maxHeadSize) || maxHeadSize < 1) {
      throw new TypeError(`maxHeadSize must be a positive integer, not ${String(maxHeadSize)}`);
    }
    this.#kind = kind;
    this.#maxHeadSize = maxHeadSize;
  }

  /**
   * Feeds the next chunk of bytes. Returns `incomplete` until the blank line arrives, then `complete` or
   * `error` once; pushing after that is a programmer error and throws.
   */
  push(chunk: Buffer): HeadParseResult<HeadOf<K>> {
    if (this.#isFinished) {
      throw new Error(
        'HttpHeadParser.push() called after the head was complete or failed; create a new parser',
      );
    }
    // Only the bytes still inside the size limit are examined or kept.
    const examinable = Math.min(chunk.length, this.#maxHeadSize - this.#scannedLength);
    for (let index = 0; index < examinable; index++) {
      const byte = chunk[index]!;
      if (this.#isAfterCarriageReturn) {
        this.#isAfterCarriageReturn = false;
        if (byte !== LF) return this.#fail(400, 'bare CR in the head; lines must end with CRLF');
        if (this.#lineLength > 0) {
          if (!this.#hasStartLine) {
            const failure = this.#checkStartLine(chunk, index);
            if (failure !== undefined) return failure;
          }
          this.#hasStartLine = true;
          this.#lineLength = 0;
        } else if (this.#hasStartLine) {
          return this.#complete(chunk, index + 1);
        } else {
          // RFC 9112 §2.2: empty lines before the start line are ignored.
          this.#headStart = this.#scannedLength + index + 1;
        }
      } else if (byte === CR) {
        this.#isAfterCarriageReturn = true;
      } else if (byte === LF) {
        return this.#fail(400, 'bare LF in the head; lines must end with CRLF');
      } else if (byte === NUL) {
        // RFC 9110 §5.5: NUL is never valid in a head, and failing here rejects binary garbage early.
        return this.#fail(400, 'NUL byte in the head');
      } else {
        this.#lineLength++;
      }
    }
    if (examinable < chunk.length) {
      return this.#fail(431, `head is larger than ${this.#maxHeadSize} bytes`);
    }
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#scannedLength += chunk.length;
    }
    return { state: 'incomplete' };
  }

  /**
   * The start line ended (its LF is at `lineFeed` in `chunk`): judge it now rather than at the blank line,
   * so that a peer answering with garbage is refused at once, as node's parser does, and not left
   * waiting for a blank line that may never come.
   */
  #checkStartLine(chunk: Buffer, lineFeed: number): HeadParseResult<HeadOf<K>> | undefined {
    const lastPart = chunk.subarray(0, lineFeed);
    const bytes = this.#chunks.length === 0 ? lastPart : Buffer.concat([...this.#chunks, lastPart]);
    // The line runs from the end of any leading empty lines to its CR, the byte before the LF.
    const line = bytes.toString('latin1', this.#headStart, bytes.length - 1);
    try {
      if (this.#kind === 'request') parseRequestLine(line);
      else parseStatusLine(line);
      return undefined;
    } catch (error) {
      if (error instanceof MalformedHead) return this.#fail(error.status, error.reason);
      throw error;
    }
  }

  #fail(status: number, reason: string): HeadParseResult<HeadOf<K>> {
    this.#isFinished = true;
    this.#chunks.length = 0;
    return { state: 'error', status: this.#kind === 'request' ? status : 0, reason };
  }

  /** The blank line ends at `end` in `chunk`: decode the head and hand back what follows it. */
  #complete(chunk: Buffer, end: number): HeadParseResult<HeadOf<K>> {
    this.#isFinished = true;
    const lastPart = chunk.subarray(0, end);
    const headBytes = this.#chunks.length === 0 ? lastPart : Buffer.concat([...this.#chunks, lastPart]);
    this.#chunks.length = 0;
    // Header octets are not UTF-8 by contract (RFC 9110 §5.5); latin1 keeps every byte, as node does.
    // The head ends with CRLF CRLF: drop both so that the split yields only real lines.
    const text = headBytes.toString('latin1', this.#headStart, headBytes.length - 4);
    const lines = text.split('\r\n');
    const rest = chunk.subarray(end);
    try {
      const startLine = lines[0]!;
      const { headers, rawHeaders } = parseFieldLines(lines);
      if (this.#kind === 'request') {
        const head: HttpRequestHead = { ...parseRequestLine(startLine), headers, rawHeaders };
        return { state: 'complete', head: head as HeadOf<K>, rest };
      }
      const head: HttpResponseHead = { ...parseStatusLine(startLine), headers, rawHeaders };
      return { state: 'complete', head: head as HeadOf<K>, rest };
    } catch (error) {
      if (error instanceof MalformedHead) return this.#fail(error.status, error.reason);
      throw error;
    }
  }
}

// `HTTP/` DIGIT "." DIGIT (RFC 9112 §2.3). Anchored and without nested repetition: linear.
const HTTP_VERSION = /^HTTP\/([0-9])\.([0-9])$/;

/** Checks an HTTP-version and returns it as `major.minor`; only HTTP/1.x is spoken here. */
function parseHttpVersion(text: string): string {
  const match = HTTP_VERSION.exec(text);
  if (match === null) throw new MalformedHead(400, `malformed HTTP version ${JSON.stringify(text)}`);
  if (match[1] !== '1') {
    throw new MalformedHead(505, `HTTP version ${match[1]}.${match[2]} is not supported; only HTTP/1.x is`);
  }
  return `${match[1]}.${match[2]}`;
}

/** RFC 9112 §3: request-line = method SP request-target SP HTTP-version, single spaces. */
function parseRequestLine(line: string): { method: string; target: string; httpVersion: string } {
  const firstSpace = line.indexOf(' ');
  const secondSpace = firstSpace === -1 ? -1 : line.indexOf(' ', firstSpace + 1);
  if (secondSpace === -1 || line.indexOf(' ', secondSpace + 1) !== -1) {
    throw new MalformedHead(400, `malformed request line ${JSON.stringify(line)}`);
  }
  const method = line.slice(0, firstSpace);
  const target = line.slice(firstSpace + 1, secondSpace);
  if (!isToken(method)) throw new MalformedHead(400, `method ${JSON.stringify(method)} is not a token`);
  if (target.length === 0 || !isVisibleAscii(target)) {
    throw new MalformedHead(400, `malformed request target ${JSON.stringify(target)}`);
  }
  const httpVersion = parseHttpVersion(line.slice(secondSpace + 1));
  return { method, target, httpVersion };
}

/**
 * RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ]. The space before an empty
 * reason phrase is optional here: servers that leave it out are common and the phrase carries no meaning.
 */
function parseStatusLine(line: string): { httpVersion: string; statusCode: number; statusMessage: string } {
  const firstSpace = line.indexOf(' ');
  if (firstSpace === -1) throw new MalformedHead(400, `malformed status line ${JSON.stringify(line)}`);
  const httpVersion = parseHttpVersion(line.slice(0, firstSpace));
  const code = line.slice(firstSpace + 1, firstSpace + 4);
  const afterCode = line.slice(firstSpace + 4);
  if (!/^[0-9]{3}$/.test(code) || (afterCode.length > 0 && afterCode.charCodeAt(0) !== SPACE)) {
    throw new MalformedHead(400, `malformed status line ${JSON.stringify(line)}`);
  }
  return { httpVersion, statusCode: Number(code), statusMessage: afterCode.slice(1) };
}

/** RFC 9112 §5: field-line = field-name ":" OWS field-value OWS, one per line after the start line. */
function parseFieldLines(lines: readonly string[]): { headers: HttpHeaders; rawHeaders: string[] } {
  // A null prototype, as node's own `headers`: a field named `__proto__` must stay a field.
  const headers = Object.create(null) as HttpHeaders;
  const rawHeaders: string[] = [];
  for (let index = 1; index < lines.length; index++) {
    const line = lines[index]!;
    const first = line.charCodeAt(0);
    if (first === SPACE || first === TAB) {
      // RFC 9112 §5.2: obs-fold is deprecated and a server must reject it; a client gains nothing by it.
      throw new MalformedHead(400, `obsolete line folding in header line ${JSON.stringify(line)}`);
    }
    const colon = line.indexOf(':');
    if (colon === -1) throw new MalformedHead(400, `header line without a colon: ${JSON.stringify(line)}`);
    const name = line.slice(0, colon);
    // RFC 9112 §5.1: whitespace between the name and the colon must be rejected; isToken rejects it.
    if (!isToken(name)) throw new MalformedHead(400, `header name ${JSON.stringify(name)} is not a token`);
    // CR, LF and NUL cannot reach a value: the line scan in push() already rejected them (RFC 9110 §5.5).
    const value = trimWhitespace(line, colon + 1, line.length);
    rawHeaders.push(name, value);
    addHeader(headers, name.toLowerCase(), value);
  }
  return { headers, rawHeaders };
}

function addHeader(headers: HttpHeaders, name: string, value: string): void {
  const existing = headers[name];
  if (existing === undefined) {
    headers[name] = name === 'set-cookie' ? [value] : value;
  } else if (Array.isArray(existing)) {
    existing.push(value);
  } else {
    // RFC 9110 §5.3: repeated field lines combine into one comma-separated list, in order.
    headers[name] = `${existing}, ${value}`;
  }
}

/** The part of `text` between `start` and `end` without leading or trailing SP / HTAB (RFC 9110 §5.6.3 OWS). */
function trimWhitespace(text: string, start: number, end: number): string {
  while (start < end && isWhitespace(text.charCodeAt(start))) start++;
  while (end > start && isWhitespace(text.charCodeAt(end - 1))) end--;
  return text.slice(start, end);
}

function isWhitespace(code: number): boolean {
  return code === SPACE || code === TAB;
}

function isVisibleAscii(text: string): boolean {
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code <= SPACE || code >= 0x7f) return false;
  }
  return true;
}
