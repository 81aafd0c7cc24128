import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ExtensionParams } from '../../src/extensions/extension.js';
import {
  type ExtensionOffer,
  parseExtensionHeader,
  serializeExtensionHeader,
} from '../../src/protocol/extension-header.js';

function offersOf(header: string | undefined): ExtensionOffer[] {
  const result = parseExtensionHeader(header);
  if (!result.ok) throw new Error(`expected ${JSON.stringify(header)} to parse, got: ${result.reason}`);
  return result.offers;
}

describe('parseExtensionHeader', () => {
  it('reads a missing, empty or all-whitespace header as an empty list', () => {
    expect(offersOf(undefined)).toEqual([]);
    expect(offersOf('')).toEqual([]);
    expect(offersOf(' \t ')).toEqual([]);
  });

  it('reads a bare extension with no parameters', () => {
    expect(offersOf('permessage-deflate')).toEqual([{ name: 'permessage-deflate', params: {} }]);
  });

  it('reads bare parameters as true and decimal integers as numbers', () => {
    expect(offersOf('permessage-deflate; client_max_window_bits; server_max_window_bits=10')).toEqual([
      { name: 'permessage-deflate', params: { client_max_window_bits: true, server_max_window_bits: 10 } },
    ]);
  });

  it('keeps values that are not plain decimal integers as strings', () => {
    expect(offersOf('x; a=010; b=-1; c=1.5; d=abc; e=0')).toEqual([
      { name: 'x', params: { a: '010', b: '-1', c: '1.5', d: 'abc', e: 0 } },
    ]);
  });

  it('keeps an integer too large to be exact as a string, so its digits survive', () => {
    expect(offersOf('x; a=123456789012345678901234567890')).toEqual([
      { name: 'x', params: { a: '123456789012345678901234567890' } },
    ]);
  });

  it('unescapes a quoted value and converts it like a token value', () => {
    expect(offersOf('x; a="abc"; b="1\\2"; c="\\a\\b"; d="15"')).toEqual([
      { name: 'x', params: { a: 'abc', b: 12, c: 'ab', d: 15 } },
    ]);
  });

  it('turns a repeated parameter into an array of its values in order', () => {
    expect(offersOf('x; a=1; b; a=two; a')).toEqual([
      { name: 'x', params: { a: [1, 'two', true], b: true } },
    ]);
  });

  it('reads several extensions, including the same one offered twice, in order', () => {
    expect(
      offersOf('permessage-deflate; client_max_window_bits=10, permessage-deflate, x-webkit-deflate-frame'),
    ).toEqual([
      { name: 'permessage-deflate', params: { client_max_window_bits: 10 } },
      { name: 'permessage-deflate', params: {} },
      { name: 'x-webkit-deflate-frame', params: {} },
    ]);
  });

  it('allows spaces and tabs around commas, semicolons and equals signs', () => {
    expect(offersOf(' a \t;\tb = 1 ; c= "d" \t,\t e ;f ')).toEqual([
      { name: 'a', params: { b: 1, c: 'd' } },
      { name: 'e', params: { f: true } },
    ]);
  });

  it('reads header lines joined with ", " as one list', () => {
    const joined = ['permessage-deflate; client_max_window_bits', 'x-foo; a=1'].join(', ');
    expect(offersOf(joined)).toEqual([
      { name: 'permessage-deflate', params: { client_max_window_bits: true } },
      { name: 'x-foo', params: { a: 1 } },
    ]);
  });

  it('keeps the case of names and keys', () => {
    expect(offersOf('X-Ext; Key=Value')).toEqual([{ name: 'X-Ext', params: { Key: 'Value' } }]);
  });

  it('keeps a parameter named __proto__ as an ordinary parameter', () => {
    const [offer] = offersOf('x; __proto__=1; __proto__=2; constructor');
    expect(Object.entries(offer!.params)).toEqual([
      ['__proto__', [1, 2]],
      ['constructor', true],
    ]);
    expect(Object.getPrototypeOf(offer!.params)).toBe(Object.prototype);
  });

  const malformed: Array<[string, string]> = [
    [',', 'a lone comma'],
    ['a,', 'a trailing comma'],
    ['a, ', 'a trailing comma followed by whitespace'],
    [',a', 'a leading comma'],
    ['a,,b', 'an empty element between commas'],
    ['a, ,b', 'an empty element made of whitespace'],
    [';a', 'a parameter without an extension'],
    ['a;', 'a semicolon without a parameter'],
    ['a;;b', 'two semicolons in a row'],
    ['a; b=', 'an equals sign without a value'],
    ['a; =1', 'a value without a parameter name'],
    ['a=1', 'a value on the extension name'],
    ['a b', 'two tokens separated by a space'],
    ['a; b c', 'a parameter followed by a stray token'],
    ['a; b=c d', 'a value followed by a stray token'],
    ['a; b=c=d', 'two equals signs'],
    ['a; b="', 'an unterminated quoted value'],
    ['a; b="c', 'an unterminated quoted value with content'],
    ['a; b="c\\', 'an escape at the end of the header'],
    ['a; b=""', 'an empty quoted value'],
    ['a; b="c d"', 'a quoted value that is not a token'],
    ['a; b="c,d"', 'a quoted value containing a comma'],
    ['a; b="c\\ d"', 'a quoted value with an escaped space'],
    ['a; b="c"d', 'a quoted value followed by more characters'],
    ['"a"', 'a quoted extension name'],
    ['a; "b"', 'a quoted parameter name'],
    ['a\r\n b', 'a line break'],
    ['a; b=\u00e9', 'a non-ASCII value'],
    ['d\u00e9flate', 'a non-ASCII name'],
    ['a/b', 'a separator inside a name'],
    ['a; b=(c)', 'separators in a value'],
  ];

  it.each(malformed)('rejects %j (%s)', (header) => {
    const result = parseExtensionHeader(header);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(/^invalid Sec-WebSocket-Extensions header: /);
  });

  it('says which offset holds the empty element', () => {
    expect(parseExtensionHeader('a,,b')).toEqual({
      ok: false,
      reason: 'invalid Sec-WebSocket-Extensions header: empty list element at offset 2',
    });
  });

  describe('on 100 KB pathological headers', () => {
    const size = 100 * 1024;
    const pathological: Array<[string, string, boolean]> = [
      ['many parameters, ending in a semicolon', `a${'; b'.repeat(size / 3)};`, false],
      ['many extensions, ending in a comma', `${'a, '.repeat(size / 3)}`, false],
      ['whitespace runs between separators', `a${' '.repeat(size)};${' \t'.repeat(size / 2)}b`, true],
      ['whitespace ending in a stray token', `a${' '.repeat(size)}b`, false],
      ['an unterminated quoted value full of escapes', `a; b="${'\\c'.repeat(size / 2)}`, false],
      ['a long quoted value full of escapes', `a; b="${'\\c'.repeat(size / 2)}"`, true],
      ['a huge number of repeated parameters', `a${'; b=1'.repeat(size / 6)}`, true],
      ['alternating semicolons and equals signs', `a${'; b=c'.repeat(size / 6)}=`, false],
    ];

    it.each(pathological)('answers quickly for %s', (_description, header, isValid) => {
      const started = performance.now();
      const result = parseExtensionHeader(header);
      const elapsed = performance.now() - started;
      expect(result.ok).toBe(isValid);
      expect(elapsed).toBeLessThan(500);
    });
  });
});

describe('serializeExtensionHeader', () => {
  it('writes name; key; key=value joined by ", "', () => {
    expect(
      serializeExtensionHeader([
        {
          name: 'permessage-deflate',
          params: { client_no_context_takeover: true, client_max_window_bits: 10 },
        },
        { name: 'permessage-deflate', params: {} },
      ]),
    ).toBe('permessage-deflate; client_no_context_takeover; client_max_window_bits=10, permessage-deflate');
  });

  it('writes an empty list as an empty string', () => {
    expect(serializeExtensionHeader([])).toBe('');
  });

  it('writes an array as the parameter repeated once per value', () => {
    expect(serializeExtensionHeader([{ name: 'x', params: { a: [1, 'two', true] } }])).toBe(
      'x; a=1; a=two; a',
    );
  });

  it('writes token values bare and refuses values that are not tokens (RFC 6455 §9.1)', () => {
    expect(serializeExtensionHeader([{ name: 'x', params: { a: 'plain' } }])).toBe('x; a=plain');
    expect(() => serializeExtensionHeader([{ name: 'x', params: { b: 'has space' } }])).toThrow(TypeError);
    expect(() => serializeExtensionHeader([{ name: 'x', params: { c: 'q"b\\' } }])).toThrow(TypeError);
  });

  const unserializable: Array<[string, ExtensionOffer[]]> = [
    ['an extension name with a space', [{ name: 'bad name', params: {} }]],
    ['an empty extension name', [{ name: '', params: {} }]],
    ['a parameter key with a separator', [{ name: 'x', params: { 'a=b': true } }]],
    ['a value with CR LF', [{ name: 'x', params: { a: 'b\r\nSet-Cookie: c' } }]],
    ['a value beyond U+00FF', [{ name: 'x', params: { a: '\u010a' } }]],
    ['a non-finite number', [{ name: 'x', params: { a: Number.NaN } }]],
    ['a value of false', [{ name: 'x', params: { a: false } as unknown as ExtensionParams }]],
  ];

  it.each(unserializable)('throws a TypeError for %s', (_description, offers) => {
    expect(() => serializeExtensionHeader(offers)).toThrow(TypeError);
  });

  it('round-trips examples: parse(serialize(offers)) deep-equals offers', () => {
    const examples: ExtensionOffer[][] = [
      [],
      [{ name: 'permessage-deflate', params: {} }],
      [
        {
          name: 'permessage-deflate',
          params: { server_no_context_takeover: true, client_max_window_bits: 12 },
        },
        { name: 'permessage-deflate', params: { client_max_window_bits: true } },
        { name: 'x-custom', params: { mode: 'fast', level: [1, 2, 3], flag: [true, true] } },
      ],
    ];
    for (const offers of examples) expect(offersOf(serializeExtensionHeader(offers))).toEqual(offers);
  });

  it('round-trips any offers with token names and token, integer or bare values', () => {
    const tokenCharacter = fc.constantFrom(
      ..."!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    );
    const token = fc.string({ unit: tokenCharacter, minLength: 1, maxLength: 8 });
    // A string that looks like a decimal integer would come back as a number, so leave those out.
    const stringValue = token.filter((value) => !/^(?:0|[1-9][0-9]*)$/.test(value));
    const scalar = fc.oneof(fc.constant(true as const), fc.nat(), stringValue);
    const value = fc.oneof(scalar, fc.array(scalar, { minLength: 2, maxLength: 4 }));
    const params = fc.dictionary(token, value, { maxKeys: 5 });
    const offers = fc.array(fc.record({ name: token, params }), { maxLength: 4 });
    fc.assert(
      fc.property(offers, (generated) => {
        // Compare through JSON: the parser's params have Object.prototype, fast-check's dictionaries may not.
        const expected = JSON.parse(JSON.stringify(generated)) as ExtensionOffer[];
        expect(offersOf(serializeExtensionHeader(generated))).toEqual(expected);
      }),
    );
  });
});
