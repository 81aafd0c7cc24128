// Owns the UTF-8 property: hybi's incremental validator agrees with the WHATWG decoder (Node's ICU, in
// fatal streaming mode) on every byte sequence in every chunking: the same chunk fails, the same end is complete.

import { TextDecoder } from 'node:util';
import fc from 'fast-check';
import { expect } from 'vitest';
import { isValidUtf8, Utf8Validator } from '../../src/protocol/utf8.js';
import { chunkSplitterArbitrary, splitChunks } from '../arbitraries/chunks.js';
import { textArbitrary } from '../arbitraries/messages.js';
import { invalidUtf8TextArbitrary, truncatedUtf8Arbitrary } from '../arbitraries/utf8.js';
import { fuzzTest } from '../support/settings.js';

/** Bytes near UTF-8: valid text (long enough for the native path too), broken text, cut text, noise. */
const nearUtf8Arbitrary = fc.oneof(
  textArbitrary(600).map((text) => Buffer.from(text, 'utf8')),
  invalidUtf8TextArbitrary(300),
  truncatedUtf8Arbitrary(300),
  fc.uint8Array({ maxLength: 400 }),
  fc.array(fc.integer({ min: 0x80, max: 0xff }), { maxLength: 40 }).map((bytes) => Uint8Array.from(bytes)),
);

fuzzTest(
  'utf8: the incremental validator fails on the same chunk as the WHATWG decoder and agrees on completeness',
  { runs: 3000, file: import.meta.url },
  () =>
    fc.property(nearUtf8Arbitrary, chunkSplitterArbitrary(), (bytes, splitter) => {
      const validator = new Utf8Validator();
      const decoder = new TextDecoder('utf-8', { fatal: true });
      const chunks = splitChunks(bytes, splitter);
      for (const [index, chunk] of chunks.entries()) {
        let isDecodable = true;
        try {
          decoder.decode(chunk, { stream: true });
        } catch {
          isDecodable = false;
        }
        expect({ chunk: index, isValid: validator.update(chunk) }).toEqual({
          chunk: index,
          isValid: isDecodable,
        });
        if (!isDecodable) return;
      }
      let isWhole = true;
      try {
        decoder.decode();
      } catch {
        isWhole = false;
      }
      expect(validator.isComplete()).toBe(isWhole);
      expect(isValidUtf8(bytes)).toBe(isWhole);
    }),
);
