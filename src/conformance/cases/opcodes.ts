// Owns category 4, opcodes: the reserved non-control (3-7) and control (11-15) opcodes of RFC 6455 §5.2
// must fail the connection, alone or after a valid message.

import {
  CLOSE_PROTOCOL_ERROR,
  type ConformanceCase,
  defineCase,
  failsConnection,
  type SendOptions,
  text,
} from '../case.js';

const GREETING = 'Hello, world!';

export function opcodeCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  for (const [group, first, kind] of [
    [1, 3, 'non-control'],
    [2, 11, 'control'],
  ] as const) {
    const opcodes = [first, first + 1, first + 2, first + 3, first + 4];
    const reference = ['RFC 6455 §5.2'];
    cases.push(
      defineCase({
        id: `4.${group}.1`,
        description: `Send a frame with the reserved ${kind} opcode ${opcodes[0]}.`,
        expectation: 'The connection is failed (1002) at once: the opcode is reserved.',
        references: reference,
        expect: failsConnection([CLOSE_PROTOCOL_ERROR]),
        run: (context) => context.send({ opcode: opcodes[0]! }),
      }),
      defineCase({
        id: `4.${group}.2`,
        description: `Send a frame with the reserved ${kind} opcode ${opcodes[1]} and a payload.`,
        expectation: 'The connection is failed (1002) at once: the opcode is reserved.',
        references: reference,
        expect: failsConnection([CLOSE_PROTOCOL_ERROR]),
        run: (context) => context.send({ opcode: opcodes[1]!, payload: 'reserved opcode payload' }),
      }),
    );
    const variants: [number, boolean, SendOptions, string][] = [
      [opcodes[2]!, false, {}, ''],
      [opcodes[3]!, true, {}, ''],
      [opcodes[4]!, true, { chopSize: 1 }, ', all written one octet at a time'],
    ];
    variants.forEach(([opcode, hasPayload, options, how], index) => {
      cases.push(
        defineCase({
          id: `4.${group}.${index + 3}`,
          description: `Send a small text message, then a frame with the reserved ${kind} opcode ${opcode}${hasPayload ? ' and a payload' : ''}, then a ping${how}.`,
          expectation:
            'The message is echoed, then the connection is failed (1002) at once: the opcode is reserved. No pong. (Failing before the echo is NON-STRICT.)',
          references: reference,
          expect: failsConnection([CLOSE_PROTOCOL_ERROR], [text(GREETING)], true),
          run: async (context) => {
            await context.send({ opcode: 0x1, payload: GREETING }, options);
            await context.send({ opcode, ...(hasPayload ? { payload: GREETING } : {}) }, options);
            await context.send({ opcode: 0x9 }, options);
          },
        }),
      );
    });
  }
  return cases;
}
