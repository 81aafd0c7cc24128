// Owns damage to valid frame streams: each kind of corruption as data, and applying it to frames and bytes.

import fc from 'fast-check';
import { closePayload, invalidCloseCodeArbitrary, validCloseCodeArbitrary } from './close.js';
import {
  encodeFrames,
  FrameOpcode,
  type FrameSpec,
  isControlFrameOpcode,
  type LengthEncoding,
} from './frames.js';

/**
 * Damage whose verdict RFC 6455 fixes, aimed at frame `frame` (taken modulo the frame count). A receiver
 * with no extensions must deliver everything before that frame and then fail with the code
 * {@link expectedFailureCode} gives.
 */
export type TargetedMutation =
  /** RSV bits no extension claimed (§5.2): 1002. */
  | { kind: 'rsv'; frame: number; rsv: number }
  /** A reserved opcode, 3-7 or 11-15 (§5.2): 1002. */
  | { kind: 'reserved-opcode'; frame: number; opcode: number }
  /** The MASK bit flipped: a client's frame unmasked, or a server's masked (§5.1): 1002. */
  | { kind: 'mask'; frame: number }
  /** A declared length over the receiver's limit (§10.4): 1009 on a data frame, 1002 on a control frame (§5.5). */
  | { kind: 'oversize'; frame: number; excess: number }
  /** A 64-bit length with its most significant bit set (§5.2): 1002. */
  | { kind: 'length-msb'; frame: number; low: number }
  /** A byte that never occurs in UTF-8 put in a text frame's payload (§8.1): 1007. Skipped for other frames. */
  | { kind: 'invalid-utf8'; frame: number; offset: number; byte: number }
  /** The frame replaced by a close frame with a code that may not be sent (§7.4): 1002. */
  | { kind: 'invalid-close-code'; frame: number; code: number }
  /** The frame replaced by a close frame whose reason is not UTF-8 (§5.5.1, §8.1): 1007. */
  | { kind: 'invalid-close-reason'; frame: number; code: number; byte: number }
  /** The frame replaced by a close frame with a 1-byte body (§5.5.1): 1002. */
  | { kind: 'short-close'; frame: number; byte: number }
  /** The frame replaced by a ping of more than 125 bytes (§5.5): 1002. */
  | { kind: 'long-control'; frame: number; length: number }
  /** The frame replaced by a control frame without FIN (§5.5): 1002. */
  | { kind: 'fragmented-control'; frame: number; opcode: number };

/** Damage of any kind, whose verdict depends on where it lands: the stream may fail, end early, or mean something else. */
export type NoiseMutation =
  /** One bit flipped at `offset` (modulo the length). */
  | { kind: 'flip-bit'; offset: number; bit: number }
  /** The stream cut to `length` (modulo length + 1) bytes. */
  | { kind: 'truncate'; length: number }
  /** `deleteCount` bytes at `offset` replaced by `insert`. */
  | { kind: 'splice'; offset: number; deleteCount: number; insert: Uint8Array }
  /** A frame's length field rewritten. */
  | { kind: 'length-field'; frame: number; declaredLength: bigint; encoding: LengthEncoding }
  /** A frame's FIN bit flipped. */
  | { kind: 'fin'; frame: number }
  /** A frame's opcode replaced by any value. */
  | { kind: 'opcode'; frame: number; opcode: number }
  /** A frame moved to another position. */
  | { kind: 'move-frame'; from: number; to: number };

export type StreamMutation = TargetedMutation | NoiseMutation;

/** Options of {@link targetedMutationArbitrary}. */
export interface TargetedMutationOptions {
  /** The receiver's maxLength, which `oversize` must pass. */
  maxLength: number;
}

/** One piece of targeted damage (see {@link TargetedMutation}). */
export function targetedMutationArbitrary(options: TargetedMutationOptions): fc.Arbitrary<TargetedMutation> {
  const frame = fc.nat();
  const neverUtf8 = fc.oneof(fc.constantFrom(0xc0, 0xc1), fc.integer({ min: 0xf5, max: 0xff }));
  return fc.oneof(
    fc.record({
      kind: fc.constant('rsv' as const),
      frame,
      rsv: fc.integer({ min: 1, max: 7 }).map((bits) => bits << 4),
    }),
    fc.record({
      kind: fc.constant('reserved-opcode' as const),
      frame,
      opcode: fc.constantFrom(3, 4, 5, 6, 7, 11, 12, 13, 14, 15),
    }),
    fc.record({ kind: fc.constant('mask' as const), frame }),
    fc.record({
      kind: fc.constant('oversize' as const),
      frame,
      excess: fc
        .integer({ min: 1, max: 2 ** 40 })
        .map((excess) => Math.max(excess, options.maxLength + 1, 126)),
    }),
    fc.record({ kind: fc.constant('length-msb' as const), frame, low: fc.nat() }),
    fc.record({ kind: fc.constant('invalid-utf8' as const), frame, offset: fc.nat(), byte: neverUtf8 }),
    fc.record({ kind: fc.constant('invalid-close-code' as const), frame, code: invalidCloseCodeArbitrary() }),
    fc.record({
      kind: fc.constant('invalid-close-reason' as const),
      frame,
      code: validCloseCodeArbitrary(),
      byte: neverUtf8,
    }),
    fc.record({ kind: fc.constant('short-close' as const), frame, byte: fc.integer({ min: 0, max: 255 }) }),
    fc.record({
      kind: fc.constant('long-control' as const),
      frame,
      length: fc.integer({ min: 126, max: 400 }),
    }),
    fc.record({
      kind: fc.constant('fragmented-control' as const),
      frame,
      opcode: fc.constantFrom(FrameOpcode.Close, FrameOpcode.Ping, FrameOpcode.Pong),
    }),
  );
}

/** One piece of noise (see {@link NoiseMutation}). */
export function noiseMutationArbitrary(): fc.Arbitrary<NoiseMutation> {
  return fc.oneof(
    fc.record({
      kind: fc.constant('flip-bit' as const),
      offset: fc.nat(),
      bit: fc.integer({ min: 0, max: 7 }),
    }),
    fc.record({ kind: fc.constant('truncate' as const), length: fc.nat() }),
    fc.record({
      kind: fc.constant('splice' as const),
      offset: fc.nat(),
      deleteCount: fc.integer({ min: 0, max: 16 }),
      insert: fc.uint8Array({ maxLength: 16 }),
    }),
    fc.record({
      kind: fc.constant('length-field' as const),
      frame: fc.nat(),
      declaredLength: fc.oneof(
        fc.bigInt({ min: 0n, max: 300n }),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      ),
      encoding: fc.constantFrom<LengthEncoding>('minimal', '16-bit', '64-bit'),
    }),
    fc.record({ kind: fc.constant('fin' as const), frame: fc.nat() }),
    fc.record({
      kind: fc.constant('opcode' as const),
      frame: fc.nat(),
      opcode: fc.integer({ min: 0, max: 15 }),
    }),
    fc.record({ kind: fc.constant('move-frame' as const), from: fc.nat(), to: fc.nat() }),
  );
}

/** Any damage, targeted or noise. */
export function streamMutationArbitrary(options: TargetedMutationOptions): fc.Arbitrary<StreamMutation> {
  return fc.oneof(targetedMutationArbitrary(options), noiseMutationArbitrary());
}

/**
 * Applies damage to a stream given as frames: frame-level damage first, in order, then the frames are
 * encoded and byte-level damage (flip-bit, truncate, splice) applied, in order. Frames are copied, never
 * changed. A targeted mutation that does not fit its frame (`invalid-utf8` on a binary frame) changes nothing.
 */
export function applyMutations(frames: readonly FrameSpec[], mutations: readonly StreamMutation[]): Buffer {
  const damaged = frames.map((frame) => ({ ...frame }));
  const byteLevel: NoiseMutation[] = [];
  for (const mutation of mutations) {
    if (mutation.kind === 'flip-bit' || mutation.kind === 'truncate' || mutation.kind === 'splice') {
      byteLevel.push(mutation);
    } else if (damaged.length > 0) {
      applyFrameMutation(damaged, mutation);
    }
  }
  let bytes = encodeFrames(damaged);
  for (const mutation of byteLevel) bytes = applyByteMutation(bytes, mutation);
  return bytes;
}

/**
 * The index of the frame a targeted mutation lands on, and whether it applies there (`invalid-utf8` only
 * applies to frames of text messages).
 */
export function mutationTarget(
  frames: readonly FrameSpec[],
  mutation: TargetedMutation,
): { frame: number; applies: boolean } {
  const frame = mutation.frame % frames.length;
  if (mutation.kind !== 'invalid-utf8') return { frame, applies: true };
  return { frame, applies: isTextFrame(frames, frame) };
}

/**
 * The close code a receiver without extensions must fail with after a targeted mutation (RFC 6455:
 * §5.1, §5.2, §5.5, §7.4, §8.1, §10.4), or undefined when the mutation does not apply to its frame.
 */
export function expectedFailureCode(
  frames: readonly FrameSpec[],
  mutation: TargetedMutation,
): number | undefined {
  const { frame, applies } = mutationTarget(frames, mutation);
  if (!applies) return undefined;
  switch (mutation.kind) {
    case 'invalid-utf8':
    case 'invalid-close-reason':
      return 1007;
    case 'oversize':
      return isControlFrameOpcode(frames[frame]!.opcode) ? 1002 : 1009;
    default:
      return 1002;
  }
}

/** Whether frame `index` carries text: a text frame, or a continuation of a text message. */
function isTextFrame(frames: readonly FrameSpec[], index: number): boolean {
  for (let cursor = index; cursor >= 0; cursor--) {
    const opcode = frames[cursor]!.opcode;
    if (opcode === FrameOpcode.Text) return true;
    if (opcode === FrameOpcode.Binary) return false;
    if (opcode === FrameOpcode.Continuation || isControlFrameOpcode(opcode)) {
      if (cursor === index && isControlFrameOpcode(opcode)) return false;
      continue;
    }
    return false;
  }
  return false;
}

function applyFrameMutation(
  frames: FrameSpec[],
  mutation: Exclude<StreamMutation, { kind: 'flip-bit' | 'truncate' | 'splice' }>,
): void {
  if (mutation.kind === 'move-frame') {
    const [moved] = frames.splice(mutation.from % frames.length, 1);
    frames.splice(mutation.to % (frames.length + 1), 0, moved!);
    return;
  }
  const index = mutation.frame % frames.length;
  const frame = frames[index]!;
  const maskingKey = frame.maskingKey;
  switch (mutation.kind) {
    case 'rsv':
      frame.rsv = mutation.rsv;
      return;
    case 'reserved-opcode':
    case 'opcode':
      frame.opcode = mutation.opcode;
      return;
    case 'mask':
      frame.maskingKey = maskingKey === undefined ? Uint8Array.of(0x0f, 0xf0, 0x55, 0xaa) : undefined;
      return;
    case 'oversize':
      frame.declaredLength = BigInt(mutation.excess);
      return;
    case 'length-msb':
      frame.declaredLength = (1n << 63n) | BigInt(mutation.low);
      frame.lengthEncoding = '64-bit';
      return;
    case 'length-field':
      frame.declaredLength = mutation.declaredLength;
      frame.lengthEncoding = mutation.encoding;
      return;
    case 'fin':
      frame.isFinal = !frame.isFinal;
      return;
    case 'invalid-utf8': {
      if (!isTextFrame(frames, index)) return;
      const at = mutation.offset % (frame.payload.length + 1);
      frame.payload = Buffer.concat([
        frame.payload.subarray(0, at),
        Uint8Array.of(mutation.byte),
        frame.payload.subarray(at),
      ]);
      return;
    }
    case 'invalid-close-code':
      frames[index] = {
        isFinal: true,
        rsv: 0,
        opcode: FrameOpcode.Close,
        payload: rawClosePayload(mutation.code, []),
        maskingKey,
      };
      return;
    case 'invalid-close-reason': {
      const payload = rawClosePayload(mutation.code, [0x6f, 0x6b, mutation.byte]);
      frames[index] = { isFinal: true, rsv: 0, opcode: FrameOpcode.Close, payload, maskingKey };
      return;
    }
    case 'short-close':
      frames[index] = {
        isFinal: true,
        rsv: 0,
        opcode: FrameOpcode.Close,
        payload: Uint8Array.of(mutation.byte),
        maskingKey,
      };
      return;
    case 'long-control':
      frames[index] = {
        isFinal: true,
        rsv: 0,
        opcode: FrameOpcode.Ping,
        payload: new Uint8Array(mutation.length),
        maskingKey,
      };
      return;
    case 'fragmented-control': {
      const payload = mutation.opcode === FrameOpcode.Close ? closePayload(1000, '') : new Uint8Array(0);
      frames[index] = { isFinal: false, rsv: 0, opcode: mutation.opcode, payload, maskingKey };
      return;
    }
  }
}

function rawClosePayload(code: number, reason: readonly number[]): Uint8Array {
  return Uint8Array.of(code >>> 8, code & 0xff, ...reason);
}

function applyByteMutation(bytes: Buffer, mutation: NoiseMutation): Buffer {
  switch (mutation.kind) {
    case 'flip-bit': {
      if (bytes.length === 0) return bytes;
      const copy = Buffer.from(bytes);
      const offset = mutation.offset % copy.length;
      copy[offset] = copy[offset]! ^ (1 << mutation.bit);
      return copy;
    }
    case 'truncate':
      return bytes.subarray(0, mutation.length % (bytes.length + 1));
    case 'splice': {
      const offset = mutation.offset % (bytes.length + 1);
      return Buffer.concat([
        bytes.subarray(0, offset),
        mutation.insert,
        bytes.subarray(offset + mutation.deleteCount),
      ]);
    }
    default:
      return bytes;
  }
}
