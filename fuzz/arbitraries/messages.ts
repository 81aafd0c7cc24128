// Owns application messages as fuzz input: text over every Unicode plane, binary, empty, and large payloads.

import fc from 'fast-check';

/** A whole data message as an application sends or receives it. */
export type Message = { type: 'text'; data: string } | { type: 'binary'; data: Uint8Array };

/** Options of {@link messageArbitrary}. */
export interface MessageArbitraryOptions {
  /** Longest small message, in UTF-16 units for text and bytes for binary. Default 300. */
  maxLength?: number;
  /**
   * Largest large message in bytes, or 0 for none. Default 0. Large messages (64 KiB up to this) are
   * built from a short random block repeated or a seeded generator, so that making one stays cheap.
   */
  maxLargeLength?: number;
  /** How often a large message comes, against 11 for the small ones together. Default 2. */
  largeWeight?: number;
}

/** Code points above U+FFFF (planes 1-16), written in UTF-16 as surrogate pairs and in UTF-8 as 4 bytes. */
export function astralCharacterArbitrary(): fc.Arbitrary<string> {
  return fc.integer({ min: 0x10000, max: 0x10ffff }).map((codePoint) => String.fromCodePoint(codePoint));
}

/**
 * Text mixing every plane: any scalar value (no lone surrogates, which UTF-8 cannot carry), with extra
 * weight on the boundaries where encoders go wrong: ASCII, 2- and 3-byte forms, the last BMP characters
 * and astral characters.
 */
export function textArbitrary(maxLength = 300): fc.Arbitrary<string> {
  const boundaryCharacter = fc.constantFrom(
    '\u0000',
    '\u007f',
    '\u0080',
    '\u07ff',
    '\u0800',
    '\ud7ff',
    '\ue000',
    '\ufeff',
    '\ufffd',
    '\uffff',
    '\u{10000}',
    '\u{1f600}',
    '\u{10ffff}',
  );
  const unit = fc.oneof(
    { weight: 4, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
    { weight: 2, arbitrary: astralCharacterArbitrary() },
    { weight: 1, arbitrary: boundaryCharacter },
    { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 1 }) },
  );
  // A code point is at most two UTF-16 units, so this many units keeps the string within maxLength.
  return fc.string({ unit, maxLength: Math.floor(maxLength / 2) });
}

/** Bytes of any value, up to `maxLength`. */
export function binaryArbitrary(maxLength = 300): fc.Arbitrary<Uint8Array> {
  return fc.uint8Array({ maxLength });
}

/**
 * A large binary payload from 64 KiB up to `maxLength` bytes: either a short random block repeated
 * (compressible) or bytes from a seeded xorshift generator (incompressible). It prints as a short
 * description, not as megabytes.
 */
export function largeBinaryArbitrary(maxLength: number): fc.Arbitrary<Uint8Array> {
  const minLength = Math.min(64 * 1024, maxLength);
  return fc
    .record({
      length: fc.integer({ min: minLength, max: maxLength }),
      seed: fc.integer({ min: 1, max: 0x7fffffff }),
      isRepeated: fc.boolean(),
      blockLength: fc.integer({ min: 1, max: 300 }),
    })
    .map(({ length, seed, isRepeated, blockLength }) => {
      const bytes = Buffer.allocUnsafe(length);
      fillSeeded(bytes, seed, isRepeated ? Math.min(blockLength, length) : length);
      return describedAs(
        bytes,
        `largeBinary(${length} bytes, seed ${seed}, ${isRepeated ? `block ${blockLength}` : 'random'})`,
      );
    });
}

/**
 * A large text payload of about 64 KiB up to `maxLength` UTF-8 bytes: a random block of every-plane
 * text repeated. A string cannot carry a description, so it prints in full; keep maxLength modest in
 * properties that print counterexamples often.
 */
export function largeTextArbitrary(maxLength: number): fc.Arbitrary<string> {
  return fc
    .tuple(
      textArbitrary(200).filter((block) => block.length > 0),
      fc.integer({ min: 64 * 1024, max: Math.max(64 * 1024, maxLength) }),
    )
    .map(([block, length]) => {
      const blockBytes = Buffer.byteLength(block, 'utf8');
      return block.repeat(Math.max(1, Math.floor(length / blockBytes)));
    });
}

/**
 * A message: text or binary, empty with some weight, and large ones when `maxLargeLength` allows.
 *
 * @example
 * ```ts
 * fc.assert(fc.property(fc.array(messageArbitrary()), (messages) => roundTrip(messages)));
 * ```
 */
export function messageArbitrary(options: MessageArbitraryOptions = {}): fc.Arbitrary<Message> {
  const maxLength = options.maxLength ?? 300;
  const maxLargeLength = options.maxLargeLength ?? 0;
  const text = textArbitrary(maxLength).map((data): Message => ({ type: 'text', data }));
  const binary = binaryArbitrary(maxLength).map((data): Message => ({ type: 'binary', data }));
  const empty = fc.constantFrom<Message>(
    { type: 'text', data: '' },
    { type: 'binary', data: new Uint8Array(0) },
  );
  const choices: fc.WeightedArbitrary<Message>[] = [
    { weight: 5, arbitrary: text },
    { weight: 5, arbitrary: binary },
    { weight: 1, arbitrary: empty },
  ];
  if (maxLargeLength > 0) {
    const weight = Math.max(1, Math.round((options.largeWeight ?? 2) / 2));
    choices.push(
      {
        weight,
        arbitrary: largeBinaryArbitrary(maxLargeLength).map((data): Message => ({ type: 'binary', data })),
      },
      {
        weight,
        arbitrary: largeTextArbitrary(maxLargeLength).map((data): Message => ({ type: 'text', data })),
      },
    );
  }
  return fc.oneof(...choices);
}

/** The payload bytes of a message: UTF-8 for text. */
export function messageBytes(message: Message): Uint8Array {
  return message.type === 'text' ? Buffer.from(message.data, 'utf8') : message.data;
}

/** Fills `bytes` with xorshift32 output from `seed`, repeating the first `period` bytes. */
function fillSeeded(bytes: Uint8Array, seed: number, period: number): void {
  let state = seed | 0 || 1;
  for (let index = 0; index < period; index++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[index] = state & 0xff;
  }
  for (let index = period; index < bytes.length; index++) bytes[index] = bytes[index - period]!;
}

/** Gives a large value a short printed form in counterexamples (fast-check's toString hook). */
function describedAs<T extends object>(value: T, description: string): T {
  Object.defineProperty(value, fc.toStringMethod, { value: () => description, enumerable: false });
  return value;
}
