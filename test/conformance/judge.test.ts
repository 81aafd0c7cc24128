// Proves the judge on synthetic observations: each verdict, and the reasons that lead to it.

import { describe, expect, it } from 'vitest';
import {
  answersBadCloseWith,
  answersThenClosesNormally,
  type Expectation,
  failsConnection,
  marker,
  text,
} from '../../src/conformance/case.js';
import {
  CLIENT_FAILS_AT_HANDSHAKE,
  judgeClientRefusal,
  judgeRefusal,
} from '../../src/conformance/cases/handshake.js';
import { judge } from '../../src/conformance/judge.js';
import { emptyObservation, type Observation } from '../../src/conformance/observation.js';

/** 6.4.1's expectation: still open after wait A, failed with 1007 before wait B ends. */
const FAIL_FAST: Expectation = {
  ok: [[marker('A')]],
  nonStrict: [[marker('A'), marker('B')]],
  close: { isClosedByTester: false, codes: [1007], requireClean: false },
};

function observation(
  changes: Omit<Partial<Observation>, 'close'> & { close?: Partial<Observation['close']> },
): Observation {
  const base = emptyObservation();
  return { ...base, ...changes, close: { ...base.close, ...changes.close } };
}

const peerFailed = (code: number | undefined) =>
  ({ initiator: 'peer', peerClose: { code, reason: '', at: 5 }, tcpClosedBy: 'peer' }) as const;
const testerClosedAndPeerAnswered = (code: number | undefined) =>
  ({
    initiator: 'tester',
    testerClose: { code: 1000, at: 3 },
    peerClose: { code, reason: '', at: 5 },
    tcpClosedBy: 'peer',
  }) as const;

describe('judge', () => {
  it('is OK when a peer fails invalid UTF-8 fast, with 1007', () => {
    const result = judge(
      observation({ events: [{ type: 'marker', tag: 'A' }], close: peerFailed(1007) }),
      FAIL_FAST,
    );
    expect(result.verdict).toBe('OK');
  });

  it('is NON-STRICT when a peer fails invalid UTF-8 only at the end of the message', () => {
    const result = judge(
      observation({
        events: [
          { type: 'marker', tag: 'A' },
          { type: 'marker', tag: 'B' },
        ],
        close: peerFailed(1007),
      }),
      FAIL_FAST,
    );
    expect(result.verdict).toBe('NON-STRICT');
    expect(result.reason).toMatch(/later than it should/);
  });

  it('is FAILED when a peer fails invalid UTF-8 with 1002 instead of 1007', () => {
    const result = judge(
      observation({ events: [{ type: 'marker', tag: 'A' }], close: peerFailed(1002) }),
      FAIL_FAST,
    );
    expect(result.verdict).toBe('FAILED');
    expect(result.reason).toBe('the peer closed with code 1002; expected 1007 (or an empty close body)');
  });

  it('is FAILED when a peer echoes a close code that may not be on the wire', () => {
    const result = judge(
      observation({ close: testerClosedAndPeerAnswered(999) }),
      answersBadCloseWith([1002]),
    );
    expect(result.verdict).toBe('FAILED');
    expect(result.reason).toMatch(/code 999; expected 1002/);
  });

  it('is OK when a peer answers an invalid close code with 1002, or drops TCP', () => {
    expect(
      judge(observation({ close: testerClosedAndPeerAnswered(1002) }), answersBadCloseWith([1002])).verdict,
    ).toBe('OK');
    const dropped = observation({
      close: { initiator: 'tester', testerClose: { code: 999, at: 3 }, tcpClosedBy: 'peer' },
    });
    expect(judge(dropped, answersBadCloseWith([1002])).verdict).toBe('OK');
  });

  it('is FAILED when a peer does not fail the connection and the tester has to drop it', () => {
    const result = judge(
      observation({ close: { initiator: 'tester', wasKilled: true, tcpClosedBy: 'tester' } }),
      failsConnection([1002]),
    );
    expect(result.verdict).toBe('FAILED');
    expect(result.reason).toMatch(/did not fail the connection/);
  });

  it('is FAILED when the echo differs from what was sent', () => {
    const result = judge(
      observation({
        events: [{ type: 'message', binary: false, data: Buffer.from('Hello, wrld!') }],
        close: testerClosedAndPeerAnswered(1000),
      }),
      answersThenClosesNormally(text('Hello, world!')),
    );
    expect(result.verdict).toBe('FAILED');
    expect(result.observed).toMatch(/Hello, wrld!/);
    expect(result.expected).toMatch(/Hello, world!/);
  });

  it('is FAILED when a peer does not answer the tester’s close frame with one', () => {
    const result = judge(
      observation({
        close: { initiator: 'tester', testerClose: { code: 1000, at: 3 }, tcpClosedBy: 'peer' },
      }),
      answersThenClosesNormally(),
    );
    expect(result.verdict).toBe('FAILED');
    expect(result.reason).toMatch(/RFC 6455 §5\.5\.1/);
  });

  it('is FAILED when a peer closes a connection it should have kept open', () => {
    const result = judge(observation({ close: peerFailed(1002) }), answersThenClosesNormally(text('x')));
    expect(result.verdict).toBe('FAILED');
  });

  it('fails any case, informational ones too, when the peer broke a rule on the wire', () => {
    const expectation: Expectation = { ...answersThenClosesNormally(), isInformational: true };
    const result = judge(
      observation({
        violations: [{ rule: 'RFC 6455 §5.1', message: 'the server sent a masked frame', at: 4 }],
        close: testerClosedAndPeerAnswered(1000),
      }),
      expectation,
    );
    expect(result.verdict).toBe('FAILED');
    expect(result.reason).toBe('RFC 6455 §5.1: the server sent a masked frame (at 4 ms)');
  });

  it('is INFORMATIONAL when the RFC leaves the outcome open, and says what happened', () => {
    const expectation: Expectation = { ...answersBadCloseWith([1000, 1002, 5000]), isInformational: true };
    const result = judge(observation({ close: testerClosedAndPeerAnswered(1002) }), expectation);
    expect(result.verdict).toBe('INFORMATIONAL');
    expect(result.reason).toMatch(/closed with 1002/);
  });

  it('is NON-STRICT for a close code listed as questionable', () => {
    const expectation: Expectation = {
      ok: [[]],
      close: { isClosedByTester: false, codes: [1002, 1007], nonStrictCodes: [1011], requireClean: false },
    };
    expect(judge(observation({ close: peerFailed(1011) }), expectation).verdict).toBe('NON-STRICT');
  });

  it('is UNIMPLEMENTED when the case needs permessage-deflate and the peer did not agree to it', () => {
    const result = judge(
      observation({
        unimplemented: 'permessage-deflate was not agreed',
        close: testerClosedAndPeerAnswered(1000),
      }),
      answersThenClosesNormally(),
    );
    expect(result.verdict).toBe('UNIMPLEMENTED');
  });

  it('is FAILED when a server keeps TCP open after the closing handshake', () => {
    const result = judge(
      observation({
        close: { ...testerClosedAndPeerAnswered(1000), serverKeptTcpOpen: true, tcpClosedBy: 'tester' },
      }),
      answersThenClosesNormally(),
    );
    expect(result.verdict).toBe('FAILED');
    expect(result.reason).toMatch(/MUST close it immediately/);
  });

  it('is FAILED when the case timed out', () => {
    expect(judge(observation({ timedOut: true }), answersThenClosesNormally()).verdict).toBe('FAILED');
  });
});

describe('handshake judges', () => {
  const handshake = (
    outcome: 'open' | 'refused' | 'dropped' | 'timeout',
    headers: Record<string, string[]> = {},
  ) =>
    observation({
      handshake: {
        request: 'GET / HTTP/1.1',
        headers,
        problems: [],
        outcome,
        status: outcome === 'refused' ? 400 : 101,
      },
    });

  it('is OK when a server refuses an invalid request with an HTTP error', () => {
    expect(judgeRefusal(handshake('refused'), answersThenClosesNormally()).verdict).toBe('OK');
  });

  it('is FAILED when a server accepts an invalid request', () => {
    expect(judgeRefusal(handshake('open'), answersThenClosesNormally()).verdict).toBe('FAILED');
  });

  it('is NON-STRICT when a server drops an invalid request without an HTTP answer', () => {
    expect(judgeRefusal(handshake('dropped'), answersThenClosesNormally()).verdict).toBe('NON-STRICT');
  });

  it('is NON-STRICT when an unsupported version is refused without Sec-WebSocket-Version', () => {
    expect(judgeRefusal(handshake('refused'), answersThenClosesNormally(), true).verdict).toBe('NON-STRICT');
    const withVersion = handshake('refused', { 'sec-websocket-version': ['13'] });
    expect(judgeRefusal(withVersion, answersThenClosesNormally(), true).verdict).toBe('OK');
  });

  it('is FAILED when a client echoes the probe after a response it had to refuse', () => {
    const echoed = observation({
      events: [{ type: 'message', binary: false, data: Buffer.from('probe') }],
      close: peerFailed(1000),
    });
    expect(judgeClientRefusal(echoed, CLIENT_FAILS_AT_HANDSHAKE).verdict).toBe('FAILED');
  });

  it('is OK when a client closes the connection after a response it had to refuse', () => {
    const closed = observation({ close: { initiator: 'peer', tcpClosedBy: 'peer' } });
    expect(judgeClientRefusal(closed, CLIENT_FAILS_AT_HANDSHAKE).verdict).toBe('OK');
  });
});
