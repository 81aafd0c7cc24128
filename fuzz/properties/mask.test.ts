// Owns the masking property: hybi's masking (bytes, 32-bit words, and the WebAssembly SIMD kernel from
// 512 bytes) equals RFC 6455 §5.3's byte-at-a-time definition at every alignment, length, key offset and
// split point.

import fc from 'fast-check';
import { expect } from 'vitest';
import { applyMask, copyMasked } from '../../src/protocol/mask.js';
import { maskingKeyArbitrary } from '../arbitraries/frames.js';
import { fuzzTest } from '../support/settings.js';

/** RFC 6455 §5.3: octet i of the result is octet i of the input XOR octet (i MOD 4) of the key. */
function maskedByDefinition(bytes: Uint8Array, key: Uint8Array, keyOffset: number): Buffer {
  return Buffer.from(bytes.map((byte, index) => byte ^ key[(index + keyOffset) % 4]!));
}

/**
 * Bytes at a chosen offset inside a larger buffer, so that every alignment of byteOffset occurs: short
 * (byte and word loops), and around and past the SIMD threshold (test/unit/mask.test.ts crosses the
 * kernel's 64 KiB blocks; here they would cost seconds of the byte-wise definition).
 */
const placedBytesArbitrary = fc
  .tuple(
    fc.integer({ min: 0, max: 7 }),
    fc.oneof(
      { weight: 3, arbitrary: fc.uint8Array({ maxLength: 300 }) },
      { weight: 1, arbitrary: fc.uint8Array({ minLength: 480, maxLength: 3000 }) },
    ),
  )
  .map(([offset, bytes]) => {
    const backing = Buffer.alloc(offset + bytes.length + 8, 0xee);
    backing.set(bytes, offset);
    return backing.subarray(offset, offset + bytes.length);
  });

fuzzTest(
  'mask: applyMask over any split of any range equals the byte-wise definition',
  { runs: 3000, file: import.meta.url },
  () =>
    fc.property(
      placedBytesArbitrary,
      maskingKeyArbitrary(),
      fc.array(fc.nat(), { maxLength: 4 }),
      (bytes, key, cuts) => {
        const expected = maskedByDefinition(bytes, key, 0);
        const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort(
          (left, right) => left - right,
        );
        let keyOffset = 0;
        let start = 0;
        for (const end of [...points, bytes.length]) {
          keyOffset = applyMask(bytes, key, start, end, keyOffset);
          start = end;
        }
        expect(Buffer.from(bytes).equals(expected)).toBe(true);
        expect(keyOffset).toBe(bytes.length % 4);
      },
    ),
);

fuzzTest(
  'mask: copyMasked at any source and target alignment equals the byte-wise definition and leaves the source alone',
  { runs: 3000, file: import.meta.url },
  () =>
    fc.property(
      placedBytesArbitrary,
      maskingKeyArbitrary(),
      fc.integer({ min: 0, max: 7 }),
      (source, key, targetOffset) => {
        const original = Buffer.from(source);
        const target = Buffer.alloc(targetOffset + source.length + 3, 0x11);
        copyMasked(source, target, targetOffset, key);
        expect(
          target
            .subarray(targetOffset, targetOffset + source.length)
            .equals(maskedByDefinition(original, key, 0)),
        ).toBe(true);
        expect(target.subarray(0, targetOffset).every((byte) => byte === 0x11)).toBe(true);
        expect(target.subarray(targetOffset + source.length).every((byte) => byte === 0x11)).toBe(true);
        expect(Buffer.from(source).equals(original)).toBe(true);
      },
    ),
);
