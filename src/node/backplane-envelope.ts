// Owns the envelope a topic message travels in between processes (node:cluster IPC, Redis pub/sub):
// a small, versioned binary layout, decoded with a defined answer for anything malformed.

import { isUtf8 } from 'node:buffer';
import { Opcode } from '../protocol/opcodes.js';

/**
 * Envelope version 1, every integer big-endian:
 *
 * | offset | size | field                                                           |
 * | ------ | ---- | --------------------------------------------------------------- |
 * | 0      | 1    | version: 1                                                      |
 * | 1      | 1    | opcode of the message: 1 text, 2 binary (RFC 6455 §5.2)         |
 * | 2      | 4    | sequence: the publisher's counter, +1 per publish, wraps at 2³² |
 * | 6      | 1    | origin length O, 1-255                                          |
 * | 7      | O    | origin: the publishing process's id, UTF-8                      |
 * | 7+O    | 2    | topic length T, 0-65,535                                        |
 * | 9+O    | T    | topic, UTF-8                                                    |
 * | 9+O+T  | rest | payload (UTF-8 for text)                                        |
 *
 * The origin lets a process skip its own publishes when the transport echoes them back (Redis
 * delivers to every subscriber, the publisher included); the sequence lets a receiver see a gap in
 * one publisher's stream. A receiver refuses a version it does not know rather than guess.
 */
export const ENVELOPE_VERSION = 1;

/** Longest origin id: its length is one byte. */
export const MAX_ORIGIN_BYTES = 255;
/** Longest topic: its length is two bytes. */
export const MAX_TOPIC_BYTES = 65_535;

const HEADER_BYTES = 7;

export interface Envelope {
  readonly origin: string;
  readonly sequence: number;
  readonly topic: string;
  /** Opcode.Text or Opcode.Binary. */
  readonly opcode: number;
  readonly payload: Buffer;
}

export type DecodedEnvelope = { ok: true; envelope: Envelope } | { ok: false; reason: string };

/** Encodes an envelope; throws RangeError for an origin or topic too long for its length field. */
export function encodeEnvelope(envelope: Envelope): Buffer {
  const origin = Buffer.from(envelope.origin, 'utf8');
  const topic = Buffer.from(envelope.topic, 'utf8');
  if (origin.length === 0 || origin.length > MAX_ORIGIN_BYTES) {
    throw new RangeError(`An envelope origin is 1-${MAX_ORIGIN_BYTES} UTF-8 bytes, got ${origin.length}`);
  }
  if (topic.length > MAX_TOPIC_BYTES) {
    throw new RangeError(
      `A topic sent between processes is at most ${MAX_TOPIC_BYTES} UTF-8 bytes, got ${topic.length}`,
    );
  }
  if (envelope.opcode !== Opcode.Text && envelope.opcode !== Opcode.Binary) {
    throw new RangeError('An envelope carries a text (1) or binary (2) message');
  }
  const bytes = Buffer.allocUnsafe(HEADER_BYTES + origin.length + 2 + topic.length + envelope.payload.length);
  bytes[0] = ENVELOPE_VERSION;
  bytes[1] = envelope.opcode;
  bytes.writeUInt32BE(envelope.sequence >>> 0, 2);
  bytes[6] = origin.length;
  let offset = HEADER_BYTES + origin.copy(bytes, HEADER_BYTES);
  bytes.writeUInt16BE(topic.length, offset);
  offset += 2;
  offset += topic.copy(bytes, offset);
  envelope.payload.copy(bytes, offset);
  return bytes;
}

/**
 * Decodes an envelope from another process. Never throws: a short, unknown-version or inconsistent
 * envelope, or a text payload that is not UTF-8 (which no WebSocket may send as text, RFC 6455 §8.1),
 * is `{ ok: false, reason }`. The payload is a view into `bytes`, not a copy.
 */
export function decodeEnvelope(bytes: Buffer): DecodedEnvelope {
  if (bytes.length < HEADER_BYTES) return { ok: false, reason: 'shorter than an envelope header' };
  if (bytes[0] !== ENVELOPE_VERSION) return { ok: false, reason: `unknown envelope version ${bytes[0]}` };
  const opcode = bytes[1]!;
  if (opcode !== Opcode.Text && opcode !== Opcode.Binary) return { ok: false, reason: `opcode ${opcode}` };
  const sequence = bytes.readUInt32BE(2);
  const originLength = bytes[6]!;
  const topicLengthAt = HEADER_BYTES + originLength;
  if (originLength === 0 || bytes.length < topicLengthAt + 2)
    return { ok: false, reason: 'origin cut short' };
  const originBytes = bytes.subarray(HEADER_BYTES, topicLengthAt);
  const topicLength = bytes.readUInt16BE(topicLengthAt);
  const payloadAt = topicLengthAt + 2 + topicLength;
  if (bytes.length < payloadAt) return { ok: false, reason: 'topic cut short' };
  const topicBytes = bytes.subarray(topicLengthAt + 2, payloadAt);
  if (!isUtf8(originBytes) || !isUtf8(topicBytes))
    return { ok: false, reason: 'origin or topic is not UTF-8' };
  const payload = bytes.subarray(payloadAt);
  if (opcode === Opcode.Text && !isUtf8(payload)) return { ok: false, reason: 'text payload is not UTF-8' };
  return {
    ok: true,
    envelope: {
      origin: originBytes.toString('utf8'),
      sequence,
      topic: topicBytes.toString('utf8'),
      opcode,
      payload,
    },
  };
}
