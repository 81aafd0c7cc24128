// Owns close frames' contents as fuzz input: status codes on both sides of the registry, and reasons.

import fc from 'fast-check';

/**
 * A status code a peer may put in a close frame: RFC 6455 §7.4.1 and the IANA "WebSocket Close Code
 * Number Registry" define 1000-1003 and 1007-1014 for use; §7.4.2 gives 3000-3999 to libraries and
 * 4000-4999 to private use.
 */
export function validCloseCodeArbitrary(): fc.Arbitrary<number> {
  return fc.oneof(
    fc.constantFrom(1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014),
    fc.integer({ min: 3000, max: 4999 }),
  );
}

/**
 * A status code that must not appear in a close frame: below 1000 (unused, §7.4.2), 1004 (reserved),
 * 1005, 1006 and 1015 (never sent, §7.4.1), 1016-2999 (reserved for future RFCs) and 5000 and up.
 */
export function invalidCloseCodeArbitrary(): fc.Arbitrary<number> {
  return fc.oneof(
    fc.constantFrom(0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535),
    fc.integer({ min: 0, max: 999 }),
    fc.integer({ min: 1015, max: 2999 }),
    fc.integer({ min: 5000, max: 65535 }),
  );
}

/** A close reason whose UTF-8 fits next to the code in a control frame: at most 123 bytes (RFC 6455 §5.5). */
export function closeReasonArbitrary(): fc.Arbitrary<string> {
  return fc.string({ unit: 'binary', maxLength: 60 }).map(fitCloseReason);
}

/**
 * A close frame's payload: the code big-endian, then the reason (RFC 6455 §5.5.1), cut on a character
 * boundary to fit the 125 bytes of a control frame.
 */
export function closePayload(code: number, reason: string): Uint8Array {
  const reasonBytes = Buffer.from(fitCloseReason(reason), 'utf8');
  const payload = Buffer.alloc(2 + reasonBytes.length);
  payload.writeUInt16BE(code, 0);
  payload.set(reasonBytes, 2);
  return payload;
}

/** `reason` without its last characters until its UTF-8 is at most 123 bytes. */
export function fitCloseReason(reason: string): string {
  if (Buffer.byteLength(reason, 'utf8') <= 123) return reason;
  const characters = [...reason];
  while (Buffer.byteLength(characters.join(''), 'utf8') > 123) characters.pop();
  return characters.join('');
}
