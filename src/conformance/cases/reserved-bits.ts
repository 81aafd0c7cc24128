// Owns category 3, reserved bits: RSV1-3 set with no extension negotiated must fail the connection
// (RFC 6455 §5.2), whatever the frame type and however the bytes arrive.

import {
  answersBadCloseWith,
  CLOSE_PROTOCOL_ERROR,
  type ConformanceCase,
  defineCase,
  failsConnection,
  type SendOptions,
  text,
} from '../case.js';

const GREETING = 'Hello, world!';
const RSV_NOTE = 'RSV bits must be 0 unless a negotiated extension defines them';

export function reservedBitCases(): ConformanceCase[] {
  /** A valid text message, then the same with RSV set, then a ping that must go unanswered. */
  const afterValidMessage = (id: string, rsv: number, options: SendOptions, how: string): ConformanceCase =>
    defineCase({
      id,
      description: `Send a small text message, then the same message with RSV = ${rsv}, then a ping${how}.`,
      expectation: `The first message is echoed, then the connection is failed (1002) at once: ${RSV_NOTE}. No pong. (Failing before the echo is NON-STRICT.)`,
      references: ['RFC 6455 §5.2'],
      expect: failsConnection([CLOSE_PROTOCOL_ERROR], [text(GREETING)], true),
      run: async (context) => {
        await context.send({ opcode: 0x1, payload: GREETING }, options);
        await context.send({ opcode: 0x1, payload: GREETING, rsv }, options);
        await context.send({ opcode: 0x9 }, options);
      },
    });
  const single = (
    id: string,
    rsv: number,
    what: string,
    opcode: number,
    payload: string | Buffer,
  ): ConformanceCase =>
    defineCase({
      id,
      description: `Send ${what} with RSV = ${rsv}.`,
      expectation: `The connection is failed (1002) at once: ${RSV_NOTE}.`,
      references: ['RFC 6455 §5.2'],
      expect: failsConnection([CLOSE_PROTOCOL_ERROR]),
      run: (context) => context.send({ opcode, payload, rsv }),
    });
  return [
    single('3.1', 1, 'a small text message', 0x1, GREETING),
    afterValidMessage('3.2', 2, {}, ''),
    afterValidMessage('3.3', 3, { isSync: true }, ', each frame in its own write'),
    afterValidMessage('3.4', 4, { chopSize: 1 }, ', all written one octet at a time'),
    single(
      '3.5',
      5,
      'a small binary message',
      0x2,
      Buffer.from([0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff]),
    ),
    single('3.6', 6, 'a ping', 0x9, GREETING),
    defineCase({
      id: '3.7',
      description: 'Send a close frame (code 1000) with RSV = 7.',
      expectation: `The peer answers with 1002 or drops TCP: ${RSV_NOTE}, so this close frame is a protocol error, not a close to echo.`,
      references: ['RFC 6455 §5.2'],
      expect: answersBadCloseWith([CLOSE_PROTOCOL_ERROR]),
      run: (context) => context.send({ opcode: 0x8, payload: Buffer.from([0x03, 0xe8]), rsv: 7 }),
    }),
  ];
}
