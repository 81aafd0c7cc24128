// Owns category 0, the opening handshake (RFC 6455 §4), hybi's own cases: requests a server must refuse
// (0.1) and responses a client must refuse (0.2), each next to a valid variant that must be accepted.

import {
  answersThenClosesNormally,
  type ConformanceCase,
  defineCase,
  type Expectation,
  type RequestDraft,
  type ResponseDraft,
  text,
} from '../case.js';
import { acceptKeyFor, removeHeader, setHeader } from '../handshake.js';
import { describeExpectation, describeObservation, type Judgement } from '../judge.js';
import type { Observation } from '../observation.js';
import type { Verdict } from '../verdict.js';

const GREETING = 'Hello, handshake!';
/** What the tester sends after a response the client must refuse: an echo shows it was accepted. */
export const PROBE = 'hybi-conformance probe: this connection should have been failed';

export const HANDSHAKE_SUBCATEGORIES: Readonly<Record<string, string>> = {
  '0.1': 'Opening handshake requests a server must accept or refuse (RFC 6455 §4.2.1)',
  '0.2': 'Opening handshake responses a client must accept or refuse (RFC 6455 §4.1)',
};

/** The tester closes once the probe is out; what matters is how the peer treated the handshake. */
const REFUSAL: Expectation = {
  ok: [[]],
  close: { isClosedByTester: true, codes: [1000], requireClean: false },
  settleTime: 0,
};

/** The client must fail the connection at the handshake: it closes TCP (or sends a close) and never echoes. */
export const CLIENT_FAILS_AT_HANDSHAKE: Expectation = {
  ok: [[]],
  close: { isClosedByTester: false, codes: [1002, 1010], requireClean: false },
};

function judgement(
  verdict: Verdict,
  reason: string,
  expectation: Expectation,
  observation: Observation,
): Judgement {
  return {
    verdict,
    reason,
    details: [reason],
    expected: describeExpectation(expectation),
    observed: describeObservation(observation),
  };
}

/**
 * A server must answer an invalid request with an HTTP error (RFC 6455 §4.2.1: "such as 400 Bad
 * Request"). Closing without an answer is NON-STRICT; a 101 is FAILED. With `versionHeader`, the answer
 * must also list the versions the server speaks (§4.4).
 */
export function judgeRefusal(
  observation: Observation,
  expectation: Expectation,
  versionHeader = false,
): Judgement {
  const handshake = observation.handshake;
  const reject = (verdict: Verdict, reason: string): Judgement =>
    judgement(verdict, reason, expectation, observation);
  if (handshake === undefined) return reject('FAILED', 'no handshake was observed');
  switch (handshake.outcome) {
    case 'open':
      return reject('FAILED', 'the server accepted the invalid request with 101 Switching Protocols');
    case 'dropped':
      return reject(
        'NON-STRICT',
        'the server closed the connection without an HTTP response; RFC 6455 §4.2.1 asks for an error status',
      );
    case 'timeout':
      return reject('FAILED', 'the server sent no response before the handshake timeout');
    case 'error':
      return reject('FAILED', `the handshake failed: ${handshake.error ?? 'unknown error'}`);
    case 'refused': {
      if (versionHeader) {
        const versions = (handshake.headers['sec-websocket-version'] ?? []).flatMap((value) =>
          value.split(','),
        );
        if (!versions.some((version) => version.trim() === '13')) {
          return reject(
            'NON-STRICT',
            `refused with HTTP ${handshake.status}, but without a Sec-WebSocket-Version header listing 13 (RFC 6455 §4.4)`,
          );
        }
      }
      return reject('OK', `refused with HTTP ${handshake.status}`);
    }
  }
}

/**
 * A client must fail the connection when the response breaks RFC 6455 §4.1: it closes TCP (a close
 * frame first is fine) and never acts on the connection, so the probe message is never echoed.
 */
export function judgeClientRefusal(observation: Observation, expectation: Expectation): Judgement {
  const reject = (verdict: Verdict, reason: string): Judgement =>
    judgement(verdict, reason, expectation, observation);
  const echoed = observation.events.some((event) => event.type === 'message');
  if (echoed) return reject('FAILED', 'the client accepted the handshake and echoed the probe message');
  if (observation.close.wasKilled || observation.close.initiator !== 'peer') {
    return reject(
      'FAILED',
      'the client did not fail the connection; it stayed open until the tester dropped it',
    );
  }
  return reject(
    'OK',
    observation.close.peerClose === undefined
      ? 'the client closed the connection'
      : `the client sent a close frame${observation.close.peerClose.code === undefined ? '' : ` (${observation.close.peerClose.code})`} and closed`,
  );
}

export function handshakeCases(): ConformanceCase[] {
  const refusal = (
    id: string,
    description: string,
    references: string[],
    rewrite: (draft: RequestDraft) => void,
    versionHeader = false,
  ): ConformanceCase =>
    defineCase({
      id,
      appliesTo: 'servers',
      description,
      expectation: versionHeader
        ? 'The server refuses with an HTTP error (426 Upgrade Required is usual) and a Sec-WebSocket-Version header listing 13.'
        : 'The server refuses the upgrade: any response but 101 (an HTTP error status such as 400).',
      references,
      expect: REFUSAL,
      handshake: { request: rewrite },
      judge: (observation, expectation) => judgeRefusal(observation, expectation, versionHeader),
      run: async () => {},
    });

  const clientRefusal = (
    id: string,
    description: string,
    references: string[],
    rewrite: (draft: ResponseDraft) => void,
  ): ConformanceCase =>
    defineCase({
      id,
      appliesTo: 'clients',
      description: `${description} Then send a text message (the probe).`,
      expectation: 'The client fails the connection: it closes TCP without echoing the probe.',
      references,
      expect: CLIENT_FAILS_AT_HANDSHAKE,
      handshake: { response: rewrite },
      judge: judgeClientRefusal,
      run: (context) => context.send({ opcode: 0x1, payload: PROBE }),
    });

  return [
    defineCase({
      id: '0.1.1',
      appliesTo: 'servers',
      description:
        'Open with a valid handshake that also offers a subprotocol ("hybi.conformance") and sends an Origin; then send a text message.',
      expectation:
        'HTTP 101 with the right Sec-WebSocket-Accept, and Sec-WebSocket-Protocol either absent or the offered one; the message is echoed.',
      references: ['RFC 6455 §4.2.2', 'RFC 6455 §4.1'],
      expect: answersThenClosesNormally(text(GREETING)),
      handshake: {
        request: (draft) => {
          draft.headers.push(
            ['Origin', 'http://conformance.example'],
            ['Sec-WebSocket-Protocol', 'hybi.conformance'],
          );
        },
      },
      run: (context) => context.send({ opcode: 0x1, payload: GREETING }),
    }),
    defineCase({
      id: '0.1.2',
      appliesTo: 'servers',
      description:
        'Open with header names and tokens in unusual case ("upgrade: WebSocket", "CONNECTION: keep-alive, Upgrade", "sec-websocket-key"); then send a text message.',
      expectation: 'HTTP 101: header names and these tokens are case-insensitive; the message is echoed.',
      references: ['RFC 6455 §4.2.1', 'RFC 9110 §5.1'],
      expect: answersThenClosesNormally(text(GREETING)),
      handshake: {
        request: (draft) => {
          draft.headers = draft.headers.map(([name, value]) => {
            const lower = name.toLowerCase();
            if (lower === 'upgrade') return ['upgrade', 'WebSocket'];
            if (lower === 'connection') return ['CONNECTION', 'keep-alive, Upgrade'];
            if (lower === 'sec-websocket-key') return ['sec-websocket-key', value];
            if (lower === 'sec-websocket-version') return ['SEC-WEBSOCKET-VERSION', value];
            return [name, value];
          });
        },
      },
      run: (context) => context.send({ opcode: 0x1, payload: GREETING }),
    }),
    refusal(
      '0.1.3',
      'Open with Sec-WebSocket-Version: 99, a version no server speaks.',
      ['RFC 6455 §4.4', 'RFC 6455 §4.2.2'],
      (draft) => setHeader(draft.headers, 'Sec-WebSocket-Version', '99'),
      true,
    ),
    refusal('0.1.4', 'Open without a Sec-WebSocket-Key header.', ['RFC 6455 §4.2.1 item 5'], (draft) =>
      removeHeader(draft.headers, 'Sec-WebSocket-Key'),
    ),
    refusal(
      '0.1.5',
      'Open with a Sec-WebSocket-Key that decodes to 11 bytes instead of 16 ("dGhlIHNhbXBsZQ==").',
      ['RFC 6455 §4.2.1 item 5'],
      (draft) => setHeader(draft.headers, 'Sec-WebSocket-Key', 'dGhlIHNhbXBsZQ=='),
    ),
    refusal('0.1.6', 'Open without an Upgrade header.', ['RFC 6455 §4.2.1 item 3'], (draft) =>
      removeHeader(draft.headers, 'Upgrade'),
    ),
    refusal(
      '0.1.7',
      'Open with "Connection: keep-alive" (no upgrade token).',
      ['RFC 6455 §4.2.1 item 4'],
      (draft) => setHeader(draft.headers, 'Connection', 'keep-alive'),
    ),
    refusal('0.1.8', 'Open with the method POST instead of GET.', ['RFC 6455 §4.2.1 item 1'], (draft) => {
      draft.method = 'POST';
      draft.headers.push(['Content-Length', '0']);
    }),
    refusal('0.1.9', 'Open with HTTP/1.0 instead of HTTP/1.1.', ['RFC 6455 §4.2.1 item 1'], (draft) => {
      draft.httpVersion = '1.0';
    }),
    refusal('0.1.10', 'Open without a Host header.', ['RFC 6455 §4.2.1 item 2'], (draft) =>
      removeHeader(draft.headers, 'Host'),
    ),
    refusal(
      '0.1.11',
      'Open with two Sec-WebSocket-Key header fields.',
      ['RFC 6455 §11.3.1', 'RFC 6455 §4.2.1 item 5'],
      (draft) => draft.headers.push(['Sec-WebSocket-Key', 'AQIDBAUGBwgJCgsMDQ4PEA==']),
    ),

    clientRefusal('0.2.1', 'Answer with a wrong Sec-WebSocket-Accept.', ['RFC 6455 §4.1'], (draft) =>
      setHeader(draft.headers, 'Sec-WebSocket-Accept', acceptKeyFor('dGhlIHNhbXBsZSBub25jZQ==')),
    ),
    clientRefusal('0.2.2', 'Answer 101 without an Upgrade header.', ['RFC 6455 §4.1'], (draft) =>
      removeHeader(draft.headers, 'Upgrade'),
    ),
    clientRefusal('0.2.3', 'Answer 101 with "Upgrade: not-websocket".', ['RFC 6455 §4.1'], (draft) =>
      setHeader(draft.headers, 'Upgrade', 'not-websocket'),
    ),
    clientRefusal(
      '0.2.4',
      'Answer 101 with "Connection: keep-alive" (no upgrade token).',
      ['RFC 6455 §4.1'],
      (draft) => setHeader(draft.headers, 'Connection', 'keep-alive'),
    ),
    clientRefusal(
      '0.2.5',
      'Answer "200 OK" with the WebSocket headers of a 101.',
      ['RFC 6455 §4.1'],
      (draft) => {
        draft.statusLine = 'HTTP/1.1 200 OK';
      },
    ),
    clientRefusal(
      '0.2.6',
      'Answer 101 with a subprotocol the client did not offer ("hybi.conformance.unoffered").',
      ['RFC 6455 §4.1'],
      (draft) => setHeader(draft.headers, 'Sec-WebSocket-Protocol', 'hybi.conformance.unoffered'),
    ),
    clientRefusal(
      '0.2.7',
      'Answer 101 accepting an extension the client did not offer ("x-hybi-unoffered").',
      ['RFC 6455 §4.1', 'RFC 6455 §9.1'],
      (draft) => setHeader(draft.headers, 'Sec-WebSocket-Extensions', 'x-hybi-unoffered'),
    ),
    defineCase({
      id: '0.2.8',
      appliesTo: 'clients',
      description:
        'Answer 101 with header names and tokens in unusual case ("upgrade: WebSocket", "CONNECTION: UPGRADE", "sec-websocket-accept"); then send a text message.',
      expectation: 'The client accepts (the names and tokens are case-insensitive) and echoes the message.',
      references: ['RFC 6455 §4.1', 'RFC 9110 §5.1'],
      expect: answersThenClosesNormally(text(GREETING)),
      handshake: {
        response: (draft) => {
          draft.headers = draft.headers.map(([name, value]) => {
            const lower = name.toLowerCase();
            if (lower === 'upgrade') return ['upgrade', 'WebSocket'];
            if (lower === 'connection') return ['CONNECTION', 'UPGRADE'];
            return [lower, value];
          });
        },
      },
      run: (context) => context.send({ opcode: 0x1, payload: GREETING }),
    }),
  ];
}
