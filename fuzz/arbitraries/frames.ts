// Owns WebSocket frames as data: the FrameSpec shape, an encoder written apart from hybi's, and frame arbitraries.

import fc from 'fast-check';
import { closePayload, validCloseCodeArbitrary } from './close.js';

/** Opcodes of RFC 6455 §5.2, spelled out so that the kit depends on nothing but fast-check. */
export const FrameOpcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;

/** RSV bits as they sit in the first header byte (RFC 6455 §5.2). */
export const RsvBit = { Rsv1: 0x40, Rsv2: 0x20, Rsv3: 0x10 } as const;

/** How the payload length is written: RFC 6455 §5.2 asks for `minimal`; the others are legal-looking but longer. */
export type LengthEncoding = 'minimal' | '16-bit' | '64-bit';

/**
 * One frame, field by field, able to say things a correct sender never would (reserved opcodes, RSV bits,
 * lengths that lie). Plain data, so a counterexample prints readably and replays exactly.
 */
export interface FrameSpec {
  isFinal: boolean;
  /** RSV bits as a mask of {@link RsvBit} values. */
  rsv: number;
  /** 0-15; 3-7 and 11-15 are reserved. */
  opcode: number;
  /** The payload before masking. */
  payload: Uint8Array;
  /** Four bytes: the frame is masked with them (RFC 6455 §5.3). Undefined: unmasked. */
  maskingKey?: Uint8Array | undefined;
  /** Default `minimal`. A longer encoding is applied only when it can hold the length. */
  lengthEncoding?: LengthEncoding | undefined;
  /**
   * Write this length instead of the payload's (a hostile header: the bytes that follow are still
   * `payload`). With the 64-bit form it may set the most significant bit, which RFC 6455 §5.2 forbids.
   */
  declaredLength?: bigint | undefined;
}

/** Whether an opcode is one of the control opcodes (RFC 6455 §5.5: the high opcode bit is set). */
export function isControlFrameOpcode(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}

/** The header length the encoder writes for `frame`: 2 bytes, the extended length, the masking key. */
export function encodedHeaderLength(frame: FrameSpec): number {
  return 2 + extendedLengthBytes(frame) + (frame.maskingKey === undefined ? 0 : 4);
}

/**
 * Encodes a frame exactly as specified: header (RFC 6455 §5.2), then the payload, masked with the
 * masking key when there is one (§5.3). Written apart from hybi's encoder on purpose, so that a bug there
 * cannot hide itself here.
 *
 * @example
 * ```ts
 * encodeFrame({ isFinal: true, rsv: 0, opcode: FrameOpcode.Text, payload: Buffer.from('hi') });
 * // <Buffer 81 02 68 69>
 * ```
 */
export function encodeFrame(frame: FrameSpec): Buffer {
  const payload = frame.payload;
  const length = frame.declaredLength ?? BigInt(payload.length);
  const lengthBytes = extendedLengthBytes(frame);
  const maskingKey = frame.maskingKey;
  const headerLength = 2 + lengthBytes + (maskingKey === undefined ? 0 : 4);
  const bytes = Buffer.alloc(headerLength + payload.length);
  bytes[0] = (frame.isFinal ? 0x80 : 0) | (frame.rsv & 0x70) | (frame.opcode & 0x0f);
  const maskBit = maskingKey === undefined ? 0 : 0x80;
  if (lengthBytes === 0) {
    bytes[1] = maskBit | Number(length);
  } else if (lengthBytes === 2) {
    bytes[1] = maskBit | 126;
    bytes.writeUInt16BE(Number(length), 2);
  } else {
    bytes[1] = maskBit | 127;
    bytes.writeBigUInt64BE(BigInt.asUintN(64, length), 2);
  }
  const payloadStart = headerLength;
  if (maskingKey === undefined) {
    bytes.set(payload, payloadStart);
  } else {
    bytes.set(maskingKey.subarray(0, 4), payloadStart - 4);
    for (let index = 0; index < payload.length; index++) {
      // RFC 6455 §5.3: octet i is XORed with masking-key octet i MOD 4.
      bytes[payloadStart + index] = payload[index]! ^ maskingKey[index % 4]!;
    }
  }
  return bytes;
}

/** Encodes frames one after the other into one buffer. */
export function encodeFrames(frames: readonly FrameSpec[]): Buffer {
  return Buffer.concat(frames.map(encodeFrame));
}

function extendedLengthBytes(frame: FrameSpec): number {
  const length = frame.declaredLength ?? BigInt(frame.payload.length);
  const minimal = length < 126n ? 0 : length < 0x10000n ? 2 : 8;
  const wanted = frame.lengthEncoding === '64-bit' ? 8 : frame.lengthEncoding === '16-bit' ? 2 : 0;
  return Math.max(minimal, wanted);
}

/** A masking key: four arbitrary bytes (all zero included, which leaves the payload as it is). */
export function maskingKeyArbitrary(): fc.Arbitrary<Uint8Array> {
  return fc.uint8Array({ minLength: 4, maxLength: 4 });
}

/** Options shared by the frame arbitraries. */
export interface FrameArbitraryOptions {
  /** `masked` (a client's frames), `unmasked` (a server's) or `either`. Default `masked`. */
  masking?: 'masked' | 'unmasked' | 'either';
  /** Longest payload of a data frame. Default 256. */
  maxPayloadLength?: number;
}

function maskingKeyFor(masking: FrameArbitraryOptions['masking']): fc.Arbitrary<Uint8Array | undefined> {
  if (masking === 'unmasked') return fc.constant(undefined);
  if (masking === 'either') return fc.option(maskingKeyArbitrary(), { nil: undefined });
  return maskingKeyArbitrary();
}

/**
 * A well-formed control frame: ping, pong or close with at most 125 bytes (RFC 6455 §5.5), FIN set,
 * no RSV bits. Close payloads are empty or a valid code and UTF-8 reason (§5.5.1, §7.4).
 */
export function controlFrameArbitrary(options: FrameArbitraryOptions = {}): fc.Arbitrary<FrameSpec> {
  const pingOrPong = fc.record({
    opcode: fc.constantFrom(FrameOpcode.Ping, FrameOpcode.Pong),
    payload: fc.uint8Array({ maxLength: 125 }),
  });
  const close = fc.record({
    opcode: fc.constant(FrameOpcode.Close),
    payload: fc.oneof(
      fc.constant(new Uint8Array(0)),
      fc
        .tuple(validCloseCodeArbitrary(), fc.string({ unit: 'binary', maxLength: 30 }))
        .map(([code, reason]) => closePayload(code, reason)),
    ),
  });
  return fc
    .tuple(fc.oneof(pingOrPong, close), maskingKeyFor(options.masking))
    .map(([frame, maskingKey]) => ({ isFinal: true, rsv: 0, ...frame, maskingKey }));
}

/**
 * Any frame a hostile peer could write: every opcode, any RSV bits and FIN, masked or not, lengths written
 * non-minimally, declared lengths that disagree with the payload (the most significant bit included), and
 * control frames over 125 bytes.
 */
export function hostileFrameArbitrary(options: FrameArbitraryOptions = {}): fc.Arbitrary<FrameSpec> {
  const maxPayloadLength = options.maxPayloadLength ?? 256;
  const declaredLength = fc.oneof(
    { weight: 6, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: 300n }) },
    { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(1n << 63n, (1n << 63n) + 5n, (1n << 53n) + 1n, 0xffffn, 0x10000n),
    },
  );
  return fc.record({
    isFinal: fc.boolean(),
    rsv: fc.oneof(
      { weight: 4, arbitrary: fc.constant(0) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 7 }).map((bits) => bits << 4) },
    ),
    opcode: fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(0, 1, 2, 8, 9, 10) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 15 }) },
    ),
    payload: fc.uint8Array({ maxLength: maxPayloadLength }),
    maskingKey: maskingKeyFor(options.masking ?? 'either'),
    lengthEncoding: fc.constantFrom<LengthEncoding>('minimal', 'minimal', 'minimal', '16-bit', '64-bit'),
    declaredLength,
  });
}
