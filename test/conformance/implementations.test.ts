// Owns proving the conformance suite tells real implementations apart: the same selected cases against ws and
// websocket-driver echo servers, with exactly what the suite observed about each written down as a verdict.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebSocketDriverEchoServer } from '../../conformance/websocket-driver-peers.js';
import { type ReferenceServer, startWsEchoServer } from '../../conformance/ws-peers.js';
import type { SuiteResult } from '../../src/conformance/result.js';
import { testServer } from '../../src/conformance/runner.js';

/** Fail-fast waits of 200 ms instead of Autobahn's second: plenty on loopback. */
const FAST = { limits: 'quick', pace: 200, settleTime: 100 } as const;

/**
 * Handshake refusals (0.1.x), reserved opcodes (4.x), UTF-8 fail-fast in fragmented text (6.4.x), invalid
 * and out-of-range close codes (7.9.x, 7.13.x): the places where implementations are known to differ.
 */
const SELECTED = [
  '0.1.3',
  '0.1.5',
  '0.1.9',
  '0.1.10',
  '0.1.11',
  '4.1.1',
  '4.2.1',
  '6.4.*',
  '7.9.1',
  '7.9.6',
  '7.13.1',
];

function verdicts(suite: SuiteResult): Record<string, string> {
  return Object.fromEntries(suite.results.map((result) => [result.id, result.verdict]));
}

function reasonOf(suite: SuiteResult, id: string): string | undefined {
  return suite.results.find((result) => result.id === id)?.reason;
}

describe('the conformance suite tells ws and websocket-driver apart', () => {
  let wsServer: ReferenceServer;
  let driverServer: ReferenceServer;
  let wsSuite: SuiteResult;
  let driverSuite: SuiteResult;

  beforeAll(async () => {
    wsServer = await startWsEchoServer();
    driverServer = await startWebSocketDriverEchoServer();
    [wsSuite, driverSuite] = await Promise.all([
      testServer(wsServer.url, { ...FAST, cases: SELECTED, agent: 'ws' }),
      testServer(driverServer.url, { ...FAST, cases: SELECTED, agent: 'websocket-driver' }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([wsServer?.close(), driverServer?.close()]);
  });

  it('observes what ws does on each selected case', () => {
    expect(verdicts(wsSuite)).toEqual({
      '0.1.3': 'OK',
      '0.1.5': 'OK',
      // Both peers sit on node:http, which hands an HTTP/1.0 or Host-less upgrade to the 'upgrade' listener.
      '0.1.9': 'FAILED',
      '0.1.10': 'FAILED',
      '0.1.11': 'OK',
      '4.1.1': 'OK',
      '4.2.1': 'OK',
      // ws validates UTF-8 once the message is whole, not fragment by fragment.
      '6.4.1': 'NON-STRICT',
      '6.4.2': 'NON-STRICT',
      '6.4.3': 'NON-STRICT',
      '6.4.4': 'NON-STRICT',
      '7.9.1': 'OK',
      '7.9.6': 'OK',
      '7.13.1': 'INFORMATIONAL',
    });
  });

  it('observes what websocket-driver does on each selected case', () => {
    expect(verdicts(driverSuite)).toEqual({
      // Refuses version 99, but without the Sec-WebSocket-Version: 13 header RFC 6455 §4.4 asks for.
      '0.1.3': 'NON-STRICT',
      // Accepts a key that decodes to 11 bytes, and two keys (node:http joins them into one "a, b" value).
      '0.1.5': 'FAILED',
      '0.1.9': 'FAILED',
      '0.1.10': 'FAILED',
      '0.1.11': 'FAILED',
      '4.1.1': 'OK',
      '4.2.1': 'OK',
      // Like ws, it checks UTF-8 only on the whole message.
      '6.4.1': 'NON-STRICT',
      '6.4.2': 'NON-STRICT',
      '6.4.3': 'NON-STRICT',
      '6.4.4': 'NON-STRICT',
      '7.9.1': 'OK',
      '7.9.6': 'OK',
      '7.13.1': 'INFORMATIONAL',
    });
  });

  it('says why, in the same words for the same behaviour', () => {
    for (const suite of [wsSuite, driverSuite]) {
      expect(reasonOf(suite, '6.4.1')).toMatch(/reached the required outcome, but later than it should have/);
      expect(reasonOf(suite, '0.1.9')).toBe(
        'the server accepted the invalid request with 101 Switching Protocols',
      );
      expect(reasonOf(suite, '7.13.1')).toMatch(/the peer closed with 1002/);
    }
    expect(reasonOf(driverSuite, '0.1.3')).toMatch(/without a Sec-WebSocket-Version header listing 13/);
  });
});
