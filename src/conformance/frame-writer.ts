// Owns building the tester's frames byte by byte, including the deliberately broken ones a conforming
// sender never writes (reserved opcodes, RSV bits, fragmented control frames, oversized control payloads).

import { encodeFrameHeader, frameHeaderLength } from '../protocol/frame.js';
import { copyMasked, MaskKeyPool } from '../protocol/mask.js';

/** One frame as a case asks for it. Nothing here is validated: the point is to send what the RFC forbids. */
export interface FrameSpec {
  /** Any 4-bit opcode, reserved ones included (RFC 6455 §5.2). */
  opcode: number;
  /** FIN; default true. */
  isFinal?: boolean;
  /** RSV bits as a 3-bit number, Autobahn's way: 4 = RSV1, 2 = RSV2, 1 = RSV3. Default 0. */
  rsv?: number;
  /** The payload; strings are sent as UTF-8. Default empty. */
  payload?: Uint8Array | string;
  /** Repeats `payload` cyclically up to this many bytes (large test messages without building them twice). */
  payloadLength?: number;
}

/** The bytes of one frame and what they were built from, for the wire log. */
export interface EncodedFrame {
  bytes: Buffer;
  /** The unmasked payload. */
  payload: Buffer;
  opcode: number;
  isFinal: boolean;
  rsv: number;
  isMasked: boolean;
}

const EMPTY = Buffer.alloc(0);

/** The payload a spec describes, as bytes. */
export function payloadOf(spec: FrameSpec): Buffer {
  const source = spec.payload === undefined ? EMPTY : toBuffer(spec.payload);
  const length = spec.payloadLength;
  if (length === undefined || length === source.length) return source;
  if (source.length === 0) return Buffer.alloc(length);
  // Buffer#fill repeats a buffer value across the range, which is exactly "repeat to length".
  return Buffer.alloc(length).fill(source);
}

export function toBuffer(data: Uint8Array | string): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Writes frames as one side of a connection writes them: a client masks every frame with a fresh
 * key (RFC 6455 §5.3), a server masks none (§5.1).
 *
 * @example
 * ```ts
 * const writer = new FrameWriter(true);
 * socket.write(writer.encode({ opcode: 0x9, isFinal: false, payload: 'fragmented ping' }).bytes);
 * ```
 */
export class FrameWriter {
  readonly isMasking: boolean;
  private readonly maskKeys = new MaskKeyPool();

  constructor(isMasking: boolean) {
    this.isMasking = isMasking;
  }

  encode(spec: FrameSpec): EncodedFrame {
    const payload = payloadOf(spec);
    const isFinal = spec.isFinal ?? true;
    const rsv = (spec.rsv ?? 0) & 0x7;
    const opcode = spec.opcode & 0xf;
    const headerLength = frameHeaderLength(payload.length, this.isMasking);
    const bytes = Buffer.allocUnsafe(headerLength + payload.length);
    if (this.isMasking) {
      const maskingKey = this.maskKeys.nextKey();
      encodeFrameHeader(bytes, 0, isFinal, rsv << 4, opcode, payload.length, maskingKey);
      copyMasked(payload, bytes, headerLength, maskingKey);
    } else {
      encodeFrameHeader(bytes, 0, isFinal, rsv << 4, opcode, payload.length, undefined);
      payload.copy(bytes, headerLength);
    }
    return { bytes, payload, opcode, isFinal, rsv, isMasked: this.isMasking };
  }
}

/** Splits bytes into pieces of at most `size` octets (views, not copies). */
export function chop(bytes: Buffer, size: number): Buffer[] {
  if (!(Number.isInteger(size) && size > 0))
    throw new RangeError(`chop size must be a positive integer, not ${size}`);
  const pieces: Buffer[] = [];
  for (let offset = 0; offset < bytes.length; offset += size)
    pieces.push(bytes.subarray(offset, offset + size));
  return pieces;
}
