// Owns category 5, fragmentation (RFC 6455 §5.4): fragmented messages with control frames in between,
// fragmented control frames, and continuation frames with nothing to continue.

import {
  answersThenClosesNormally,
  type CaseContext,
  CLOSE_PROTOCOL_ERROR,
  type ConformanceCase,
  defineCase,
  failsConnection,
  pong,
  type SendOptions,
  text,
} from '../case.js';
import type { FrameSpec } from '../frame-writer.js';

const TEXT = 0x1;
const CONTINUATION = 0x0;
const PING = 0x9;
const PONG = 0xa;

/** The three ways Autobahn puts the same frames on the wire. */
const WIRE_FORMS: readonly [SendOptions, string][] = [
  [{}, 'sent in one write'],
  [{ isSync: true }, 'each frame in its own write'],
  [{ chopSize: 1 }, 'written one octet at a time'],
];

async function sendAll(
  context: CaseContext,
  frames: readonly FrameSpec[],
  options: SendOptions = {},
): Promise<void> {
  for (const frame of frames) await context.send(frame, options);
}

export function fragmentationCases(): ConformanceCase[] {
  const fragments = ['fragment1', 'fragment2'] as const;
  const cases: ConformanceCase[] = [
    defineCase({
      id: '5.1',
      description: 'Send a ping fragmented into 2 fragments.',
      expectation: 'The connection is failed (1002) at once: control frames must not be fragmented.',
      references: ['RFC 6455 §5.4', 'RFC 6455 §5.5'],
      expect: failsConnection([CLOSE_PROTOCOL_ERROR]),
      run: (context) =>
        sendAll(context, [
          { opcode: PING, isFinal: false, payload: 'fragment1' },
          { opcode: CONTINUATION, payload: 'fragment2' },
        ]),
    }),
    defineCase({
      id: '5.2',
      description: 'Send a pong fragmented into 2 fragments.',
      expectation: 'The connection is failed (1002) at once: control frames must not be fragmented.',
      references: ['RFC 6455 §5.4', 'RFC 6455 §5.5'],
      expect: failsConnection([CLOSE_PROTOCOL_ERROR]),
      run: (context) =>
        sendAll(context, [
          { opcode: PONG, isFinal: false, payload: 'fragment1' },
          { opcode: CONTINUATION, payload: 'fragment2' },
        ]),
    }),
  ];

  WIRE_FORMS.forEach(([options, how], index) => {
    cases.push(
      defineCase({
        id: `5.${3 + index}`,
        description: `Send a text message fragmented into 2 fragments, ${how}.`,
        expectation: 'The message is assembled and echoed; clean close with 1000.',
        references: ['RFC 6455 §5.4'],
        expect: answersThenClosesNormally(text(fragments.join(''))),
        run: (context) =>
          sendAll(
            context,
            [
              { opcode: TEXT, isFinal: false, payload: fragments[0] },
              { opcode: CONTINUATION, payload: fragments[1] },
            ],
            options,
          ),
      }),
    );
  });

  WIRE_FORMS.forEach(([options, how], index) => {
    cases.push(
      defineCase({
        id: `5.${6 + index}`,
        description: `Send a text message fragmented into 2 fragments with a ping between them, ${how}.`,
        expectation: 'A pong for the ping, then the echoed message; clean close with 1000.',
        references: ['RFC 6455 §5.4', 'RFC 6455 §5.5'],
        expect: answersThenClosesNormally(pong('ping payload'), text(fragments.join(''))),
        run: (context) =>
          sendAll(
            context,
            [
              { opcode: TEXT, isFinal: false, payload: fragments[0] },
              { opcode: PING, payload: 'ping payload' },
              { opcode: CONTINUATION, payload: fragments[1] },
            ],
            options,
          ),
      }),
    );
  });

  for (const [first, isFinal] of [
    [9, true],
    [12, false],
  ] as const) {
    WIRE_FORMS.forEach(([options, how], index) => {
      cases.push(
        defineCase({
          id: `5.${first + index}`,
          description: `Send a continuation frame with FIN = ${isFinal} where there is nothing to continue, then a text message, ${how}.`,
          expectation: 'The connection is failed (1002) at once: there is no message to continue.',
          references: ['RFC 6455 §5.4'],
          expect: failsConnection([CLOSE_PROTOCOL_ERROR]),
          run: (context) =>
            sendAll(
              context,
              [
                { opcode: CONTINUATION, isFinal, payload: 'non-continuation payload' },
                { opcode: TEXT, payload: 'Hello, world!' },
              ],
              options,
            ),
        }),
      );
    });
  }

  cases.push(
    defineCase({
      id: '5.15',
      description:
        'Send a text message in 2 fragments, then a continuation frame with FIN = false where there is nothing to continue, then a text message, in one write.',
      expectation:
        'The first message is echoed, then the connection is failed (1002): there is no message to continue. (Failing before the echo is NON-STRICT.)',
      references: ['RFC 6455 §5.4'],
      expect: failsConnection([CLOSE_PROTOCOL_ERROR], [text('fragment1fragment2')], true),
      run: (context) =>
        sendAll(context, [
          { opcode: TEXT, isFinal: false, payload: 'fragment1' },
          { opcode: CONTINUATION, payload: 'fragment2' },
          { opcode: CONTINUATION, isFinal: false, payload: 'fragment3' },
          { opcode: TEXT, payload: 'fragment4' },
        ]),
    }),
  );

  for (const [id, isFinal] of [
    ['5.16', false],
    ['5.17', true],
  ] as const) {
    cases.push(
      defineCase({
        id,
        description: `Twice: a continuation frame with FIN = ${isFinal} where there is nothing to continue, then a text message in 2 fragments.`,
        expectation: 'The connection is failed (1002) at the first frame: there is no message to continue.',
        references: ['RFC 6455 §5.4'],
        expect: failsConnection([CLOSE_PROTOCOL_ERROR]),
        run: async (context) => {
          for (let round = 0; round < 2; round++) {
            await sendAll(context, [
              { opcode: CONTINUATION, isFinal, payload: 'fragment1' },
              { opcode: TEXT, isFinal: false, payload: 'fragment2' },
              { opcode: CONTINUATION, payload: 'fragment3' },
            ]);
          }
        },
      }),
    );
  }

  cases.push(
    defineCase({
      id: '5.18',
      description: 'Send a text message in 2 fragments whose frames both have the text opcode, in one write.',
      expectation:
        'The connection is failed (1002): every frame after the first of a message must be a continuation frame.',
      references: ['RFC 6455 §5.4'],
      expect: failsConnection([CLOSE_PROTOCOL_ERROR]),
      run: (context) =>
        sendAll(context, [
          { opcode: TEXT, isFinal: false, payload: 'fragment1' },
          { opcode: TEXT, payload: 'fragment2' },
        ]),
    }),
  );

  for (const [id, options, how] of [
    ['5.19', {}, ''],
    ['5.20', { isSync: true }, ', each frame in its own write'],
  ] as const) {
    const parts = ['fragment1', 'fragment2', 'fragment3', 'fragment4', 'fragment5'] as const;
    cases.push(
      defineCase({
        id,
        description: `Send 2 fragments of a text message and a ping; wait (the pace, 1 s by default); send 2 more fragments, another ping and the last fragment${how}. Everything is legal.`,
        expectation:
          'The first pong arrives during the wait, before the message is complete; then the second pong and the echoed message; clean close with 1000.',
        references: ['RFC 6455 §5.4', 'RFC 6455 §5.5.2'],
        expect: answersThenClosesNormally(pong('pongme 1!'), pong('pongme 2!'), text(parts.join(''))),
        run: async (context) => {
          await sendAll(
            context,
            [
              { opcode: TEXT, isFinal: false, payload: parts[0] },
              { opcode: CONTINUATION, isFinal: false, payload: parts[1] },
              { opcode: PING, payload: 'pongme 1!' },
            ],
            options,
          );
          // The first pong must come while the message is still open: control frames are answered
          // between fragments (RFC 6455 §5.4), not after the message.
          await context.waitForEvents(1, context.pace);
          await sendAll(
            context,
            [
              { opcode: CONTINUATION, isFinal: false, payload: parts[2] },
              { opcode: CONTINUATION, isFinal: false, payload: parts[3] },
              { opcode: PING, payload: 'pongme 2!' },
              { opcode: CONTINUATION, payload: parts[4] },
            ],
            options,
          );
        },
      }),
    );
  }
  return cases;
}
