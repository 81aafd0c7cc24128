// Owns the Sec-WebSocket-Extensions properties: what hybi writes it reads back unchanged, what it writes is
// always grammatical, and it accepts header text exactly when the RFC 6455 §9.1 grammar does.

import fc from 'fast-check';
import { expect } from 'vitest';
import {
  type ExtensionOffer,
  parseExtensionHeader,
  serializeExtensionHeader,
} from '../../src/protocol/extension-header.js';
import {
  type ExtensionOfferSpec,
  extensionHeaderTextArbitrary,
  extensionOffersArbitrary,
  isExtensionHeaderGrammatical,
} from '../arbitraries/extension-header.js';
import { tokenArbitrary } from '../arbitraries/handshake.js';
import { fuzzTest } from '../support/settings.js';

/** Plain JSON, so that null-prototype and ordinary objects compare equal. */
function plain(offers: readonly ExtensionOffer[] | readonly ExtensionOfferSpec[]): unknown {
  return JSON.parse(JSON.stringify(offers));
}

fuzzTest(
  'extension header: parse(serialize(offers)) gives the offers back, and serializing again gives the same text',
  { runs: 2000, file: import.meta.url },
  () =>
    fc.property(extensionOffersArbitrary(), (offers) => {
      const header = serializeExtensionHeader(offers);
      const parsed = parseExtensionHeader(header);
      expect(parsed).toMatchObject({ ok: true });
      if (!parsed.ok) return;
      expect(plain(parsed.offers)).toEqual(plain(offers));
      expect(serializeExtensionHeader(parsed.offers)).toBe(header);
    }),
);

fuzzTest(
  'extension header: whatever serializeExtensionHeader writes is grammatical (RFC 6455 §9.1) and parses',
  { runs: 2000, file: import.meta.url },
  () => {
    // Wider than what round-trips: any string or number value, as an application might hand over.
    const value = fc.oneof(
      fc.constant(true as const),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.integer(),
      tokenArbitrary(),
      fc.string({
        unit: fc.constantFrom('a', ' ', '"', '\\', ',', ';', '=', '\t', '/', '\u00e9'),
        maxLength: 8,
      }),
    );
    const offers = fc.array(
      fc.record({ name: tokenArbitrary(), params: fc.dictionary(tokenArbitrary(), value, { maxKeys: 3 }) }),
      { maxLength: 3 },
    );
    return fc.property(offers, (generated) => {
      let header: string;
      try {
        header = serializeExtensionHeader(generated);
      } catch (error) {
        // Refusing to write a value is fine; writing one the grammar forbids is not (it once quoted non-token
        // strings: test/regress/extension-serializer-writes-ungrammatical-values.test.ts).
        expect(error).toBeInstanceOf(TypeError);
        return;
      }
      expect({ header, isGrammatical: isExtensionHeaderGrammatical(header) }).toEqual({
        header,
        isGrammatical: true,
      });
      expect(parseExtensionHeader(header)).toMatchObject({ ok: true });
    });
  },
);

fuzzTest(
  'extension header: the parser accepts text exactly when the RFC 6455 §9.1 grammar does',
  { runs: 3000, file: import.meta.url },
  () =>
    fc.property(extensionHeaderTextArbitrary(), (text) => {
      const parsed = parseExtensionHeader(text);
      expect({ text, ok: parsed.ok }).toEqual({ text, ok: isExtensionHeaderGrammatical(text) });
      if (!parsed.ok) return;
      // Normal form: what it read, written and read again, is the same.
      const again = parseExtensionHeader(serializeExtensionHeader(parsed.offers));
      expect(again.ok && plain(again.offers)).toEqual(plain(parsed.offers));
    }),
);
