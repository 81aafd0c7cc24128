// Owns the frame header of RFC 6455 §5.2: its fields, and encoding and decoding them.

import { ProtocolError } from './errors.js';
import { CloseCode } from './opcodes.js';

/** The fields of one frame header (RFC 6455 §5.2). Parsers reuse one instance; copy what you keep. */
export interface FrameHeader {
  isFinal: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  opcode: number;
  hasMask: boolean;
  payloadLength: number;
  /** Valid only when `hasMask`; four bytes. */
  maskingKey: Uint8Array;
}

/** A header to decode into; `maskingKey` is the array the key is written to (four bytes, a new one by default). */
export function createFrameHeader(maskingKey: Uint8Array = new Uint8Array(4)): FrameHeader {
  return {
    isFinal: false,
    rsv1: false,
    rsv2: false,
    rsv3: false,
    opcode: 0,
    hasMask: false,
    payloadLength: 0,
    maskingKey,
  };
}

/** Size of a header for this payload length: 2 bytes, +2 for 16-bit, +8 for 64-bit lengths, +4 for a mask. */
export function frameHeaderLength(payloadLength: number, hasMask: boolean): number {
  const lengthBytes = payloadLength < 126 ? 0 : payloadLength < 0x10000 ? 2 : 8;
  return 2 + lengthBytes + (hasMask ? 4 : 0);
}

/** RSV bits packed as in the first header byte: RSV1 = 0x40, RSV2 = 0x20, RSV3 = 0x10. */
export const RSV1 = 0x40;
export const RSV2 = 0x20;
export const RSV3 = 0x10;

/**
 * Writes a header into `target` at `offset` and returns the offset after it. `rsvBits` is a mask of
 * RSV1/RSV2/RSV3. When `maskingKey` is given, the MASK bit is set and the key follows the length.
 */
export function encodeFrameHeader(
  target: Uint8Array,
  offset: number,
  isFinal: boolean,
  rsvBits: number,
  opcode: number,
  payloadLength: number,
  maskingKey: Uint8Array | undefined,
): number {
  target[offset++] = (isFinal ? 0x80 : 0) | rsvBits | opcode;
  const maskBit = maskingKey === undefined ? 0 : 0x80;
  if (payloadLength < 126) {
    target[offset++] = maskBit | payloadLength;
  } else if (payloadLength < 0x10000) {
    // RFC 6455 §5.2: the minimal number of bytes MUST be used to encode the length.
    target[offset++] = maskBit | 126;
    target[offset++] = payloadLength >>> 8;
    target[offset++] = payloadLength & 0xff;
  } else {
    target[offset++] = maskBit | 127;
    const high = Math.floor(payloadLength / 0x100000000);
    const low = payloadLength >>> 0;
    target[offset++] = 0;
    target[offset++] = 0;
    target[offset++] = (high >>> 8) & 0xff;
    target[offset++] = high & 0xff;
    target[offset++] = low >>> 24;
    target[offset++] = (low >>> 16) & 0xff;
    target[offset++] = (low >>> 8) & 0xff;
    target[offset++] = low & 0xff;
  }
  if (maskingKey !== undefined) {
    target[offset++] = maskingKey[0]!;
    target[offset++] = maskingKey[1]!;
    target[offset++] = maskingKey[2]!;
    target[offset++] = maskingKey[3]!;
  }
  return offset;
}

/**
 * Reads a header from `bytes[offset, end)` into `header`. Returns the number of header bytes, or 0 when
 * the header is not complete yet. Throws ProtocolError(1002) for a 64-bit length with the top bit set
 * (RFC 6455 §5.2: "the most significant bit MUST be 0") and for non-minimal length encodings is lenient.
 */
export function decodeFrameHeader(
  bytes: Uint8Array,
  offset: number,
  end: number,
  header: FrameHeader,
): number {
  const available = end - offset;
  if (available < 2) return 0;
  const first = bytes[offset]!;
  const second = bytes[offset + 1]!;
  const hasMask = (second & 0x80) !== 0;
  const shortLength = second & 0x7f;
  const lengthBytes = shortLength === 126 ? 2 : shortLength === 127 ? 8 : 0;
  const headerLength = 2 + lengthBytes + (hasMask ? 4 : 0);
  if (available < headerLength) return 0;

  let payloadLength = shortLength;
  let position = offset + 2;
  if (shortLength === 126) {
    payloadLength = (bytes[position]! << 8) | bytes[position + 1]!;
    position += 2;
  } else if (shortLength === 127) {
    const top = bytes[position]!;
    if ((top & 0x80) !== 0) {
      throw new ProtocolError(CloseCode.ProtocolError, 'Frame length has its most significant bit set');
    }
    const high =
      ((top << 24) | (bytes[position + 1]! << 16) | (bytes[position + 2]! << 8) | bytes[position + 3]!) >>> 0;
    const low =
      ((bytes[position + 4]! << 24) |
        (bytes[position + 5]! << 16) |
        (bytes[position + 6]! << 8) |
        bytes[position + 7]!) >>>
      0;
    // Lengths past 2^53 lose precision here; they are far above any maxLength and fail with 1009 anyway.
    payloadLength = high * 0x100000000 + low;
    position += 8;
  }

  header.isFinal = (first & 0x80) !== 0;
  header.rsv1 = (first & RSV1) !== 0;
  header.rsv2 = (first & RSV2) !== 0;
  header.rsv3 = (first & RSV3) !== 0;
  header.opcode = first & 0x0f;
  header.hasMask = hasMask;
  header.payloadLength = payloadLength;
  if (hasMask) {
    const key = header.maskingKey;
    key[0] = bytes[position]!;
    key[1] = bytes[position + 1]!;
    key[2] = bytes[position + 2]!;
    key[3] = bytes[position + 3]!;
  }
  return headerLength;
}

/** Up to this payload size a frame's header and payload are copied into one buffer: one write beats two. */
const SMALL_FRAME_COPY_LIMIT = 1024;

/**
 * An unmasked frame (what a server sends, RFC 6455 §5.1) as the buffers to write: one buffer up to 1 KiB
 * of payload, else the header and the payload itself, not copied.
 */
export function encodeUnmaskedFrame(
  opcode: number,
  payload: Uint8Array,
  isFinal: boolean,
  rsvBits: number,
): Buffer[] {
  const payloadLength = payload.length;
  const headerLength = frameHeaderLength(payloadLength, false);
  if (payloadLength <= SMALL_FRAME_COPY_LIMIT) {
    const frame = Buffer.allocUnsafe(headerLength + payloadLength);
    encodeFrameHeader(frame, 0, isFinal, rsvBits, opcode, payloadLength, undefined);
    frame.set(payload, headerLength);
    return [frame];
  }
  const header = Buffer.allocUnsafe(headerLength);
  encodeFrameHeader(header, 0, isFinal, rsvBits, opcode, payloadLength, undefined);
  const body = Buffer.isBuffer(payload)
    ? payload
    : Buffer.from(payload.buffer, payload.byteOffset, payloadLength);
  return [header, body];
}
