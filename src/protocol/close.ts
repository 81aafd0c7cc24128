// Owns the close frame body of RFC 6455 §5.5.1: encoding, decoding and validating code and reason.

import { ProtocolError } from './errors.js';
import { CloseCode, isValidCloseCode, MAX_CONTROL_PAYLOAD } from './opcodes.js';
import { isValidUtf8 } from './utf8.js';

export interface CloseBody {
  /** 1005 (NoStatusReceived) when the frame had an empty body. */
  code: number;
  reason: string;
}

/** The longest reason that fits a close frame next to its 2-byte code (RFC 6455 §5.5: 125-byte control payloads). */
export const MAX_CLOSE_REASON_BYTES = MAX_CONTROL_PAYLOAD - 2;

const EMPTY = Buffer.alloc(0);

/**
 * Decodes and validates a received close payload. RFC 6455 §5.5.1: an empty body means no code (1005);
 * a 1-byte body is malformed (1002); the code must be one allowed on the wire (1002 otherwise) and the
 * reason valid UTF-8 (1007, RFC 6455 §8.1).
 */
export function decodeCloseBody(payload: Uint8Array): CloseBody {
  if (payload.length === 0) return { code: CloseCode.NoStatusReceived, reason: '' };
  if (payload.length === 1) {
    throw new ProtocolError(CloseCode.ProtocolError, 'Close frame body of 1 byte is too short for a code');
  }
  const code = (payload[0]! << 8) | payload[1]!;
  if (!isValidCloseCode(code)) {
    throw new ProtocolError(CloseCode.ProtocolError, `Invalid close code ${code}`);
  }
  const reasonBytes = payload.subarray(2);
  if (!isValidUtf8(reasonBytes)) {
    throw new ProtocolError(CloseCode.InvalidPayload, 'Close reason is not valid UTF-8');
  }
  return {
    code,
    reason: Buffer.from(reasonBytes.buffer, reasonBytes.byteOffset, reasonBytes.length).toString('utf8'),
  };
}

/**
 * Encodes a close body to send. `code` undefined (or 1005) sends an empty body. Programmer errors
 * (a code not allowed on the wire, a reason over 123 bytes) throw, since the application chose them.
 */
export function encodeCloseBody(code: number | undefined, reason = ''): Buffer {
  if (code === undefined || code === CloseCode.NoStatusReceived) {
    if (reason !== '') throw new TypeError('A close reason needs a close code');
    return EMPTY;
  }
  if (!isValidCloseCode(code)) {
    throw new RangeError(`Close code ${code} may not be sent: use 1000-1003, 1007-1014 or 3000-4999`);
  }
  const reasonLength = Buffer.byteLength(reason);
  if (reasonLength > MAX_CLOSE_REASON_BYTES) {
    throw new RangeError(
      `Close reason is ${reasonLength} bytes; at most ${MAX_CLOSE_REASON_BYTES} fit a close frame`,
    );
  }
  const body = Buffer.allocUnsafe(2 + reasonLength);
  body[0] = code >>> 8;
  body[1] = code & 0xff;
  body.write(reason, 2, 'utf8');
  return body;
}
