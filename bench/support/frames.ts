// Owns how benchmark input is framed: RFC 6455 frames built independently of every library under test,
// and a stream of them cut into the chunks a socket would deliver.

import { randomFillSync } from 'node:crypto';

export const OPCODE_TEXT = 0x1;
export const OPCODE_BINARY = 0x2;

/** The read size of a node:net socket under load (libuv reads up to 64 KiB at a time). */
export const SOCKET_CHUNK_SIZE = 64 * 1024;

/**
 * One final frame carrying `payload`. With `isMasked` a random masking key is drawn and the payload
 * is masked (what a client sends, RFC 6455 §5.3); otherwise it is what a server sends.
 */
export function encodeFrame(opcode: number, payload: Uint8Array, isMasked: boolean): Buffer {
  const length = payload.length;
  const lengthBytes = length < 126 ? 0 : length < 0x10000 ? 2 : 8;
  const headerLength = 2 + lengthBytes + (isMasked ? 4 : 0);
  const frame = Buffer.allocUnsafe(headerLength + length);
  frame[0] = 0x80 | opcode;
  const maskBit = isMasked ? 0x80 : 0;
  if (lengthBytes === 0) {
    frame[1] = maskBit | length;
  } else if (lengthBytes === 2) {
    frame[1] = maskBit | 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = maskBit | 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  frame.set(payload, headerLength);
  if (isMasked) {
    const keyOffset = headerLength - 4;
    randomFillSync(frame, keyOffset, 4);
    for (let index = 0; index < length; index++) {
      frame[headerLength + index] = frame[headerLength + index]! ^ frame[keyOffset + (index & 3)]!;
    }
  }
  return frame;
}

/** A run of identical-payload frames, laid end to end as they would arrive on one connection. */
export interface FrameStream {
  /** The wire bytes of every frame, back to back. */
  bytes: Buffer;
  frameCount: number;
  /** Payload bytes in all, what MB/s counts. */
  payloadBytes: number;
}

/**
 * Enough copies of one message to fill at least `targetBytes` on the wire (at least one frame), each
 * with its own masking key when masked.
 */
export function frameStream(
  opcode: number,
  payload: Uint8Array,
  isMasked: boolean,
  targetBytes: number,
): FrameStream {
  const frames: Buffer[] = [];
  let total = 0;
  do {
    const frame = encodeFrame(opcode, payload, isMasked);
    frames.push(frame);
    total += frame.length;
  } while (total < targetBytes);
  return {
    bytes: Buffer.concat(frames, total),
    frameCount: frames.length,
    payloadBytes: frames.length * payload.length,
  };
}

/** Views of `bytes` cut every `chunkSize` bytes: frames straddle chunk boundaries as they do on a socket. */
export function chunksOf(bytes: Buffer, chunkSize: number = SOCKET_CHUNK_SIZE): Buffer[] {
  const chunks: Buffer[] = [];
  for (let start = 0; start < bytes.length; start += chunkSize) {
    chunks.push(bytes.subarray(start, Math.min(start + chunkSize, bytes.length)));
  }
  return chunks;
}
