// Owns masking (RFC 6455 §5.3): XOR with the masking key in place or while copying, and pooled random keys.

import { randomFillSync } from 'node:crypto';
import { simdMasker } from './mask-simd.js';

// Below this many bytes the unrolled byte loop beats creating Int32Array views (an allocation each) for
// the word loop; the crossover measured between 96 and 128 bytes for both applyMask and copyMasked
// (Node 20, x64, a sweep of 32..512 bytes next to bench/mask.bench.ts).
const WORD_MINIMUM_LENGTH = 128;

// From this many bytes the WebAssembly SIMD kernel (mask-simd.ts), copies in and out included, beats the
// word loop. HYBI_NO_SIMD=1 keeps the JavaScript loop for every length (to compare, or to rule it out).
const SIMD_MINIMUM_LENGTH = 512;
const simd = process.env.HYBI_NO_SIMD === '1' ? undefined : simdMasker;

/** The masking key rotated to `keyOffset`, as a little-endian 32-bit integer (the SIMD kernel's form). */
function littleEndianKeyWord(maskingKey: Uint8Array, keyOffset: number): number {
  return (
    maskingKey[keyOffset]! |
    (maskingKey[(keyOffset + 1) & 3]! << 8) |
    (maskingKey[(keyOffset + 2) & 3]! << 16) |
    (maskingKey[(keyOffset + 3) & 3]! << 24)
  );
}

// The masking key rotated to the current key offset, read back as one 32-bit word in the platform's
// own byte order: writing bytes and reading the word through views of one buffer makes the word
// loop correct on little- and big-endian machines alike, without allocating per call.
const keyBytes = new Uint8Array(4);
const keyWords = new Int32Array(keyBytes.buffer);

function rotatedKeyWord(maskingKey: Uint8Array, keyOffset: number): number {
  keyBytes[0] = maskingKey[keyOffset]!;
  keyBytes[1] = maskingKey[(keyOffset + 1) & 3]!;
  keyBytes[2] = maskingKey[(keyOffset + 2) & 3]!;
  keyBytes[3] = maskingKey[(keyOffset + 3) & 3]!;
  return keyWords[0]!;
}

function checkMaskingKey(maskingKey: Uint8Array, caller: string): void {
  if (maskingKey.length < 4) {
    throw new RangeError(
      `${caller}: the masking key must be 4 bytes (RFC 6455 §5.3); got ${maskingKey.length}`,
    );
  }
}

/**
 * XORs `bytes[start, end)` with the key, byte by byte, four at a time; `keyOffset` is the key index for
 * `bytes[start]`. Returns the key offset for the byte after `end`.
 */
function maskBytes(
  bytes: Uint8Array,
  maskingKey: Uint8Array,
  start: number,
  end: number,
  keyOffset: number,
): number {
  const key0 = maskingKey[keyOffset]!;
  const key1 = maskingKey[(keyOffset + 1) & 3]!;
  const key2 = maskingKey[(keyOffset + 2) & 3]!;
  const key3 = maskingKey[(keyOffset + 3) & 3]!;
  let index = start;
  const quadEnd = end - 3;
  for (; index < quadEnd; index += 4) {
    bytes[index] = bytes[index]! ^ key0;
    bytes[index + 1] = bytes[index + 1]! ^ key1;
    bytes[index + 2] = bytes[index + 2]! ^ key2;
    bytes[index + 3] = bytes[index + 3]! ^ key3;
  }
  const remaining = end - index;
  if (remaining > 0) bytes[index] = bytes[index]! ^ key0;
  if (remaining > 1) bytes[index + 1] = bytes[index + 1]! ^ key1;
  if (remaining > 2) bytes[index + 2] = bytes[index + 2]! ^ key2;
  return (keyOffset + (end - start)) & 3;
}

/**
 * XORs `bytes[start, end)` in place with the 4-byte masking key (RFC 6455 §5.3: octet i of the payload
 * is XORed with octet `i MOD 4` of the key), starting at key offset `keyOffset` (0..3). Works on 32-bit
 * words over the aligned middle of long ranges, bytes elsewhere. Masking and unmasking are the same
 * operation.
 *
 * Returns the key offset to continue with for the next chunk of the same frame:
 * `(keyOffset + (end - start)) & 3`.
 *
 * @example
 * ```ts
 * // A payload that arrives in two reads: carry the key offset from one to the next.
 * let keyOffset = applyMask(firstChunk, maskingKey, 0, firstChunk.length);
 * keyOffset = applyMask(secondChunk, maskingKey, 0, secondChunk.length, keyOffset);
 * ```
 */
export function applyMask(
  bytes: Uint8Array,
  maskingKey: Uint8Array,
  start: number,
  end: number,
  keyOffset = 0,
): number {
  if (
    !(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start <= end && end <= bytes.length)
  ) {
    throw new RangeError(
      `applyMask: pass integers with 0 <= start <= end <= bytes.length (${bytes.length}); got start ${start}, end ${end}`,
    );
  }
  if (!(keyOffset === 0 || keyOffset === 1 || keyOffset === 2 || keyOffset === 3)) {
    throw new RangeError(`applyMask: keyOffset must be 0, 1, 2 or 3; got ${keyOffset}`);
  }
  checkMaskingKey(maskingKey, 'applyMask');
  return applyMaskUnchecked(bytes, maskingKey, start, end, keyOffset);
}

/**
 * {@link applyMask} without the argument checks, for the parser's hot path, whose arguments are right
 * by construction (a 4-byte key, a range inside the chunk, an offset masked with `& 3`).
 * @internal
 */
export function applyMaskUnchecked(
  bytes: Uint8Array,
  maskingKey: Uint8Array,
  start: number,
  end: number,
  keyOffset: number,
): number {
  const length = end - start;
  if (length < WORD_MINIMUM_LENGTH) return maskBytes(bytes, maskingKey, start, end, keyOffset);
  if (simd !== undefined && length >= SIMD_MINIMUM_LENGTH) {
    simd.mask(bytes, start, end, bytes, start, littleEndianKeyWord(maskingKey, keyOffset));
    return (keyOffset + length) & 3;
  }

  // Bytes up to the first 4-byte-aligned address, since an Int32Array view must start aligned.
  const headLength = (4 - ((bytes.byteOffset + start) & 3)) & 3;
  const wordStart = start + headLength;
  const wordOffset = maskBytes(bytes, maskingKey, start, wordStart, keyOffset);
  const wordCount = (end - wordStart) >>> 2;
  const keyWord = rotatedKeyWord(maskingKey, wordOffset);
  // Int32Array, not Uint32Array: `^` yields a signed 32-bit integer, and Int32Array reads are int32 too
  // (Uint32Array reads above 2^31 are not), measured ~1.3x faster; four words per iteration ~2x more.
  const words = new Int32Array(bytes.buffer, bytes.byteOffset + wordStart, wordCount);
  let index = 0;
  for (const quadEnd = wordCount - 3; index < quadEnd; index += 4) {
    words[index] = words[index]! ^ keyWord;
    words[index + 1] = words[index + 1]! ^ keyWord;
    words[index + 2] = words[index + 2]! ^ keyWord;
    words[index + 3] = words[index + 3]! ^ keyWord;
  }
  for (; index < wordCount; index++) words[index] = words[index]! ^ keyWord;
  // Whole words leave the key offset where it was.
  maskBytes(bytes, maskingKey, wordStart + wordCount * 4, end, wordOffset);
  return (keyOffset + (end - start)) & 3;
}

/**
 * Copies `source` into `target` at `targetOffset` while masking it with key offset 0 (the sender's
 * side: the caller's buffer is never mutated). One pass over words when both sides share their
 * alignment; otherwise a memory copy followed by {@link applyMask} on the copy, which is faster than
 * one pass of single bytes. `source` and the target range must not overlap.
 *
 * @example
 * ```ts
 * const frame = Buffer.allocUnsafe(headerLength + payload.length);
 * maskKeys.writeKey(frame, headerLength - 4);
 * copyMasked(payload, frame, headerLength, frame.subarray(headerLength - 4, headerLength));
 * ```
 */
export function copyMasked(
  source: Uint8Array,
  target: Uint8Array,
  targetOffset: number,
  maskingKey: Uint8Array,
): void {
  const length = source.length;
  if (!(Number.isInteger(targetOffset) && targetOffset >= 0 && targetOffset + length <= target.length)) {
    throw new RangeError(
      `copyMasked: the target (${target.length} bytes) has no room for ${length} bytes at offset ${targetOffset}`,
    );
  }
  checkMaskingKey(maskingKey, 'copyMasked');
  if (simd !== undefined && length >= SIMD_MINIMUM_LENGTH) {
    simd.mask(source, 0, length, target, targetOffset, littleEndianKeyWord(maskingKey, 0));
    return;
  }
  const targetStart = target.byteOffset + targetOffset;
  const key0 = maskingKey[0]!;
  const key1 = maskingKey[1]!;
  const key2 = maskingKey[2]!;
  if (length < WORD_MINIMUM_LENGTH) {
    const key3 = maskingKey[3]!;
    let index = 0;
    for (const quadEnd = length - 3; index < quadEnd; index += 4) {
      target[targetOffset + index] = source[index]! ^ key0;
      target[targetOffset + index + 1] = source[index + 1]! ^ key1;
      target[targetOffset + index + 2] = source[index + 2]! ^ key2;
      target[targetOffset + index + 3] = source[index + 3]! ^ key3;
    }
    for (; index < length; index++) target[targetOffset + index] = source[index]! ^ maskingKey[index & 3]!;
    return;
  }
  if (((source.byteOffset ^ targetStart) & 3) !== 0) {
    // Alignments differ, so no word of the source lines up with a word of the target: copy (memcpy)
    // then mask the copy on words, measured ~3x faster than one pass of single bytes.
    target.set(source, targetOffset);
    applyMask(target, maskingKey, targetOffset, targetOffset + length, 0);
    return;
  }
  const headLength = (4 - (source.byteOffset & 3)) & 3;
  if (headLength > 0) target[targetOffset] = source[0]! ^ key0;
  if (headLength > 1) target[targetOffset + 1] = source[1]! ^ key1;
  if (headLength > 2) target[targetOffset + 2] = source[2]! ^ key2;
  const wordCount = (length - headLength) >>> 2;
  const keyWord = rotatedKeyWord(maskingKey, headLength);
  const sourceWords = new Int32Array(source.buffer, source.byteOffset + headLength, wordCount);
  const targetWords = new Int32Array(target.buffer, targetStart + headLength, wordCount);
  let word = 0;
  for (const quadEnd = wordCount - 3; word < quadEnd; word += 4) {
    targetWords[word] = sourceWords[word]! ^ keyWord;
    targetWords[word + 1] = sourceWords[word + 1]! ^ keyWord;
    targetWords[word + 2] = sourceWords[word + 2]! ^ keyWord;
    targetWords[word + 3] = sourceWords[word + 3]! ^ keyWord;
  }
  for (; word < wordCount; word++) targetWords[word] = sourceWords[word]! ^ keyWord;
  for (let index = headLength + wordCount * 4; index < length; index++) {
    target[targetOffset + index] = source[index]! ^ maskingKey[index & 3]!;
  }
}

/**
 * A source of 4-byte masking keys. RFC 6455 §5.3 asks for keys "derived from a strong source of
 * entropy", so they come from `crypto.randomFillSync`; pooled, so that one call fills `poolSize` bytes
 * (2048 keys by default) instead of one call per frame.
 *
 * @example
 * ```ts
 * const maskKeys = new MaskKeyPool();
 * maskKeys.writeKey(frame, 2); // the key goes straight into the frame header, no allocation
 * ```
 */
export class MaskKeyPool {
  private readonly pool: Buffer;
  private offset: number;

  /** `poolSize` is in bytes: a positive multiple of 4. The pool is first filled on first use. */
  constructor(poolSize = 8192) {
    if (!(Number.isInteger(poolSize) && poolSize >= 4 && poolSize % 4 === 0)) {
      throw new RangeError(`MaskKeyPool: poolSize must be a positive multiple of 4 bytes; got ${poolSize}`);
    }
    // Its own memory, not a slice of Buffer's shared pool, so keys never sit beside unrelated data.
    this.pool = Buffer.allocUnsafeSlow(poolSize);
    this.offset = poolSize;
  }

  /** Writes the next key into `target[offset, offset + 4)`; each key is used once. */
  writeKey(target: Uint8Array, offset: number): void {
    if (!(Number.isInteger(offset) && offset >= 0 && offset + 4 <= target.length)) {
      throw new RangeError(
        `MaskKeyPool.writeKey: no room for 4 bytes at offset ${offset} of ${target.length}`,
      );
    }
    const pool = this.pool;
    let position = this.offset;
    if (position === pool.length) {
      randomFillSync(pool);
      position = 0;
    }
    target[offset] = pool[position]!;
    target[offset + 1] = pool[position + 1]!;
    target[offset + 2] = pool[position + 2]!;
    target[offset + 3] = pool[position + 3]!;
    this.offset = position + 4;
  }

  /** Returns the next key as a fresh 4-byte Buffer that the caller may keep. */
  nextKey(): Buffer {
    const key = Buffer.allocUnsafe(4);
    this.writeKey(key, 0);
    return key;
  }
}
