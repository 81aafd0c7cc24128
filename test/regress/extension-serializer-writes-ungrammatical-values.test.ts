// Owns the regression for an extension-header fuzz counterexample: serializeExtensionHeader must never write
// a header that parseExtensionHeader, and the RFC 6455 §9.1 grammar, refuse.

import { describe, expect, it } from 'vitest';
import type { ExtensionOffer } from '../../src/protocol/extension-header.js';
import { parseExtensionHeader, serializeExtensionHeader } from '../../src/protocol/extension-header.js';

describe('serializeExtensionHeader', () => {
  // Found by fuzz/properties/extension-header.test.ts: `[{ name: '!', params: { '!': '' } }]` was written as
  // `!; !=""`. RFC 6455 §9.1 requires a quoted value to be a token after unescaping, so an empty or non-token
  // string can never be sent; the parser (rightly) refused what the serializer wrote. Fixed: the serializer
  // now throws a TypeError for such values instead of quoting them.
  const cases: Array<[string, ExtensionOffer[]]> = [
    ['an empty string value', [{ name: '!', params: { '!': '' } }]],
    ['a value with a space', [{ name: 'x', params: { a: 'has space' } }]],
    ['a value with a quote and a backslash', [{ name: 'x', params: { c: 'q"b\\' } }]],
  ];

  it.each(cases)('writes only headers the parser accepts, given %s', (_description, offers) => {
    let header: string;
    try {
      header = serializeExtensionHeader(offers);
    } catch (error) {
      // Refusing the value is a correct outcome.
      expect(error).toBeInstanceOf(TypeError);
      return;
    }
    expect(parseExtensionHeader(header)).toMatchObject({ ok: true });
  });
});
