// Owns Sec-WebSocket-Extensions as fuzz input: offers that survive writing and reading, hostile header text,
// and a recognizer of the RFC 6455 §9.1 grammar written apart from any parser under test.

import fc from 'fast-check';
import { tokenArbitrary } from './handshake.js';

/** A parameter value as extension-header parsers commonly give it: `true` when bare, a number when decimal. */
export type ExtensionParamSpec = true | string | number;

/** One extension with its parameters; a parameter given more than once holds an array, in order. */
export interface ExtensionOfferSpec {
  name: string;
  params: Record<string, ExtensionParamSpec | ExtensionParamSpec[]>;
}

const DECIMAL = /^(?:0|[1-9][0-9]*)$/;

/**
 * Offers whose every value a §9.1 header can carry unchanged: bare parameters, token strings that do not
 * look like decimal integers (those read back as numbers), and non-negative safe integers. Duplicated
 * parameters appear as arrays of two to four values.
 */
export function extensionOffersArbitrary(): fc.Arbitrary<ExtensionOfferSpec[]> {
  const stringValue = tokenArbitrary(8).filter((value) => !DECIMAL.test(value));
  const scalar: fc.Arbitrary<ExtensionParamSpec> = fc.oneof(
    fc.constant(true as const),
    fc.nat(),
    fc.maxSafeNat(),
    stringValue,
  );
  const value = fc.oneof(
    { weight: 4, arbitrary: scalar },
    { weight: 1, arbitrary: fc.array(scalar, { minLength: 2, maxLength: 4 }) },
  );
  // A null-prototype-free record: keys like `__proto__` are legal tokens and must stay parameters.
  const params = fc
    .uniqueArray(fc.tuple(tokenArbitrary(10), value), { selector: ([key]) => key, maxLength: 5 })
    .map((entries) => {
      const result: Record<string, ExtensionParamSpec | ExtensionParamSpec[]> = {};
      for (const [key, entry] of entries) {
        Object.defineProperty(result, key, {
          value: entry,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return result;
    });
  return fc.array(fc.record({ name: tokenArbitrary(20), params }), { maxLength: 4 });
}

/**
 * Header text near the §9.1 grammar: well-formed headers with one edit (a character inserted, deleted or
 * replaced with one of the grammar's separators), and strings over the grammar's alphabet. Aim it at a
 * parser together with {@link isExtensionHeaderGrammatical}.
 */
export function extensionHeaderTextArbitrary(): fc.Arbitrary<string> {
  const alphabet = fc.constantFrom(
    'a',
    'b',
    'Z',
    '1',
    '0',
    '-',
    '_',
    ';',
    ',',
    '=',
    '"',
    '\\',
    ' ',
    '\t',
    '/',
    '(',
    '@',
    '\u00e9',
    '\u0000',
  );
  const wellFormed = fc
    .record({
      offers: extensionOffersArbitrary(),
      quoting: fc.nat(),
      whitespace: fc.nat(),
    })
    .map(({ offers, quoting, whitespace }) => writeLoosely(offers, quoting, whitespace));
  const edited = fc
    .tuple(wellFormed, fc.nat(), fc.constantFrom('insert', 'delete', 'replace'), alphabet)
    .map(([text, position, edit, character]) => {
      const at = position % (text.length + 1);
      if (edit === 'insert') return text.slice(0, at) + character + text.slice(at);
      if (edit === 'delete') return text.slice(0, at) + text.slice(at + 1);
      return text.slice(0, at) + character + text.slice(at + 1);
    });
  return fc.oneof(wellFormed, edited, fc.string({ unit: alphabet, maxLength: 40 }));
}

/**
 * Writes offers with the freedom the grammar allows: optional whitespace around `,` `;` `=`, and token
 * values sometimes as quoted strings with some characters escaped (`"a\b"` is the token `ab`).
 */
function writeLoosely(offers: readonly ExtensionOfferSpec[], quoting: number, whitespace: number): string {
  let bit = 0;
  const next = (pattern: number): boolean => ((pattern >>> (bit++ % 31)) & 1) === 1;
  const ows = (): string => (next(whitespace) ? (next(whitespace) ? ' ' : '\t') : '');
  return offers
    .map((offer) => {
      let text = offer.name;
      for (const [key, value] of Object.entries(offer.params)) {
        for (const item of Array.isArray(value) ? value : [value]) {
          text += `${ows()};${ows()}${key}`;
          if (item === true) continue;
          const written = String(item);
          const escaped = [...written]
            .map((character) => (next(quoting) ? `\\${character}` : character))
            .join('');
          text += `${ows()}=${ows()}${next(quoting) ? `"${escaped}"` : written}`;
        }
      }
      return `${ows()}${text}${ows()}`;
    })
    .join(',');
}

/** Options of {@link isExtensionHeaderGrammatical}. */
export interface ExtensionGrammarOptions {
  /**
   * RFC 9110 §5.6.1 lets a recipient skip empty list elements (`a,,b`, a leading or trailing comma).
   * Default false: hybi rejects them on purpose, since no WebSocket implementation sends them.
   */
  allowEmptyElements?: boolean;
}

const TOKEN = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+";
const TOKEN_CHARACTER = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]";
const OWS = '[ \\t]*';
// RFC 6455 §9.1: a quoted value must be a token once unescaped, so only token characters, each maybe escaped.
const QUOTED_TOKEN = `"(?:\\\\?${TOKEN_CHARACTER})+"`;
const PARAM = `${TOKEN}(?:${OWS}=${OWS}(?:${TOKEN}|${QUOTED_TOKEN}))?`;
const EXTENSION = `${TOKEN}(?:${OWS};${OWS}${PARAM})*`;
const STRICT_LIST = new RegExp(`^${OWS}(?:${EXTENSION}(?:${OWS},${OWS}${EXTENSION})*)?${OWS}$`);
const LENIENT_LIST = new RegExp(
  `^(?:${OWS},)*${OWS}(?:${EXTENSION}(?:${OWS},(?:${OWS},)*${OWS}${EXTENSION})*)?(?:${OWS},)*${OWS}$`,
);

/**
 * Whether `text` is a Sec-WebSocket-Extensions value by RFC 6455 §9.1:
 *
 * ```
 * Sec-WebSocket-Extensions = extension-list
 * extension-list = 1#extension
 * extension = extension-token *( ";" extension-param )
 * extension-param = token [ "=" (token | quoted-string) ]   ; quoted: a token once unescaped
 * ```
 *
 * with RFC 9110 §5.6.3 optional whitespace around the separators. The empty string (no extensions) counts
 * as grammatical, since a parser reads an absent or empty header as an empty list.
 */
export function isExtensionHeaderGrammatical(text: string, options: ExtensionGrammarOptions = {}): boolean {
  return (options.allowEmptyElements === true ? LENIENT_LIST : STRICT_LIST).test(text);
}
