// Owns category 7, close handling (RFC 6455 §5.5.1, §7): the closing handshake, what may follow a close
// frame, the close body's length and UTF-8, and which close codes may appear on the wire.

import {
  answersBadCloseWith,
  answersThenClosesNormally,
  CLOSE_INVALID_PAYLOAD,
  CLOSE_NORMAL,
  CLOSE_PROTOCOL_ERROR,
  type ConformanceCase,
  defineCase,
  repeatText,
  text,
} from '../case.js';
import { closePayload } from '../session.js';

const CLOSE = 0x8;
const GREETING = 'Hello World!';
/** "κόσμε", a surrogate, "edited": a reason that is not UTF-8. */
const INVALID_REASON = Buffer.from('cebae1bdb9cf83cebcceb5eda080656469746564', 'hex');
const VALID_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999];
/** Never on the wire (RFC 6455 §7.4.1, §7.4.2): 0-999 unused, 1004-1006 reserved or internal, 1016-2999 reserved. */
const INVALID_CODES = [0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999];

export const CLOSE_SUBCATEGORIES: Readonly<Record<string, string>> = {
  '7.1': 'Basic close behavior (fuzzer initiated)',
  '7.3': 'Close frame structure: payload length (fuzzer initiated)',
  '7.5': 'Close frame structure: payload value (fuzzer initiated)',
  '7.7': 'Close frame structure: valid close codes (fuzzer initiated)',
  '7.9': 'Close frame structure: invalid close codes (fuzzer initiated)',
  '7.13': 'Informational close information (fuzzer initiated)',
};

export function closeCases(): ConformanceCase[] {
  const handshake = ['RFC 6455 §5.5.1', 'RFC 6455 §7.1'];
  const cases: ConformanceCase[] = [
    defineCase({
      id: '7.1.1',
      description: 'Send a text message, then a close frame (1000) right behind it.',
      expectation: 'The message is echoed before the peer’s close frame; clean close with 1000.',
      references: handshake,
      expect: answersThenClosesNormally(text(GREETING)),
      run: async (context) => {
        await context.send({ opcode: 0x1, payload: GREETING });
        await context.sendClose(CLOSE_NORMAL);
      },
    }),
    defineCase({
      id: '7.1.2',
      description: 'Send two close frames.',
      expectation: 'Clean close with 1000; the second close frame is ignored.',
      references: handshake,
      expect: answersThenClosesNormally(),
      run: async (context) => {
        await context.sendClose(CLOSE_NORMAL);
        await context.send({ opcode: CLOSE });
      },
    }),
    defineCase({
      id: '7.1.3',
      description: 'Send a close frame, then a ping.',
      expectation: 'Clean close with 1000 and no pong: nothing is answered after a close frame.',
      references: handshake,
      expect: answersThenClosesNormally(),
      run: async (context) => {
        await context.sendClose(CLOSE_NORMAL);
        await context.send({ opcode: 0x9 });
      },
    }),
    defineCase({
      id: '7.1.4',
      description: 'Send a close frame, then a text message.',
      expectation: 'Clean close with 1000; the message is ignored.',
      references: handshake,
      expect: answersThenClosesNormally(),
      run: async (context) => {
        await context.sendClose(CLOSE_NORMAL);
        await context.send({ opcode: 0x1, payload: GREETING });
      },
    }),
    defineCase({
      id: '7.1.5',
      description: 'Send the first fragment of a text message, a close frame, then the last fragment.',
      expectation: 'Clean close with 1000; the unfinished message is never echoed.',
      references: handshake,
      expect: answersThenClosesNormally(),
      run: async (context) => {
        await context.send({ opcode: 0x1, isFinal: false, payload: 'fragment1' });
        await context.sendClose(CLOSE_NORMAL);
        await context.send({ opcode: 0x0, payload: 'fragment2' });
      },
    }),
    defineCase({
      id: '7.1.6',
      description:
        'Send a 256 KiB text message, a small text message, a close frame and a ping, back to back.',
      expectation:
        'Informational: whether the messages are echoed before the close depends on how the peer orders writes. No pong may follow the close.',
      references: handshake,
      expect: {
        ok: [[text(repeatText('BAsd7&jh23', 256 * 1024)), text(GREETING)]],
        nonStrict: [[]],
        close: { isClosedByTester: true, codes: [CLOSE_NORMAL], requireClean: true },
        isInformational: true,
      },
      run: async (context) => {
        await context.send({ opcode: 0x1, payload: 'BAsd7&jh23', payloadLength: 256 * 1024 });
        await context.send({ opcode: 0x1, payload: GREETING });
        await context.sendClose(CLOSE_NORMAL);
        await context.send({ opcode: 0x9 });
      },
    }),
  ];

  const closeWith = (
    id: string,
    description: string,
    payload: Buffer,
    expectation: string,
    codes: number[] | 'normal',
  ): ConformanceCase =>
    defineCase({
      id,
      description,
      expectation,
      references: ['RFC 6455 §5.5', 'RFC 6455 §5.5.1'],
      expect: codes === 'normal' ? answersThenClosesNormally() : answersBadCloseWith(codes),
      run: (context) => context.send({ opcode: CLOSE, payload }),
    });
  cases.push(
    closeWith(
      '7.3.1',
      'Send a close frame with an empty body (no code, no reason).',
      Buffer.alloc(0),
      'Clean close: the peer answers with an empty body or 1000.',
      'normal',
    ),
    closeWith(
      '7.3.2',
      'Send a close frame with a body of 1 byte.',
      Buffer.from('a'),
      'The peer answers with 1002 or drops TCP: a 1-byte body cannot hold a code.',
      [CLOSE_PROTOCOL_ERROR],
    ),
    closeWith(
      '7.3.3',
      'Send a close frame with code 1000 and no reason.',
      closePayload(CLOSE_NORMAL),
      'Clean close with 1000.',
      'normal',
    ),
    closeWith(
      '7.3.4',
      'Send a close frame with code 1000 and a reason.',
      closePayload(CLOSE_NORMAL, GREETING),
      'Clean close with 1000.',
      'normal',
    ),
    closeWith(
      '7.3.5',
      'Send a close frame with code 1000 and a 123-byte reason (the largest that fits).',
      closePayload(CLOSE_NORMAL, '*'.repeat(123)),
      'Clean close with 1000.',
      'normal',
    ),
    closeWith(
      '7.3.6',
      'Send a close frame with code 1000 and a 124-byte reason (126-byte payload).',
      closePayload(CLOSE_NORMAL, '*'.repeat(124)),
      'The peer answers with 1002 or drops TCP: control frames carry at most 125 bytes.',
      [CLOSE_PROTOCOL_ERROR],
    ),
    defineCase({
      id: '7.5.1',
      description: 'Send a close frame with code 1000 and a reason that is not valid UTF-8.',
      expectation: 'The peer answers with 1002 or 1007, or drops TCP.',
      references: ['RFC 6455 §5.5.1', 'RFC 6455 §8.1'],
      expect: answersBadCloseWith([CLOSE_PROTOCOL_ERROR, CLOSE_INVALID_PAYLOAD]),
      run: (context) => context.send({ opcode: CLOSE, payload: closePayload(CLOSE_NORMAL, INVALID_REASON) }),
    }),
  );
  VALID_CODES.forEach((code, index) => {
    cases.push(
      defineCase({
        id: `7.7.${index + 1}`,
        description: `Send a close frame with the valid code ${code}.`,
        expectation: `Clean close: the peer answers with ${code} or 1000.`,
        references: ['RFC 6455 §7.4.1', 'RFC 6455 §5.5.1'],
        expect: {
          ok: [[]],
          close: { isClosedByTester: true, codes: [CLOSE_NORMAL, code], requireClean: true },
        },
        run: (context) => context.sendClose(code),
      }),
    );
  });
  INVALID_CODES.forEach((code, index) => {
    cases.push(
      defineCase({
        id: `7.9.${index + 1}`,
        description: `Send a close frame with the invalid code ${code}.`,
        expectation: 'The peer answers with 1002 or drops TCP: the code may not appear on the wire.',
        references: ['RFC 6455 §7.4.1', 'RFC 6455 §7.4.2'],
        expect: answersBadCloseWith([CLOSE_PROTOCOL_ERROR]),
        run: (context) => context.sendClose(code),
      }),
    );
  });
  for (const [id, code] of [
    ['7.13.1', 5000],
    ['7.13.2', 65535],
  ] as const) {
    cases.push(
      defineCase({
        id,
        description: `Send a close frame with code ${code}, outside every range RFC 6455 §7.4.2 defines.`,
        expectation:
          'Informational: the RFC does not say what a peer does with it (1002 or dropping TCP is the likely answer).',
        references: ['RFC 6455 §7.4.2'],
        expect: {
          ok: [[]],
          close: {
            isClosedByTester: true,
            codes: [CLOSE_NORMAL, CLOSE_PROTOCOL_ERROR, code],
            requireClean: false,
          },
          isInformational: true,
        },
        run: (context) => context.sendClose(code),
      }),
    );
  }
  return cases;
}
