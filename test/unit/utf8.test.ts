import { isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeUtf8, isValidUtf8, Utf8Validator } from '../../src/protocol/utf8.js';

// Long enough that update() hands the bulk of a chunk to node's native validator (192 bytes and up).
const ASCII_PADDING = Buffer.alloc(300, 'a');

function bytesOf(...values: number[]): Buffer {
  return Buffer.from(values);
}

/** The index of the byte whose update() call fails when fed one byte at a time, or -1. */
function failureIndexByteByByte(bytes: Uint8Array): number {
  const validator = new Utf8Validator();
  for (let index = 0; index < bytes.length; index++) {
    if (!validator.update(bytes, index, index + 1)) return index;
  }
  return -1;
}

/**
 * An oracle built on node's validator alone: `bytes` is a prefix of valid UTF-8 when some completion of
 * at most three continuation bytes makes it valid. The first completion byte needs one of the three
 * continuation ranges (80..8F, 90..9F, A0..BF); the ones after it are free.
 */
function isPrefixOfValidUtf8(bytes: Uint8Array): boolean {
  if (isUtf8(bytes)) return true;
  for (const first of [0x80, 0x90, 0xa0]) {
    for (let extra = 0; extra < 3; extra++) {
      const completion = Buffer.alloc(bytes.length + 1 + extra, 0x80);
      completion.set(bytes);
      completion[bytes.length] = first;
      if (isUtf8(completion)) return true;
    }
  }
  return false;
}

function oracleFailureIndex(bytes: Uint8Array): number {
  for (let length = 1; length <= bytes.length; length++) {
    if (!isPrefixOfValidUtf8(bytes.subarray(0, length))) return length - 1;
  }
  return -1;
}

describe('Utf8Validator on a table of valid input (RFC 3629, Markus Kuhn stress cases)', () => {
  const valid: Array<[string, number[]]> = [
    ['the empty string', []],
    ['ASCII', [0x68, 0x65, 0x6c, 0x6c, 0x6f]],
    ['κόσμε', [0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5]],
    ['U+0000, the first one-byte code point', [0x00]],
    ['U+0080, the first two-byte code point', [0xc2, 0x80]],
    ['U+0800, the first three-byte code point', [0xe0, 0xa0, 0x80]],
    ['U+10000, the first four-byte code point', [0xf0, 0x90, 0x80, 0x80]],
    ['U+007F, the last one-byte code point', [0x7f]],
    ['U+07FF, the last two-byte code point', [0xdf, 0xbf]],
    ['U+FFFF, the last three-byte code point', [0xef, 0xbf, 0xbf]],
    ['U+10FFFF, the last code point', [0xf4, 0x8f, 0xbf, 0xbf]],
    ['U+D7FF, just below the surrogates', [0xed, 0x9f, 0xbf]],
    ['U+E000, just above the surrogates', [0xee, 0x80, 0x80]],
    ['U+FFFD, the replacement character', [0xef, 0xbf, 0xbd]],
    ['U+FFFE, a noncharacter (still a scalar value)', [0xef, 0xbf, 0xbe]],
    ['U+FDD0, a noncharacter', [0xef, 0xb7, 0x90]],
    ['U+1FFFF, a plane-end noncharacter', [0xf0, 0x9f, 0xbf, 0xbf]],
    ['U+40000, a four-byte lead F1', [0xf1, 0x80, 0x80, 0x80]],
    ['U+100000, the first code point of plane 16', [0xf4, 0x80, 0x80, 0x80]],
  ];

  it.each(valid)('accepts %s', (_name, values) => {
    const bytes = bytesOf(...values);
    const validator = new Utf8Validator();
    expect(validator.update(bytes)).toBe(true);
    expect(validator.isComplete()).toBe(true);
    expect(isValidUtf8(bytes)).toBe(true);
    expect(failureIndexByteByByte(bytes)).toBe(-1);
  });
});

describe('Utf8Validator on a table of invalid input, failing at the first impossible byte', () => {
  // [name, bytes, index of the first byte after which no continuation can be valid]
  const invalid: Array<[string, number[], number]> = [
    ['a lone continuation byte 80', [0x80], 0],
    ['a lone continuation byte BF', [0xbf], 0],
    ['two continuation bytes', [0x80, 0xbf], 0],
    ['a continuation byte after ASCII', [0x41, 0x80], 1],
    ['an extra continuation byte after a complete sequence', [0xc2, 0x80, 0x80], 2],
    ['C0 80, overlong U+0000', [0xc0, 0x80], 0],
    ['C0 AF, overlong "/"', [0xc0, 0xaf], 0],
    ['C1 BF, overlong U+007F', [0xc1, 0xbf], 0],
    ['E0 80 80, overlong U+0000', [0xe0, 0x80, 0x80], 1],
    ['E0 80 AF, overlong "/"', [0xe0, 0x80, 0xaf], 1],
    ['E0 9F BF, overlong U+07FF', [0xe0, 0x9f, 0xbf], 1],
    ['F0 80 80 80, overlong U+0000', [0xf0, 0x80, 0x80, 0x80], 1],
    ['F0 80 80 AF, overlong "/"', [0xf0, 0x80, 0x80, 0xaf], 1],
    ['F0 8F BF BF, overlong U+FFFF', [0xf0, 0x8f, 0xbf, 0xbf], 1],
    ['ED A0 80, the surrogate U+D800', [0xed, 0xa0, 0x80], 1],
    ['ED AD BF, the surrogate U+DB7F', [0xed, 0xad, 0xbf], 1],
    ['ED B0 80, the surrogate U+DC00', [0xed, 0xb0, 0x80], 1],
    ['ED BF BF, the surrogate U+DFFF', [0xed, 0xbf, 0xbf], 1],
    ['a surrogate pair encoded as two sequences', [0xed, 0xa0, 0x80, 0xed, 0xb0, 0x80], 1],
    ['F4 90 80 80, U+110000 above the last code point', [0xf4, 0x90, 0x80, 0x80], 1],
    ['F4 BF BF BF, above the last code point', [0xf4, 0xbf, 0xbf, 0xbf], 1],
    ['F5 80 80 80, a lead byte beyond U+10FFFF', [0xf5, 0x80, 0x80, 0x80], 0],
    ['F7 BF BF BF', [0xf7, 0xbf, 0xbf, 0xbf], 0],
    ['F8 88 80 80 80, a five-byte form', [0xf8, 0x88, 0x80, 0x80, 0x80], 0],
    ['FC 84 80 80 80 80, a six-byte form', [0xfc, 0x84, 0x80, 0x80, 0x80, 0x80], 0],
    ['FE', [0xfe], 0],
    ['FF', [0xff], 0],
    ['FE FE FF FF', [0xfe, 0xfe, 0xff, 0xff], 0],
    ['C2 followed by ASCII', [0xc2, 0x41], 1],
    ['E1 followed by ASCII', [0xe1, 0x41], 1],
    ['E1 80 followed by ASCII', [0xe1, 0x80, 0x41], 2],
    ['F1 80 80 followed by ASCII', [0xf1, 0x80, 0x80, 0x41], 3],
    ['C2 followed by another lead byte', [0xc2, 0xc2, 0x80], 1],
    ['E0 followed by a space', [0xe0, 0x20], 1],
    ['valid text then an invalid byte', [0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xff], 5],
  ];

  it.each(invalid)('rejects %s', (_name, values, failureIndex) => {
    const bytes = bytesOf(...values);
    const validator = new Utf8Validator();
    expect(validator.update(bytes)).toBe(false);
    expect(isValidUtf8(bytes)).toBe(false);
    expect(failureIndexByteByByte(bytes)).toBe(failureIndex);
    expect(oracleFailureIndex(bytes)).toBe(failureIndex);
  });

  it.each(invalid)(
    'rejects %s after long ASCII, in the chunk that holds the impossible byte',
    (_name, values, failureIndex) => {
      const bytes = Buffer.concat([ASCII_PADDING, bytesOf(...values), ASCII_PADDING]);
      const impossible = ASCII_PADDING.length + failureIndex;
      expect(isValidUtf8(bytes)).toBe(false);
      for (let split = 0; split <= bytes.length; split++) {
        const validator = new Utf8Validator();
        const first = validator.update(bytes, 0, split);
        const second = validator.update(bytes, split, bytes.length);
        expect(first).toBe(split <= impossible);
        expect(second).toBe(false);
      }
    },
  );
});

describe('Utf8Validator on incomplete input', () => {
  const prefixes: Array<[string, number[]]> = [
    ['a two-byte lead', [0xc2]],
    ['E0 A0, two thirds of U+0800', [0xe0, 0xa0]],
    ['ED 9F, two thirds of U+D7FF', [0xed, 0x9f]],
    ['F0 90 80, three quarters of U+10000', [0xf0, 0x90, 0x80]],
    ['F4 8F BF, three quarters of U+10FFFF', [0xf4, 0x8f, 0xbf]],
  ];

  it.each(prefixes)('accepts %s as a prefix but reports it incomplete', (_name, values) => {
    const bytes = bytesOf(...values);
    const validator = new Utf8Validator();
    expect(validator.update(bytes)).toBe(true);
    expect(validator.isComplete()).toBe(false);
    expect(isValidUtf8(bytes)).toBe(false);
  });

  it('carries a sequence split after long ASCII into the next chunk exactly', () => {
    const euro = Buffer.from('€');
    const validator = new Utf8Validator();
    expect(validator.update(Buffer.concat([ASCII_PADDING, euro.subarray(0, 2)]))).toBe(true);
    expect(validator.isComplete()).toBe(false);
    // 0x41 cannot complete E2 82: the state carried over must know a continuation byte is owed.
    const broken = new Utf8Validator();
    broken.update(Buffer.concat([ASCII_PADDING, euro.subarray(0, 2)]));
    expect(broken.update(Buffer.from('A'))).toBe(false);
    expect(validator.update(euro, 2)).toBe(true);
    expect(validator.isComplete()).toBe(true);
  });

  it('treats an empty update as a no-op in every state', () => {
    const validator = new Utf8Validator();
    expect(validator.update(new Uint8Array(0))).toBe(true);
    expect(validator.isComplete()).toBe(true);
    validator.update(bytesOf(0xf0, 0x90));
    expect(validator.update(bytesOf(0x80), 1, 1)).toBe(true);
    expect(validator.isComplete()).toBe(false);
  });
});

describe('Utf8Validator failure and reset', () => {
  it('stays failed after a failure until reset()', () => {
    const validator = new Utf8Validator();
    expect(validator.update(bytesOf(0xff))).toBe(false);
    expect(validator.update(Buffer.from('valid'))).toBe(false);
    expect(validator.update(new Uint8Array(0))).toBe(false);
    expect(validator.isComplete()).toBe(false);
    validator.reset();
    expect(validator.update(Buffer.from('valid'))).toBe(true);
    expect(validator.isComplete()).toBe(true);
  });

  it('forgets an open sequence on reset()', () => {
    const validator = new Utf8Validator();
    validator.update(bytesOf(0xe2, 0x82));
    validator.reset();
    expect(validator.isComplete()).toBe(true);
    expect(validator.update(bytesOf(0xac))).toBe(false);
  });

  it('validates only bytes [start, end)', () => {
    const bytes = bytesOf(0xff, 0x41, 0x42, 0xff);
    expect(new Utf8Validator().update(bytes, 1, 3)).toBe(true);
    expect(new Utf8Validator().update(bytes, 1)).toBe(false);
  });

  it.each([
    [-1, 2],
    [2, 1],
    [0, 5],
    [0.5, 2],
    [Number.NaN, 2],
  ])('throws a RangeError for start %s and end %s on 4 bytes', (start, end) => {
    expect(() => new Utf8Validator().update(new Uint8Array(4), start, end)).toThrow(RangeError);
  });
});

describe('Utf8Validator across code point classes', () => {
  // One range per encoded length and per lead-byte restriction (RFC 3629 §4, Unicode Table 3-7).
  const classes: Array<[string, number, number]> = [
    ['one byte (U+0000..U+007F)', 0x0000, 0x007f],
    ['two bytes (U+0080..U+07FF)', 0x0080, 0x07ff],
    ['three bytes with lead E0 (U+0800..U+0FFF)', 0x0800, 0x0fff],
    ['three bytes with lead E1..EC (U+1000..U+CFFF)', 0x1000, 0xcfff],
    ['three bytes with lead ED (U+D000..U+D7FF)', 0xd000, 0xd7ff],
    ['three bytes with lead EE..EF (U+E000..U+FFFF)', 0xe000, 0xffff],
    ['four bytes with lead F0 (U+10000..U+3FFFF)', 0x10000, 0x3ffff],
    ['four bytes with lead F1..F3 (U+40000..U+FFFFF)', 0x40000, 0xfffff],
    ['four bytes with lead F4 (U+100000..U+10FFFF)', 0x100000, 0x10ffff],
  ];

  it.each(classes)(
    'accepts every code point of %s and round-trips it through TextDecoder',
    (_name, first, last) => {
      const decoder = new TextDecoder('utf-8', { fatal: true });
      const codePoints: number[] = [];
      for (let codePoint = first; codePoint <= last; codePoint++) codePoints.push(codePoint);
      const text = codePointsToString(codePoints);
      const bytes = Buffer.from(text, 'utf8');
      const whole = new Utf8Validator();
      expect(whole.update(bytes)).toBe(true);
      expect(whole.isComplete()).toBe(true);
      // Odd-sized chunks put sequence boundaries at every position within a sequence.
      const chunked = new Utf8Validator();
      let isEveryChunkValid = true;
      for (let start = 0; start < bytes.length; start += 7) {
        isEveryChunkValid &&= chunked.update(bytes, start, Math.min(start + 7, bytes.length));
      }
      expect(isEveryChunkValid).toBe(true);
      expect(chunked.isComplete()).toBe(true);
      expect(decoder.decode(bytes)).toBe(text);
    },
  );

  it('rejects all 2048 surrogates at their second byte', () => {
    for (let codePoint = 0xd800; codePoint <= 0xdfff; codePoint++) {
      const bytes = bytesOf(
        0xe0 | (codePoint >> 12),
        0x80 | ((codePoint >> 6) & 0x3f),
        0x80 | (codePoint & 0x3f),
      );
      expect(failureIndexByteByByte(bytes)).toBe(1);
    }
  });

  it('rejects every overlong two-, three- and four-byte encoding at its first impossible byte', () => {
    for (let codePoint = 0; codePoint < 0x80; codePoint++) {
      expect(failureIndexByteByByte(bytesOf(0xc0 | (codePoint >> 6), 0x80 | (codePoint & 0x3f)))).toBe(0);
    }
    for (let codePoint = 0; codePoint < 0x800; codePoint++) {
      const bytes = bytesOf(0xe0, 0x80 | (codePoint >> 6), 0x80 | (codePoint & 0x3f));
      expect(failureIndexByteByByte(bytes)).toBe(1);
    }
    for (let codePoint = 0; codePoint < 0x10000; codePoint += 0x3f) {
      const bytes = bytesOf(
        0xf0,
        0x80 | (codePoint >> 12),
        0x80 | ((codePoint >> 6) & 0x3f),
        0x80 | (codePoint & 0x3f),
      );
      expect(failureIndexByteByByte(bytes)).toBe(1);
    }
  });

  it('decides every two-byte input as a prefix exactly as an oracle built on buffer.isUtf8', () => {
    const pair = new Uint8Array(2);
    const mismatches: string[] = [];
    for (let first = 0; first < 256; first++) {
      for (let second = 0; second < 256; second++) {
        pair[0] = first;
        pair[1] = second;
        const validator = new Utf8Validator();
        const isPrefix = validator.update(pair);
        if (isPrefix !== isPrefixOfValidUtf8(pair) || (isPrefix && validator.isComplete() !== isUtf8(pair))) {
          mismatches.push(`${first.toString(16)} ${second.toString(16)}`);
        }
      }
    }
    expect(mismatches).toEqual([]);
  });
});

function codePointsToString(codePoints: number[]): string {
  let text = '';
  // String.fromCodePoint takes its arguments on the stack: build long strings in slices.
  for (let start = 0; start < codePoints.length; start += 4096) {
    text += String.fromCodePoint(...codePoints.slice(start, start + 4096));
  }
  return text;
}

/** Text, most of it valid, made invalid by a few byte edits and truncations. */
const nearlyValidBytes = fc
  .tuple(
    fc.string({ unit: 'binary', maxLength: 80 }),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
    fc.nat(),
    fc.boolean(),
  )
  .map(([text, edits, cut, isTruncated]) => {
    const bytes = Buffer.from(text, 'utf8');
    for (const [position, value] of edits) if (bytes.length > 0) bytes[position % bytes.length] = value;
    return isTruncated && bytes.length > 0 ? bytes.subarray(0, cut % bytes.length) : bytes;
  });

const anyBytes = fc.oneof(fc.uint8Array({ maxLength: 64 }), nearlyValidBytes);

/** The same, placed between ASCII runs long enough for the native path, at a random position. */
const longBytes = fc
  .tuple(anyBytes, fc.integer({ min: 0, max: 400 }), fc.integer({ min: 0, max: 400 }))
  .map(([middle, before, after]) =>
    Buffer.concat([Buffer.alloc(before, 'b'), middle, Buffer.alloc(after, 'c')]),
  );

describe('Utf8Validator properties (fast-check)', () => {
  it('agrees with buffer.isUtf8 on random buffers, short and long', () => {
    fc.assert(
      fc.property(fc.oneof(anyBytes, longBytes), (bytes) => {
        const validator = new Utf8Validator();
        const verdict = validator.update(bytes) && validator.isComplete();
        expect(verdict).toBe(isUtf8(bytes));
        expect(isValidUtf8(bytes)).toBe(isUtf8(bytes));
        const decoded = decodeUtf8(bytes);
        expect(decoded === undefined).toBe(!isUtf8(bytes));
        if (decoded !== undefined) expect(decoded).toBe(Buffer.from(bytes).toString('utf8'));
      }),
      { numRuns: 500 },
    );
  });

  it('fails byte by byte at the byte where an oracle built on buffer.isUtf8 says the input became impossible', () => {
    fc.assert(
      fc.property(anyBytes, (bytes) => {
        expect(failureIndexByteByByte(bytes)).toBe(oracleFailureIndex(bytes));
      }),
      { numRuns: 300 },
    );
  });

  it('gives the same verdict for every two-way split, reported by the chunk holding the impossible byte', () => {
    fc.assert(
      fc.property(fc.oneof(anyBytes, longBytes), (bytes) => {
        const impossible = failureIndexByteByByte(bytes);
        const expected = isUtf8(bytes);
        for (let split = 0; split <= bytes.length; split++) {
          const validator = new Utf8Validator();
          const first = validator.update(bytes, 0, split);
          const second = validator.update(bytes, split, bytes.length);
          expect(first).toBe(impossible === -1 || split <= impossible);
          expect(second).toBe(impossible === -1);
          expect(second && validator.isComplete()).toBe(expected);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('gives the same verdict for random chunkings as for the whole buffer', () => {
    fc.assert(
      fc.property(
        longBytes,
        fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 10 }),
        (bytes, sizes) => {
          const impossible = failureIndexByteByByte(bytes);
          const validator = new Utf8Validator();
          let start = 0;
          for (let chunk = 0; start < bytes.length; chunk++) {
            const end = Math.min(bytes.length, start + sizes[chunk % sizes.length]!);
            expect(validator.update(bytes, start, end)).toBe(impossible === -1 || end <= impossible);
            start = end;
          }
          expect(validator.isComplete()).toBe(isUtf8(bytes));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('decodeUtf8', () => {
  it('keeps a leading byte order mark: it is part of the message (WHATWG decoders drop it by default)', () => {
    expect(decodeUtf8(Buffer.from([0xef, 0xbb, 0xbf, 0x61]))).toBe('\ufeffa');
  });

  it('rejects surrogates, overlong forms, code points past U+10FFFF and truncated sequences', () => {
    for (const invalid of [
      [0xed, 0xa0, 0x80],
      [0xc0, 0xaf],
      [0xe0, 0x80, 0xaf],
      [0xf4, 0x90, 0x80, 0x80],
      [0x61, 0xe2, 0x82],
      [0xff],
    ]) {
      expect(decodeUtf8(Buffer.from(invalid))).toBeUndefined();
    }
  });

  it('decodes a view at an offset of its buffer, not the bytes around it', () => {
    const bytes = Buffer.from('xx€yy');
    expect(decodeUtf8(bytes.subarray(2, 5))).toBe('€');
  });
});
