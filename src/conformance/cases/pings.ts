// Owns category 2, pings and pongs (RFC 6455 §5.5.2, §5.5.3): every ping answered with its payload, the
// 125-byte limit of control frames, and unsolicited pongs that need no answer.

import {
  answersThenClosesNormally,
  CLOSE_PROTOCOL_ERROR,
  type ConformanceCase,
  defineCase,
  type ExpectedEvent,
  failsConnection,
  pong,
} from '../case.js';

const PING = 0x9;
const PONG = 0xa;

export function pingCases(): ConformanceCase[] {
  const pingCase = (id: string, description: string, payload: Buffer, chopSize?: number): ConformanceCase =>
    defineCase({
      id,
      description,
      expectation: 'A pong with exactly the ping’s payload; clean close with 1000.',
      references: ['RFC 6455 §5.5.2', 'RFC 6455 §5.5.3'],
      expect: answersThenClosesNormally(pong(payload)),
      run: (context) => context.send({ opcode: PING, payload }, chopSize === undefined ? {} : { chopSize }),
    });
  const tenPings = (id: string, chopSize: number | undefined): ConformanceCase => {
    const payloads = Array.from({ length: 10 }, (_, index) => Buffer.from(`payload-${index}`));
    return defineCase({
      id,
      description: `Send 10 pings with payloads, back to back${chopSize === undefined ? '' : ', written one octet at a time'}.`,
      expectation:
        'Ten pongs with the ten payloads in order. (RFC 6455 §5.5.3 lets an endpoint answer only the latest of several pings; like Autobahn, the suite expects every one.)',
      references: ['RFC 6455 §5.5.3'],
      expect: {
        ...answersThenClosesNormally(...payloads.map((payload) => pong(payload))),
        responseTimeout: 3_000,
      },
      run: async (context) => {
        for (const payload of payloads) {
          await context.send({ opcode: PING, payload }, chopSize === undefined ? {} : { chopSize });
        }
      },
    });
  };
  const nothing: ExpectedEvent[] = [];
  return [
    pingCase('2.1', 'Send a ping without payload.', Buffer.alloc(0)),
    pingCase('2.2', 'Send a ping with a small text payload.', Buffer.from('Hello, world!')),
    pingCase(
      '2.3',
      'Send a ping with a small binary payload that is not UTF-8.',
      Buffer.from([0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff]),
    ),
    pingCase(
      '2.4',
      'Send a ping with a binary payload of 125 bytes, the largest a control frame may carry.',
      Buffer.alloc(125, 0xfe),
    ),
    defineCase({
      id: '2.5',
      description: 'Send a ping with a binary payload of 126 bytes.',
      expectation: 'The peer fails the connection (1002): control frames carry at most 125 bytes.',
      references: ['RFC 6455 §5.5'],
      expect: failsConnection([CLOSE_PROTOCOL_ERROR]),
      run: (context) => context.send({ opcode: PING, payload: Buffer.alloc(126, 0xfe) }),
    }),
    pingCase(
      '2.6',
      'Send a ping with a 125-byte payload, written one octet at a time.',
      Buffer.alloc(125, 0xfe),
      1,
    ),
    defineCase({
      id: '2.7',
      description: 'Send an unsolicited pong without payload, then a close frame.',
      expectation: 'Nothing in reply to the pong; clean close with 1000.',
      references: ['RFC 6455 §5.5.3'],
      expect: answersThenClosesNormally(...nothing),
      run: async (context) => {
        await context.send({ opcode: PONG });
        await context.sendClose(1000);
      },
    }),
    defineCase({
      id: '2.8',
      description: 'Send an unsolicited pong with a payload, then a close frame.',
      expectation: 'Nothing in reply to the pong; clean close with 1000.',
      references: ['RFC 6455 §5.5.3'],
      expect: answersThenClosesNormally(...nothing),
      run: async (context) => {
        await context.send({ opcode: PONG, payload: 'unsolicited pong payload' });
        await context.sendClose(1000);
      },
    }),
    defineCase({
      id: '2.9',
      description: 'Send an unsolicited pong with a payload, then a ping with a payload.',
      expectation: 'Nothing in reply to the pong, a pong with the ping’s payload; clean close with 1000.',
      references: ['RFC 6455 §5.5.2', 'RFC 6455 §5.5.3'],
      expect: answersThenClosesNormally(pong('ping payload')),
      run: async (context) => {
        await context.send({ opcode: PONG, payload: 'unsolicited pong payload' });
        await context.send({ opcode: PING, payload: 'ping payload' });
      },
    }),
    tenPings('2.10', undefined),
    tenPings('2.11', 1),
  ];
}
