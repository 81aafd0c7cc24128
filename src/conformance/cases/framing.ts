// Owns category 1, framing: text and binary messages across the three payload length encodings of
// RFC 6455 §5.2 (7-bit, 16-bit and 64-bit), and a frame that arrives in small pieces.

import {
  answersThenClosesNormally,
  binary,
  type ConformanceCase,
  defineCase,
  repeatText,
  text,
} from '../case.js';

/** Sizes at both sides of each length encoding boundary (125/126 and 65535/65536). */
const SIZES = [0, 125, 126, 127, 128, 65535, 65536] as const;
const CHOPPED_SIZE = 65536;
const CHOP_SIZE = 997;

export function framingCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  for (const [group, isBinary] of [
    [1, false],
    [2, true],
  ] as const) {
    const kind = isBinary ? 'binary' : 'text';
    const unit = isBinary ? '\xfe' : '*';
    const makePayload = (length: number): Buffer =>
      isBinary ? Buffer.alloc(length, 0xfe) : Buffer.from(repeatText(unit, length), 'utf8');
    const expected = (length: number) => (isBinary ? binary(makePayload(length)) : text(makePayload(length)));
    SIZES.forEach((length, index) => {
      cases.push(
        defineCase({
          id: `1.${group}.${index + 1}`,
          description: `Send a ${kind} message with a payload of ${length} bytes${length === 0 ? '' : length < 126 ? ' (7-bit length)' : length < 65536 ? ' (16-bit length)' : ' (64-bit length)'}.`,
          expectation: `The ${kind} message is echoed unchanged; clean close with 1000.`,
          references: ['RFC 6455 §5.2', 'RFC 6455 §5.6'],
          expect: { ...answersThenClosesNormally(expected(length)), responseTimeout: 10_000 },
          run: (context) => context.send({ opcode: isBinary ? 0x2 : 0x1, payload: makePayload(length) }),
        }),
      );
    });
    cases.push(
      defineCase({
        id: `1.${group}.8`,
        description: `Send a ${kind} message of ${CHOPPED_SIZE} bytes, written in pieces of ${CHOP_SIZE} octets.`,
        expectation: `The ${kind} message is echoed unchanged, however TCP split it; clean close with 1000.`,
        references: ['RFC 6455 §5.2'],
        expect: { ...answersThenClosesNormally(expected(CHOPPED_SIZE)), responseTimeout: 10_000 },
        run: (context) =>
          context.send(
            { opcode: isBinary ? 0x2 : 0x1, payload: makePayload(CHOPPED_SIZE) },
            { chopSize: CHOP_SIZE },
          ),
      }),
    );
  }
  return cases;
}
