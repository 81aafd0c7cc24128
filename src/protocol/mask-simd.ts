// Owns the WebAssembly SIMD masking kernel: XOR with the masking key 16 bytes per instruction, for the
// long payloads where the JavaScript word loop is the bottleneck (RFC 6455 §5.3).
//
// Why WebAssembly: V8 runs the Int32Array loop of mask.ts at ~6-7 GB/s; this kernel, with the copies in
// and out of its memory counted, ran at ~12-15 GB/s on 64 KiB and 1 MiB (Node 20, x64) — what ws gets from
// its optional native addon, bufferutil, without a native build. The module is assembled here from
// named instructions (below), so there is no opaque binary in the repository and nothing to download.
// Where WebAssembly or its SIMD is unavailable (`--jitless`, old engines), `simdMasker` is undefined and
// callers keep the JavaScript loop.

/** Bytes the kernel's memory holds: one WebAssembly page, masked block by block. */
const BLOCK_SIZE = 64 * 1024;

// WebAssembly binary format (WebAssembly Core Specification 2.0, §5), only what this module needs.
const I32 = 0x7f;
const V128 = 0x7b;
const BLOCK = 0x02;
const LOOP = 0x03;
const EMPTY_BLOCK_TYPE = 0x40;
const END = 0x0b;
const BR = 0x0c;
const BR_IF = 0x0d;
const LOCAL_GET = 0x20;
const LOCAL_SET = 0x21;
const I32_LOAD = 0x28;
const I32_LOAD8_U = 0x2d;
const I32_STORE = 0x36;
const I32_STORE8 = 0x3a;
const I32_CONST = 0x41;
const I32_GT_U = 0x4b;
const I32_GE_U = 0x4f;
const I32_ADD = 0x6a;
const I32_AND = 0x71;
const I32_XOR = 0x73;
const I32_SHR_U = 0x76;
const SIMD_PREFIX = 0xfd;
const V128_LOAD = [SIMD_PREFIX, 0x00];
const V128_STORE = [SIMD_PREFIX, 0x0b];
const I32X4_SPLAT = [SIMD_PREFIX, 0x11];
const V128_XOR = [SIMD_PREFIX, 0x51];

function unsignedLeb128(value: number): number[] {
  const bytes: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    bytes.push(byte);
  } while (value !== 0);
  return bytes;
}

function signedLeb128(value: number): number[] {
  const bytes: number[] = [];
  for (;;) {
    const byte = value & 0x7f;
    value >>= 7;
    const isDone = (value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0);
    bytes.push(isDone ? byte : byte | 0x80);
    if (isDone) return bytes;
  }
}

function section(id: number, content: number[]): number[] {
  return [id, ...unsignedLeb128(content.length), ...content];
}

function name(text: string): number[] {
  return [...unsignedLeb128(text.length), ...Buffer.from(text, 'latin1')];
}

/** memarg: alignment hint 0 (any address), then the constant offset. */
function memory(offset: number): number[] {
  return [0, ...unsignedLeb128(offset)];
}

// mask(start, length, keyWord): XOR memory[start, start + length) with the key repeated, where keyWord
// is the key's four bytes read as a little-endian i32 (WebAssembly memory is little-endian everywhere).
// Locals: 0 position, 1 length, 2 keyWord (shifted right a byte per tail byte), 3 end, 4 simdEnd, 5 keyVector.
const POSITION = 0;
const LENGTH = 1;
const KEY_WORD = 2;
const END_LOCAL = 3;
const SIMD_END = 4;
const KEY_VECTOR = 5;

/** One 16-byte step at `offset` from position: load, XOR with the key vector, store. */
function xorVector(offset: number): number[] {
  // biome-ignore format: operands beside their opcode
  return [
    LOCAL_GET, POSITION,
    LOCAL_GET, POSITION, ...V128_LOAD, ...memory(offset),
    LOCAL_GET, KEY_VECTOR, ...V128_XOR,
    ...V128_STORE, ...memory(offset),
  ];
}

// biome-ignore format: instructions are laid out one per line, operands beside their opcode
const MASK_BODY = [
  // Locals after the parameters: two i32 (end, simdEnd), one v128 (keyVector).
  0x02, 0x02, I32, 0x01, V128,
  LOCAL_GET, POSITION, LOCAL_GET, LENGTH, I32_ADD, LOCAL_SET, END_LOCAL,
  LOCAL_GET, KEY_WORD, ...I32X4_SPLAT, LOCAL_SET, KEY_VECTOR,
  // simdEnd = position + (length & ~63): the loop below does 64 bytes (four vectors) per turn.
  LOCAL_GET, POSITION, LOCAL_GET, LENGTH, I32_CONST, ...signedLeb128(-64), I32_AND, I32_ADD, LOCAL_SET, SIMD_END,
  BLOCK, EMPTY_BLOCK_TYPE, LOOP, EMPTY_BLOCK_TYPE,
    LOCAL_GET, POSITION, LOCAL_GET, SIMD_END, I32_GE_U, BR_IF, 1,
    ...xorVector(0), ...xorVector(16), ...xorVector(32), ...xorVector(48),
    LOCAL_GET, POSITION, I32_CONST, ...signedLeb128(64), I32_ADD, LOCAL_SET, POSITION,
    BR, 0,
  END, END,
  // Whole 32-bit words while position + 4 <= end; a multiple of 4 bytes keeps the key's phase.
  BLOCK, EMPTY_BLOCK_TYPE, LOOP, EMPTY_BLOCK_TYPE,
    LOCAL_GET, POSITION, I32_CONST, 4, I32_ADD, LOCAL_GET, END_LOCAL, I32_GT_U, BR_IF, 1,
    LOCAL_GET, POSITION,
    LOCAL_GET, POSITION, I32_LOAD, ...memory(0), LOCAL_GET, KEY_WORD, I32_XOR,
    I32_STORE, ...memory(0),
    LOCAL_GET, POSITION, I32_CONST, 4, I32_ADD, LOCAL_SET, POSITION,
    BR, 0,
  END, END,
  // Up to three last bytes: key bytes 0, 1, 2 are the low bytes of keyWord, shifted down in turn.
  BLOCK, EMPTY_BLOCK_TYPE, LOOP, EMPTY_BLOCK_TYPE,
    LOCAL_GET, POSITION, LOCAL_GET, END_LOCAL, I32_GE_U, BR_IF, 1,
    LOCAL_GET, POSITION,
    LOCAL_GET, POSITION, I32_LOAD8_U, ...memory(0), LOCAL_GET, KEY_WORD, I32_XOR,
    I32_STORE8, ...memory(0),
    LOCAL_GET, KEY_WORD, I32_CONST, 8, I32_SHR_U, LOCAL_SET, KEY_WORD,
    LOCAL_GET, POSITION, I32_CONST, 1, I32_ADD, LOCAL_SET, POSITION,
    BR, 0,
  END, END,
  END,
];

// biome-ignore format: sections laid out one per line
const MODULE_BYTES = Uint8Array.from([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
  ...section(1, [1, 0x60, 3, I32, I32, I32, 0]), // types: (i32, i32, i32) -> ()
  ...section(3, [1, 0]), // functions: one, of type 0
  ...section(5, [1, 0x00, 1]), // memory: one, at least 1 page, no maximum
  ...section(7, [2, ...name('memory'), 0x02, 0, ...name('mask'), 0x00, 0]), // exports
  ...section(10, [1, ...unsignedLeb128(MASK_BODY.length), ...MASK_BODY]), // code
]);

/** The kernel, driven a block at a time through the module's memory. */
export interface SimdMasker {
  /**
   * XORs `source[sourceStart, sourceEnd)` with the key and writes the result to `target` from
   * `targetStart` (which may be `source` itself at `sourceStart`: masking in place). `keyWord` is the
   * key, rotated to the key offset of `source[sourceStart]`, read as a little-endian 32-bit integer.
   */
  mask(
    source: Uint8Array,
    sourceStart: number,
    sourceEnd: number,
    target: Uint8Array,
    targetStart: number,
    keyWord: number,
  ): void;
}

/** The part of the WebAssembly JavaScript API used here (the project's type libraries leave it out). */
interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => unknown;
  Instance: new (module: unknown) => { exports: Record<string, unknown> };
}

function instantiate(): SimdMasker | undefined {
  const webAssembly = (globalThis as { WebAssembly?: WebAssemblyApi }).WebAssembly;
  let exports: Record<string, unknown>;
  try {
    if (webAssembly === undefined) return undefined;
    exports = new webAssembly.Instance(new webAssembly.Module(MODULE_BYTES)).exports;
  } catch {
    // WebAssembly disabled (e.g. --jitless) or without SIMD: the JavaScript loop does the work.
    return undefined;
  }
  const kernel = exports.mask as (start: number, length: number, keyWord: number) => void;
  const memoryBuffer = (exports.memory as { buffer: ArrayBuffer }).buffer;
  const scratch = new Uint8Array(memoryBuffer, 0, BLOCK_SIZE);
  return {
    mask(source, sourceStart, sourceEnd, target, targetStart, keyWord) {
      // Each block is a multiple of 4 bytes long (but the last), so the key's phase carries over.
      for (let start = sourceStart; start < sourceEnd; start += BLOCK_SIZE) {
        const length = Math.min(BLOCK_SIZE, sourceEnd - start);
        scratch.set(source.subarray(start, start + length), 0);
        kernel(0, length, keyWord);
        target.set(length === BLOCK_SIZE ? scratch : scratch.subarray(0, length), targetStart);
        targetStart += length;
      }
    },
  };
}

/** The WebAssembly kernel, or undefined where this engine cannot run it. */
export const simdMasker: SimdMasker | undefined = instantiate();
