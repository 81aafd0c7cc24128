// Owns permessage-deflate as fuzz input: the parameter sets RFC 7692 lets endpoints negotiate, and
// DEFLATE payloads from well-formed to hostile (bombs, truncations, garbage).

import { deflateRawSync, constants as zlibConstants } from 'node:zlib';
import fc from 'fast-check';

/**
 * One endpoint's permessage-deflate configuration, named as hybi's `permessageDeflate()` and ws's
 * `PerMessageDeflate` both name their options, so the same value configures either.
 */
export interface DeflateParameterSet {
  /** RFC 7692 §7.1.1.1. */
  serverNoContextTakeover?: boolean;
  /** RFC 7692 §7.1.1.2. */
  clientNoContextTakeover?: boolean;
  /** RFC 7692 §7.1.2.1: 8 to 15. */
  serverMaxWindowBits?: number;
  /** RFC 7692 §7.1.2.2: 8 to 15, or `true` to offer the parameter without a value. */
  clientMaxWindowBits?: number | true;
}

/**
 * Every combination RFC 7692 §7.1 allows one endpoint to ask for: each no_context_takeover flag on or
 * off, each max_window_bits absent or 8-15, client_max_window_bits also valueless.
 */
export function deflateParameterSetArbitrary(): fc.Arbitrary<DeflateParameterSet> {
  const windowBits = fc.integer({ min: 8, max: 15 });
  return fc.record(
    {
      serverNoContextTakeover: fc.boolean(),
      clientNoContextTakeover: fc.boolean(),
      serverMaxWindowBits: windowBits,
      clientMaxWindowBits: fc.oneof(windowBits, fc.constant(true as const)),
    },
    { requiredKeys: [] },
  );
}

/** What a DEFLATE payload is meant to test, and the data it inflates to when it is well-formed. */
export type DeflatePayload =
  /** A raw DEFLATE stream of `data`, sync-flushed, with the RFC 7692 §7.2.1 trailer removed. */
  | { kind: 'valid'; data: Uint8Array; compressed: Uint8Array }
  /** A small stream inflating to `inflatedLength` bytes of zeros: a decompression bomb. */
  | { kind: 'bomb'; inflatedLength: number; compressed: Uint8Array }
  /** A valid stream cut short: no error, but an incomplete message. */
  | { kind: 'truncated'; compressed: Uint8Array }
  /** A valid stream with bytes flipped: anything from an error to different data. */
  | { kind: 'corrupted'; compressed: Uint8Array }
  /** Arbitrary bytes. */
  | { kind: 'garbage'; compressed: Uint8Array };

/**
 * Compresses as an RFC 7692 sender does: raw DEFLATE, a sync flush, then the trailing `00 00 ff ff`
 * removed (§7.2.1).
 */
export function deflateMessage(data: Uint8Array, windowBits = 15, level = 6): Uint8Array {
  const compressed = deflateRawSync(data, {
    // zlib refuses 8 for raw streams; 9 with a 256-byte peer is safe (see hybi's permessage-deflate.ts).
    windowBits: Math.max(9, windowBits),
    level,
    finishFlush: zlibConstants.Z_SYNC_FLUSH,
  });
  return compressed.subarray(0, compressed.length - 4);
}

/** DEFLATE payloads for an inflating receiver: valid, bombs past any small maxLength, truncated, corrupted, garbage. */
export function deflatePayloadArbitrary(maxDataLength = 2048): fc.Arbitrary<DeflatePayload> {
  const data = fc.oneof(
    fc.uint8Array({ maxLength: maxDataLength }),
    fc
      .string({ unit: fc.constantFrom('a', 'b', '{', '"', ':', ' '), maxLength: maxDataLength })
      .map((text) => Buffer.from(text)),
  );
  const valid = data.map(
    (bytes): DeflatePayload => ({ kind: 'valid', data: bytes, compressed: deflateMessage(bytes) }),
  );
  const bomb = fc.integer({ min: 1024, max: 8 * 1024 * 1024 }).map(
    (inflatedLength): DeflatePayload => ({
      kind: 'bomb',
      inflatedLength,
      compressed: deflateMessage(new Uint8Array(inflatedLength), 15, 9),
    }),
  );
  const truncated = fc.tuple(data, fc.nat()).map(([bytes, cut]): DeflatePayload => {
    const compressed = deflateMessage(bytes);
    return { kind: 'truncated', compressed: compressed.subarray(0, cut % (compressed.length + 1)) };
  });
  const corrupted = fc
    .tuple(
      data,
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
    )
    .map(([bytes, flips]): DeflatePayload => {
      const compressed = Buffer.from(deflateMessage(bytes));
      for (const [position, mask] of flips) {
        if (compressed.length === 0) continue;
        const index = position % compressed.length;
        compressed[index] = compressed[index]! ^ mask;
      }
      return { kind: 'corrupted', compressed };
    });
  const garbage = fc
    .uint8Array({ minLength: 1, maxLength: 64 })
    .map((compressed): DeflatePayload => ({ kind: 'garbage', compressed }));
  return fc.oneof(valid, bomb, truncated, corrupted, garbage);
}
