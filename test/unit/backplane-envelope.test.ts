// The envelope topic messages travel in between processes: round trips, and a defined refusal for
// every malformed input (never an exception), checked exhaustively on truncations and by fast-check.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeEnvelope,
  ENVELOPE_VERSION,
  type Envelope,
  encodeEnvelope,
} from '../../src/node/backplane-envelope.js';

const sample: Envelope = {
  origin: 'host-1:4242:9f3a',
  sequence: 7,
  topic: 'room:lobby ✓',
  opcode: 1,
  payload: Buffer.from('héllo', 'utf8'),
};

describe('backplane envelope', () => {
  it('round-trips text and binary messages with origin, sequence and topic', () => {
    for (const envelope of [sample, { ...sample, opcode: 2, payload: Buffer.from([0, 255, 1]), topic: '' }]) {
      const decoded = decodeEnvelope(encodeEnvelope(envelope));
      expect(decoded.ok).toBe(true);
      if (!decoded.ok) continue;
      expect({ ...decoded.envelope, payload: [...decoded.envelope.payload] }).toEqual({
        ...envelope,
        payload: [...envelope.payload],
      });
    }
  });

  it('starts with version 1 and the opcode, then the sequence big-endian, wrapping at 2^32', () => {
    const bytes = encodeEnvelope({ ...sample, sequence: 2 ** 32 + 5 });
    expect([...bytes.subarray(0, 7)]).toEqual([ENVELOPE_VERSION, 1, 0, 0, 0, 5, 16]);
  });

  it('refuses every truncation of a valid envelope, and an unknown version, without throwing', () => {
    const bytes = encodeEnvelope({ ...sample, payload: Buffer.alloc(0) });
    for (let length = 0; length < bytes.length; length++) {
      expect(decodeEnvelope(bytes.subarray(0, length)).ok).toBe(false);
    }
    const future = Buffer.from(bytes);
    future[0] = 2;
    expect(decodeEnvelope(future)).toEqual({ ok: false, reason: 'unknown envelope version 2' });
  });

  it('refuses a text payload that is not UTF-8 (RFC 6455 §8.1)', () => {
    const bytes = encodeEnvelope({ ...sample, opcode: 2, payload: Buffer.from([0xc3, 0x28]) });
    expect(decodeEnvelope(bytes).ok).toBe(true);
    bytes[1] = 1;
    expect(decodeEnvelope(bytes)).toEqual({ ok: false, reason: 'text payload is not UTF-8' });
  });

  it('throws RangeError for an origin or topic its length field cannot hold', () => {
    expect(() => encodeEnvelope({ ...sample, origin: '' })).toThrow(RangeError);
    expect(() => encodeEnvelope({ ...sample, origin: 'o'.repeat(256) })).toThrow(RangeError);
    expect(() => encodeEnvelope({ ...sample, topic: 't'.repeat(65_536) })).toThrow(RangeError);
  });

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const decoded = decodeEnvelope(Buffer.from(bytes));
        expect(typeof decoded.ok).toBe('boolean');
      }),
      { numRuns: 2000 },
    );
  });
});
