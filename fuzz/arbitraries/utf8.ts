// Owns UTF-8 as hostile input: byte sequences that are not UTF-8, and valid text cut inside a character.

import fc from 'fast-check';
import { textArbitrary } from './messages.js';

/**
 * A short byte sequence that can never appear in UTF-8 (RFC 3629 §3 and §4), by kind: a stray
 * continuation byte, an overlong form, a surrogate, a code point above U+10FFFF, a byte that never
 * occurs (C0, C1, F5-FF), or a lead byte followed by something other than a continuation.
 */
export function invalidUtf8SequenceArbitrary(): fc.Arbitrary<Uint8Array> {
  const continuation = fc.integer({ min: 0x80, max: 0xbf });
  const sequences: fc.Arbitrary<number[]>[] = [
    // A continuation byte with no lead byte.
    continuation.map((byte) => [byte]),
    // Overlong encodings: C0/C1 lead bytes, E0 80-9F, F0 80-8F.
    fc.tuple(fc.constantFrom(0xc0, 0xc1), continuation),
    fc.tuple(fc.constant(0xe0), fc.integer({ min: 0x80, max: 0x9f }), continuation),
    fc.tuple(fc.constant(0xf0), fc.integer({ min: 0x80, max: 0x8f }), continuation, continuation),
    // UTF-16 surrogates U+D800-U+DFFF encoded as ED A0-BF.
    fc.tuple(fc.constant(0xed), fc.integer({ min: 0xa0, max: 0xbf }), continuation),
    // Above U+10FFFF: F4 90-BF, or F5-F7 leads.
    fc.tuple(fc.constant(0xf4), fc.integer({ min: 0x90, max: 0xbf }), continuation, continuation),
    fc.tuple(fc.integer({ min: 0xf5, max: 0xff }), continuation, continuation, continuation),
    // A lead byte cut short by ASCII.
    fc.tuple(fc.integer({ min: 0xc2, max: 0xf4 }), fc.integer({ min: 0x00, max: 0x7f })),
  ];
  return fc.oneof(...sequences).map((bytes) => Uint8Array.from(bytes));
}

/** Valid text with an invalid sequence inserted somewhere: what a text frame must be failed for (RFC 6455 §8.1). */
export function invalidUtf8TextArbitrary(maxLength = 100): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(textArbitrary(maxLength), invalidUtf8SequenceArbitrary(), textArbitrary(maxLength), fc.nat())
    .map(([before, invalid, after, position]) => {
      const beforeBytes = Buffer.from(before, 'utf8');
      const cut = characterBoundaries(beforeBytes);
      const at = cut[position % cut.length]!;
      return Buffer.concat([
        beforeBytes.subarray(0, at),
        invalid,
        beforeBytes.subarray(at),
        Buffer.from(after, 'utf8'),
      ]);
    });
}

/**
 * Valid text whose last character is cut short: every prefix of a multi-byte character (`E2 82` of
 * `E2 82 AC`). Valid as the start of a fragmented message, invalid as a whole message.
 */
export function truncatedUtf8Arbitrary(maxLength = 100): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(textArbitrary(maxLength), fc.integer({ min: 0x80, max: 0x10ffff }), fc.nat())
    .filter(([, codePoint]) => codePoint < 0xd800 || codePoint > 0xdfff)
    .map(([text, codePoint, cut]) => {
      const character = Buffer.from(String.fromCodePoint(codePoint), 'utf8');
      const keep = 1 + (cut % (character.length - 1));
      return Buffer.concat([Buffer.from(text, 'utf8'), character.subarray(0, keep)]);
    });
}

/** Offsets in `bytes` (UTF-8) where a character starts, plus the end. */
function characterBoundaries(bytes: Uint8Array): number[] {
  const boundaries: number[] = [];
  for (let index = 0; index < bytes.length; index++) {
    if ((bytes[index]! & 0xc0) !== 0x80) boundaries.push(index);
  }
  boundaries.push(bytes.length);
  return boundaries;
}
