import { randomFillSync } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { applyMask, copyMasked, MaskKeyPool } from '../../src/protocol/mask.js';
import { simdMasker } from '../../src/protocol/mask-simd.js';

// Count the calls MaskKeyPool makes while still filling with real random bytes.
vi.mock('node:crypto', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:crypto')>();
  return { ...original, randomFillSync: vi.fn(original.randomFillSync) };
});

const MASKING_KEY = Uint8Array.from([0x37, 0xfa, 0x21, 0x3d]);

/**
 * Lengths that cover the byte loop, both sides of the word-path threshold (128), both sides of the
 * SIMD threshold (512) with every tail the kernel has (64-byte turns, words, bytes), and long ranges.
 */
const LONG_LENGTHS = [
  120, 127, 128, 129, 130, 131, 132, 133, 140, 257, 511, 512, 513, 514, 515, 575, 576, 577, 591, 1000,
];

function patterned(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let index = 0; index < length; index++) bytes[index] = (index * 131 + seed * 17 + 7) & 0xff;
  return bytes;
}

/** A view of `length` bytes whose byteOffset is `alignment` past a 4-byte boundary of its buffer. */
function viewAt(alignment: number, contents: Uint8Array): Uint8Array {
  const view = new Uint8Array(new ArrayBuffer(contents.length + 8), alignment, contents.length);
  view.set(contents);
  return view;
}

function naiveMask(bytes: Uint8Array, key: Uint8Array, start: number, end: number, keyOffset: number): void {
  for (let index = start; index < end; index++)
    bytes[index] = bytes[index]! ^ key[(keyOffset + index - start) & 3]!;
}

describe('applyMask', () => {
  it('agrees with a byte loop for every length 0..64, range, byteOffset alignment and key offset', () => {
    let cases = 0;
    for (let length = 0; length <= 64; length++) {
      const contents = patterned(length, length);
      for (let alignment = 0; alignment < 4; alignment++) {
        for (let start = 0; start <= length; start++) {
          for (let end = start; end <= length; end++) {
            for (let keyOffset = 0; keyOffset < 4; keyOffset++) {
              const actual = viewAt(alignment, contents);
              const expected = contents.slice();
              naiveMask(expected, MASKING_KEY, start, end, keyOffset);
              const nextOffset = applyMask(actual, MASKING_KEY, start, end, keyOffset);
              if (nextOffset !== ((keyOffset + end - start) & 3) || Buffer.compare(actual, expected) !== 0) {
                throw new Error(
                  `mismatch: length ${length} alignment ${alignment} [${start}, ${end}) key ${keyOffset}`,
                );
              }
              cases++;
            }
          }
        }
      }
    }
    // 4 alignments × 4 key offsets × C(67, 3) = 47,905 ranges [start, end) over lengths 0..64.
    expect(cases).toBe(766_480);
  });

  it('agrees with a byte loop on the word path, for every alignment, head, tail and key offset', () => {
    for (const length of LONG_LENGTHS) {
      const total = length + 16;
      const contents = patterned(total, length);
      for (let alignment = 0; alignment < 4; alignment++) {
        for (let start = 0; start < 8; start++) {
          for (let end = start + length; end <= total && end <= start + length + 8; end++) {
            for (let keyOffset = 0; keyOffset < 4; keyOffset++) {
              const actual = viewAt(alignment, contents);
              const expected = contents.slice();
              naiveMask(expected, MASKING_KEY, start, end, keyOffset);
              expect(applyMask(actual, MASKING_KEY, start, end, keyOffset)).toBe(
                (keyOffset + end - start) & 3,
              );
              expect(Buffer.compare(actual, expected)).toBe(0);
            }
          }
        }
      }
    }
  });

  it('restores the original bytes when applied twice', () => {
    for (const length of [0, 1, 5, 64, 125, 128, 1000, 65_536]) {
      const original = patterned(length + 3, 3);
      const bytes = viewAt(1, original);
      applyMask(bytes, MASKING_KEY, 3, length + 3, 2);
      if (length >= 4) expect(Buffer.compare(bytes, original)).not.toBe(0);
      applyMask(bytes, MASKING_KEY, 3, length + 3, 2);
      expect(Buffer.compare(bytes, original)).toBe(0);
    }
  });

  it('masks a payload in chunks, carrying the returned key offset, exactly as in one call', () => {
    const payload = patterned(1000, 9);
    const whole = payload.slice();
    applyMask(whole, MASKING_KEY, 0, whole.length);
    const chunked = payload.slice();
    let keyOffset = 0;
    for (const [start, end] of [
      [0, 3],
      [3, 200],
      [200, 201],
      [201, 330],
      [330, 1000],
    ] as const) {
      keyOffset = applyMask(chunked, MASKING_KEY, start, end, keyOffset);
    }
    expect(Buffer.compare(chunked, whole)).toBe(0);
  });

  it('masks a Buffer slice of the shared pool without touching the bytes around it', () => {
    const frame = Buffer.from('..hello, masked world, this is long enough for words on a slice...'.repeat(4));
    const before = Buffer.from(frame);
    const payload = frame.subarray(2, frame.length - 3);
    applyMask(payload, MASKING_KEY, 0, payload.length, 0);
    expect(frame.subarray(0, 2)).toEqual(before.subarray(0, 2));
    expect(frame.subarray(frame.length - 3)).toEqual(before.subarray(before.length - 3));
    const expected = Uint8Array.from(before.subarray(2, before.length - 3));
    naiveMask(expected, MASKING_KEY, 0, expected.length, 0);
    expect(Buffer.compare(payload, expected)).toBe(0);
  });

  it.each([
    [-1, 4, 0],
    [3, 2, 0],
    [0, 9, 0],
    [0.5, 4, 0],
    [0, 4, 4],
    [0, 4, -1],
  ])('throws a RangeError for start %s, end %s, key offset %s on 8 bytes', (start, end, keyOffset) => {
    expect(() => applyMask(new Uint8Array(8), MASKING_KEY, start, end, keyOffset)).toThrow(RangeError);
  });

  it('throws a RangeError for a masking key shorter than 4 bytes', () => {
    expect(() => applyMask(new Uint8Array(8), new Uint8Array(3), 0, 8)).toThrow(RangeError);
  });
});

describe('copyMasked', () => {
  it('agrees with a byte loop for every length, source and target alignment and target offset', () => {
    const lengths = [...Array.from({ length: 65 }, (_, length) => length), ...LONG_LENGTHS];
    for (const length of lengths) {
      const contents = patterned(length, length + 1);
      const expectedPayload = contents.slice();
      naiveMask(expectedPayload, MASKING_KEY, 0, length, 0);
      for (let sourceAlignment = 0; sourceAlignment < 4; sourceAlignment++) {
        const source = viewAt(sourceAlignment, contents);
        for (let targetAlignment = 0; targetAlignment < 4; targetAlignment++) {
          for (let targetOffset = 0; targetOffset < 6; targetOffset++) {
            const target = viewAt(targetAlignment, new Uint8Array(length + 10).fill(0xee));
            copyMasked(source, target, targetOffset, MASKING_KEY);
            const expected = new Uint8Array(length + 10).fill(0xee);
            expected.set(expectedPayload, targetOffset);
            if (Buffer.compare(target, expected) !== 0) {
              throw new Error(
                `mismatch: length ${length} source ${sourceAlignment} target ${targetAlignment} at ${targetOffset}`,
              );
            }
          }
        }
      }
    }
  });

  it('never mutates its source, on the byte, word and copy-then-mask paths', () => {
    for (const length of [7, 64, 200, 4096]) {
      for (let targetOffset = 0; targetOffset < 4; targetOffset++) {
        const source = Buffer.from(patterned(length, 5));
        const snapshot = Buffer.from(source);
        copyMasked(source, Buffer.alloc(length + 4), targetOffset, MASKING_KEY);
        expect(source.equals(snapshot)).toBe(true);
      }
    }
  });

  it('produces bytes that applyMask turns back into the source', () => {
    const source = Buffer.from('a frame payload long enough to take the word path, '.repeat(10));
    const target = Buffer.alloc(source.length + 14);
    copyMasked(source, target, 14, MASKING_KEY);
    applyMask(target, MASKING_KEY, 14, target.length);
    expect(target.subarray(14).equals(source)).toBe(true);
  });

  it('throws a RangeError when the target has no room', () => {
    expect(() => copyMasked(new Uint8Array(8), new Uint8Array(10), 3, MASKING_KEY)).toThrow(RangeError);
    expect(() => copyMasked(new Uint8Array(8), new Uint8Array(10), -1, MASKING_KEY)).toThrow(RangeError);
  });
});

describe('the WebAssembly SIMD kernel', () => {
  it('is available on this Node (WebAssembly SIMD ships with Node 16.4 and later)', () => {
    expect(simdMasker).toBeDefined();
  });

  it('agrees with a byte loop for every length 0..200, key phase and source alignment, in place', () => {
    const masker = simdMasker!;
    for (let length = 0; length <= 200; length++) {
      const contents = patterned(length + 8, length);
      for (let start = 0; start < 4; start++) {
        for (let keyOffset = 0; keyOffset < 4; keyOffset++) {
          const actual = contents.slice();
          const keyWord =
            MASKING_KEY[keyOffset]! |
            (MASKING_KEY[(keyOffset + 1) & 3]! << 8) |
            (MASKING_KEY[(keyOffset + 2) & 3]! << 16) |
            (MASKING_KEY[(keyOffset + 3) & 3]! << 24);
          masker.mask(actual, start, start + length, actual, start, keyWord);
          const expected = contents.slice();
          naiveMask(expected, MASKING_KEY, start, start + length, keyOffset);
          if (Buffer.compare(actual, expected) !== 0) {
            throw new Error(`mismatch: length ${length} start ${start} key offset ${keyOffset}`);
          }
        }
      }
    }
  });

  it('masks across its 64 KiB blocks into another buffer, leaving the bytes around the range alone', () => {
    for (const length of [65_535, 65_536, 65_537, 2 * 65_536 + 3, 300_001]) {
      const source = Buffer.from(randomFillSync(new Uint8Array(length + 5)));
      const snapshot = Buffer.from(source);
      const target = Buffer.alloc(length + 9, 0xee);
      simdMasker!.mask(source, 5, length + 5, target, 2, 0x3d21fa37);
      const expected = Buffer.alloc(length + 9, 0xee);
      source.copy(expected, 2, 5);
      naiveMask(expected, MASKING_KEY, 2, length + 2, 0);
      expect(target.equals(expected)).toBe(true);
      expect(source.equals(snapshot)).toBe(true);
    }
  });

  it('gives applyMask and copyMasked the same bytes as the JavaScript loop does with HYBI_NO_SIMD=1', async () => {
    vi.stubEnv('HYBI_NO_SIMD', '1');
    vi.resetModules();
    const javascriptOnly = await import('../../src/protocol/mask.js');
    vi.unstubAllEnvs();
    for (const length of [512, 4096, 65_536 + 13, 1_048_576]) {
      const contents = Buffer.from(randomFillSync(new Uint8Array(length + 3)));
      const withSimd = Buffer.from(contents);
      const withJavaScript = Buffer.from(contents);
      expect(applyMask(withSimd, MASKING_KEY, 3, length + 3, 1)).toBe(
        javascriptOnly.applyMask(withJavaScript, MASKING_KEY, 3, length + 3, 1),
      );
      expect(withSimd.equals(withJavaScript)).toBe(true);
      const copiedWithSimd = Buffer.alloc(length + 2);
      const copiedWithJavaScript = Buffer.alloc(length + 2);
      copyMasked(contents.subarray(1, length + 1), copiedWithSimd, 2, MASKING_KEY);
      javascriptOnly.copyMasked(contents.subarray(1, length + 1), copiedWithJavaScript, 2, MASKING_KEY);
      expect(copiedWithSimd.equals(copiedWithJavaScript)).toBe(true);
    }
  });
});

describe('MaskKeyPool', () => {
  const fill = vi.mocked(randomFillSync);
  afterEach(() => fill.mockClear());

  it('gives keys that differ from one another', () => {
    const pool = new MaskKeyPool();
    const keys = new Set<string>();
    for (let count = 0; count < 5000; count++) keys.add(pool.nextKey().toString('hex'));
    // 5000 draws of 32 random bits collide with probability ~0.3%; allow a couple.
    expect(keys.size).toBeGreaterThanOrEqual(4998);
  });

  it('calls crypto.randomFillSync once per pool refill, not once per key', () => {
    const pool = new MaskKeyPool(16);
    expect(fill).toHaveBeenCalledTimes(0);
    const target = new Uint8Array(4);
    for (let count = 0; count < 4; count++) pool.writeKey(target, 0);
    expect(fill).toHaveBeenCalledTimes(1);
    pool.writeKey(target, 0);
    expect(fill).toHaveBeenCalledTimes(2);
    for (let count = 0; count < 7; count++) pool.nextKey();
    expect(fill).toHaveBeenCalledTimes(3);
  });

  it('hands out the pool bytes in order, 4 at a time, each once', () => {
    fill.mockImplementationOnce(((buffer: Uint8Array) => {
      for (let index = 0; index < buffer.length; index++) buffer[index] = index;
      return buffer;
    }) as typeof randomFillSync);
    const pool = new MaskKeyPool(8);
    expect([...pool.nextKey()]).toEqual([0, 1, 2, 3]);
    expect([...pool.nextKey()]).toEqual([4, 5, 6, 7]);
  });

  it('fills 2048 keys per call by default', () => {
    const pool = new MaskKeyPool();
    const target = new Uint8Array(4);
    for (let count = 0; count < 2048; count++) pool.writeKey(target, 0);
    expect(fill).toHaveBeenCalledTimes(1);
    expect(fill.mock.calls[0]?.[0]).toHaveLength(8192);
  });

  it('writes a key into exactly 4 bytes of the target at the offset', () => {
    fill.mockImplementationOnce(((buffer: Uint8Array) => buffer.fill(0x11)) as typeof randomFillSync);
    const frame = new Uint8Array(10).fill(0xaa);
    new MaskKeyPool().writeKey(frame, 2);
    expect([...frame]).toEqual([0xaa, 0xaa, 0x11, 0x11, 0x11, 0x11, 0xaa, 0xaa, 0xaa, 0xaa]);
  });

  it('returns a fresh Buffer from nextKey() that later keys never overwrite', () => {
    const pool = new MaskKeyPool(8);
    const first = pool.nextKey();
    const copy = Buffer.from(first);
    for (let count = 0; count < 10; count++) pool.nextKey();
    expect(first).toHaveLength(4);
    expect(first.equals(copy)).toBe(true);
  });

  it.each([0, 3, 6, -4, 4.5])('throws a RangeError for pool size %s', (poolSize) => {
    expect(() => new MaskKeyPool(poolSize)).toThrow(RangeError);
  });

  it('throws a RangeError when the target has no room for a key', () => {
    expect(() => new MaskKeyPool().writeKey(new Uint8Array(5), 2)).toThrow(RangeError);
  });
});
