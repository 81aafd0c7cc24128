// Owns the Sec-WebSocket-Extensions grammar (RFC 6455 §9.1): reading offers and responses, writing them.

import type { ExtensionParams, ExtensionParamValue } from '../extensions/extension.js';
import { isToken, isTokenCode } from './http-head.js';

/** One extension in a Sec-WebSocket-Extensions header, with its parameters, e.g. `permessage-deflate`. */
export interface ExtensionOffer {
  name: string;
  params: ExtensionParams;
}

/** The outcome of {@link parseExtensionHeader}: the offers in header order, or why the header is malformed. */
export type ExtensionHeaderResult = { ok: true; offers: ExtensionOffer[] } | { ok: false; reason: string };

const TAB = 0x09;
const SPACE = 0x20;
const QUOTE = 0x22;
const COMMA = 0x2c;
const SEMICOLON = 0x3b;
const EQUALS = 0x3d;
const BACKSLASH = 0x5c;

// Anchored and without nested repetition, so it runs in linear time on any input.
const DECIMAL_INTEGER = /^(?:0|[1-9][0-9]*)$/;

/** Internal: where and why the header broke the grammar; caught in parseExtensionHeader. */
class MalformedExtensionHeader {
  readonly reason: string;
  constructor(reason: string) {
    this.reason = reason;
  }
}

/**
 * Parses a Sec-WebSocket-Extensions header (RFC 6455 §9.1):
 *
 * ```
 * extension-list = 1#extension
 * extension      = extension-token *( ";" extension-param )
 * extension-param = token [ "=" (token | quoted-string) ]
 * ```
 *
 * A bare parameter becomes `true`, a decimal integer value a number, any other value a string, and a
 * parameter given twice an array of its values in order (as faye's websocket-extensions does, so that an
 * extension can decline duplicates). Several header lines joined with `', '` read as one list. A missing,
 * empty or all-whitespace header is an empty list.
 *
 * Stricter than RFC 9110's `#` rule on purpose: an empty list element (`a,,b`, or a leading or trailing
 * comma) is an error, because no WebSocket implementation sends one and a peer that does is broken.
 * A hand-written scanner looks at each character once, so hostile input costs linear time.
 *
 * @example
 * ```ts
 * parseExtensionHeader('permessage-deflate; client_max_window_bits=10, permessage-deflate');
 * // { ok: true, offers: [
 * //   { name: 'permessage-deflate', params: { client_max_window_bits: 10 } },
 * //   { name: 'permessage-deflate', params: {} } ] }
 * ```
 */
export function parseExtensionHeader(header: string | undefined): ExtensionHeaderResult {
  if (header === undefined) return { ok: true, offers: [] };
  try {
    return { ok: true, offers: new ExtensionHeaderScanner(header).readList() };
  } catch (error) {
    if (error instanceof MalformedExtensionHeader) return { ok: false, reason: error.reason };
    throw error;
  }
}

/** A cursor over one header value; each method consumes what it reads. */
class ExtensionHeaderScanner {
  readonly #text: string;
  #index = 0;

  constructor(text: string) {
    this.#text = text;
  }

  readList(): ExtensionOffer[] {
    const offers: ExtensionOffer[] = [];
    this.#skipWhitespace();
    if (this.#isAtEnd()) return offers;
    for (;;) {
      // Strict on purpose (see parseExtensionHeader): `a,,b` and `,a` are errors, not skipped elements.
      if (this.#peek() === COMMA) this.#fail(`empty list element at offset ${this.#index}`);
      offers.push(this.#readExtension());
      if (this.#isAtEnd()) return offers;
      // #readExtension stops only at the end or at a character it cannot take; a comma starts the next one.
      this.#expect(COMMA, 'a comma between extensions');
      this.#skipWhitespace();
      if (this.#isAtEnd()) this.#fail('trailing comma: the list ends with an empty element');
    }
  }

  /** extension = extension-token *( ";" extension-param ), with the whitespace after it. */
  #readExtension(): ExtensionOffer {
    const name = this.#readToken('an extension name');
    const params: ExtensionParams = {};
    this.#skipWhitespace();
    while (this.#peek() === SEMICOLON) {
      this.#index++;
      this.#skipWhitespace();
      const key = this.#readToken('a parameter name');
      this.#skipWhitespace();
      let value: ExtensionParamValue = true;
      if (this.#peek() === EQUALS) {
        this.#index++;
        this.#skipWhitespace();
        value = toParamValue(
          this.#peek() === QUOTE ? this.#readQuotedToken(key) : this.#readToken(`a value for ${key}`),
        );
        this.#skipWhitespace();
      }
      addParam(params, key, value);
    }
    return { name, params };
  }

  #readToken(what: string): string {
    const start = this.#index;
    while (this.#index < this.#text.length && isTokenCode(this.#text.charCodeAt(this.#index))) this.#index++;
    if (this.#index === start) {
      this.#fail(`expected ${what} at offset ${start}, found ${this.#describeCurrent()}`);
    }
    return this.#text.slice(start, this.#index);
  }

  /**
   * RFC 6455 §9.1: a quoted-string value must be a token once its quoted-pairs are unescaped, so inside the
   * quotes only token characters, each optionally escaped with a backslash, are accepted.
   */
  #readQuotedToken(key: string): string {
    const quoteOffset = this.#index;
    this.#index++;
    let value = '';
    let segmentStart = this.#index;
    for (;;) {
      if (this.#isAtEnd()) {
        this.#fail(`unterminated quoted value for ${key} starting at offset ${quoteOffset}`);
      }
      const code = this.#text.charCodeAt(this.#index);
      if (code === QUOTE) break;
      if (code === BACKSLASH) {
        value += this.#text.slice(segmentStart, this.#index);
        this.#index++;
        segmentStart = this.#index;
        if (this.#isAtEnd()) {
          this.#fail(`unterminated quoted value for ${key} starting at offset ${quoteOffset}`);
        }
      }
      if (!isTokenCode(this.#text.charCodeAt(this.#index))) {
        this.#fail(
          `quoted value for ${key} is not a token after unescaping (RFC 6455 §9.1): found ${this.#describeCurrent()}`,
        );
      }
      this.#index++;
    }
    value += this.#text.slice(segmentStart, this.#index);
    this.#index++;
    if (value.length === 0) this.#fail(`quoted value for ${key} at offset ${quoteOffset} is empty`);
    return value;
  }

  /** Optional whitespace (SP / HTAB) may surround `,` `;` and `=`; RFC 9110 §5.6.3 OWS. */
  #skipWhitespace(): void {
    for (;;) {
      const code = this.#peek();
      if (code !== SPACE && code !== TAB) return;
      this.#index++;
    }
  }

  #expect(code: number, what: string): void {
    if (this.#peek() !== code) {
      this.#fail(`expected ${what} at offset ${this.#index}, found ${this.#describeCurrent()}`);
    }
    this.#index++;
  }

  #peek(): number {
    // NaN past the end, which equals no character code.
    return this.#text.charCodeAt(this.#index);
  }

  #isAtEnd(): boolean {
    return this.#index >= this.#text.length;
  }

  #describeCurrent(): string {
    return this.#isAtEnd() ? 'the end of the header' : JSON.stringify(this.#text.charAt(this.#index));
  }

  #fail(reason: string): never {
    throw new MalformedExtensionHeader(`invalid Sec-WebSocket-Extensions header: ${reason}`);
  }
}

/**
 * Decimal integers become numbers, as in websocket-extensions; one too large to be exact stays a string,
 * so that reading and writing it back never changes its digits.
 */
function toParamValue(text: string): string | number {
  if (!DECIMAL_INTEGER.test(text)) return text;
  const number = Number(text);
  return Number.isSafeInteger(number) ? number : text;
}

function addParam(params: ExtensionParams, key: string, value: ExtensionParamValue): void {
  if (!Object.hasOwn(params, key)) {
    // defineProperty, not assignment: a parameter named `__proto__` must become a parameter.
    Object.defineProperty(params, key, { value, enumerable: true, writable: true, configurable: true });
    return;
  }
  const existing = params[key]!;
  if (Array.isArray(existing)) existing.push(value);
  else params[key] = [existing, value];
}

/**
 * Writes offers (or a response) as a Sec-WebSocket-Extensions value: `name; key; key=value`, extensions
 * joined with `', '`. `true` writes a bare parameter, an array repeats the parameter once per value (an
 * empty array writes nothing), and a string that is not a token is quoted.
 *
 * Throws a TypeError for a name or key that is not a token, a value that is not `true`, a string or a
 * finite number, or a string that cannot be written in a header at all (control characters, or
 * characters beyond U+00FF).
 *
 * @example
 * ```ts
 * serializeExtensionHeader([{ name: 'permessage-deflate', params: { client_max_window_bits: true } }]);
 * // 'permessage-deflate; client_max_window_bits'
 * ```
 */
export function serializeExtensionHeader(offers: readonly ExtensionOffer[]): string {
  const extensions: string[] = [];
  for (const offer of offers) {
    if (typeof offer.name !== 'string' || !isToken(offer.name)) {
      throw new TypeError(`extension name must be a token string, not ${JSON.stringify(offer.name)}`);
    }
    let text = offer.name;
    for (const key of Object.keys(offer.params)) {
      if (!isToken(key)) {
        throw new TypeError(`extension parameter name must be a token, not ${JSON.stringify(key)}`);
      }
      const value = offer.params[key];
      if (Array.isArray(value)) {
        for (const item of value) text += serializeParam(key, item);
      } else {
        text += serializeParam(key, value);
      }
    }
    extensions.push(text);
  }
  return extensions.join(', ');
}

function serializeParam(key: string, value: unknown): string {
  if (value === true) return `; ${key}`;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) {
      throw new TypeError(`extension parameter ${key} must be a finite number, not ${value}`);
    }
    return `; ${key}=${value}`;
  }
  if (typeof value === 'string') {
    // RFC 6455 §9.1: a value, quoted or not, must be a token; so a value that is not one (empty, with a
    // space, a quote, ...) can never be sent, and writing it quoted would only make the peer refuse it.
    if (isToken(value)) return `; ${key}=${value}`;
    throw new TypeError(
      `extension parameter ${key} must be a token (RFC 6455 §9.1), not ${JSON.stringify(value)}`,
    );
  }
  throw new TypeError(
    `extension parameter ${key} must be true, a string, a number or an array of those, not ${String(value)}`,
  );
}
