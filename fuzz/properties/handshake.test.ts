// Owns the handshake properties: requests in any casing, order, whitespace, duplication and list syntax are
// accepted exactly when RFC 6455 §4.2.1 says, by the core's functions and by a raw-socket server driver.

import fc from 'fast-check';
import { expect } from 'vitest';
import * as hybi from '../../src/index.js';
import { computeAcceptKey, validateClientRequest } from '../../src/protocol/handshake.js';
import { type HeadParseResult, HttpHeadParser, type HttpRequestHead } from '../../src/protocol/http-head.js';
import { chunkSplitterArbitrary, splitChunks } from '../arbitraries/chunks.js';
import { encodeFrames } from '../arbitraries/frames.js';
import { type HandshakeVerdict, handshakeRequestArbitrary } from '../arbitraries/handshake.js';
import { planFrames, streamPlanArbitrary } from '../arbitraries/streams.js';
import { hex } from '../support/outcome.js';
import { fuzzTest } from '../support/settings.js';

/** What the core made of a request head: the status it refuses with, or what it accepted. */
type Answer = { ok: false; status: number } | Extract<HandshakeVerdict, { ok: true }>;

function answerOf(head: Buffer[]): Answer {
  const parser = new HttpHeadParser('request');
  let result: HeadParseResult<HttpRequestHead> = { state: 'incomplete' };
  for (const chunk of head) {
    result = parser.push(chunk);
    if (result.state !== 'incomplete') break;
  }
  if (result.state === 'incomplete') throw new Error('a complete head was read as incomplete');
  if (result.state === 'error') return { ok: false, status: result.status };
  const { method, target, httpVersion, headers } = result.head;
  const check = validateClientRequest({ method, url: target, httpVersion, headers });
  if (!check.ok) return { ok: false, status: check.error.status };
  return {
    ok: true,
    key: check.key,
    protocols: check.offeredProtocols,
    extensionHeader: check.extensionHeader,
  };
}

function expectAnswer(answer: Answer, verdict: HandshakeVerdict): void {
  if (verdict.ok) {
    expect(answer).toEqual(verdict);
  } else {
    expect(answer.ok, `accepted a request that breaks: ${verdict.violations.join('; ')}`).toBe(false);
    if (!answer.ok) expect(verdict.statuses).toContain(answer.status);
  }
}

fuzzTest(
  'handshake: the core accepts a request exactly when RFC 6455 §4.2.1 does, and refuses with a fitting status',
  { runs: 2000, file: import.meta.url },
  () =>
    fc.property(handshakeRequestArbitrary(), chunkSplitterArbitrary(), ({ head, verdict }, splitter) => {
      expectAnswer(answerOf(splitChunks(Buffer.from(head, 'latin1'), splitter)), verdict);
    }),
);

fuzzTest(
  'handshake: a raw-socket server driver answers 101 with the right accept key exactly when the request is valid, then reads the frames behind it',
  { runs: 500, file: import.meta.url },
  () =>
    fc.property(
      handshakeRequestArbitrary(),
      streamPlanArbitrary({ maxMessages: 3, maxLength: 40, mayClose: false }),
      chunkSplitterArbitrary(),
      ({ head, verdict }, plan, splitter) => {
        const driver = hybi.server();
        const written: Buffer[] = [];
        driver.io.on('data', (chunk: Buffer) => written.push(chunk));
        const events: string[] = [];
        driver.on('open', () => events.push('open'));
        driver.on('message', (event) =>
          events.push(`message ${typeof event.data === 'string' ? event.data : hex(event.data)}`),
        );
        driver.on('close', () => events.push('close'));
        driver.on('error', () => events.push('error'));
        driver.start();
        // A client may send frames right behind its request, in the same chunk (RFC 6455 §4.1 allows it once the
        // handshake is sent; hybi holds them until it has answered).
        const frames = encodeFrames(planFrames(plan, { masked: true }));
        for (const chunk of splitChunks(Buffer.concat([Buffer.from(head, 'latin1'), frames]), splitter))
          driver.io.write(chunk);
        const response = Buffer.concat(written).toString('latin1');
        const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(response)?.[1]);
        if (verdict.ok) {
          expect(status).toBe(101);
          expect(response).toContain(`\r\nSec-WebSocket-Accept: ${computeAcceptKey(verdict.key)}\r\n`);
          const messages = plan.expected.flatMap((event) =>
            event.type === 'text'
              ? [`message ${event.data}`]
              : event.type === 'binary'
                ? [`message ${hex(event.data)}`]
                : [],
          );
          expect(events).toEqual(['open', ...messages]);
        } else {
          expect(verdict.statuses).toContain(status);
          // websocket-driver's order: the refusal, then 'error', then one 'close'; no frame is read.
          expect(events).toEqual(['error', 'close']);
        }
      },
    ),
);

fuzzTest(
  'handshake: the HTTP head parser never throws on arbitrary bytes, refuses with 400, 431 or 505, and hands back the rest intact',
  { runs: 3000, file: import.meta.url },
  () => {
    const piece = fc.oneof(
      fc.constantFrom(
        'GET / HTTP/1.1',
        'HTTP/1.1 101 Switching Protocols',
        'Host: a',
        'Upgrade: websocket',
        ':',
        ' ',
        '\t',
      ),
      fc.constantFrom('\r\n', '\r\n\r\n', '\r', '\n', '\u0000'),
      fc.string({ unit: 'binary-ascii', maxLength: 12 }),
    );
    const bytes = fc.oneof(
      fc.array(piece, { maxLength: 20 }).map((pieces) => Buffer.from(pieces.join(''), 'latin1')),
      fc.uint8Array({ maxLength: 300 }).map((array) => Buffer.from(array)),
    );
    return fc.property(
      fc.constantFrom<'request' | 'response'>('request', 'response'),
      bytes,
      fc.integer({ min: 1, max: 400 }),
      chunkSplitterArbitrary(),
      (kind, input, maxHeadSize, splitter) => {
        const parser = new HttpHeadParser(kind, { maxHeadSize });
        let consumed = 0;
        for (const chunk of splitChunks(input, splitter)) {
          const result = parser.push(chunk);
          consumed += chunk.length;
          if (result.state === 'incomplete') continue;
          if (result.state === 'error') {
            expect(kind === 'request' ? [400, 431, 505] : [0]).toContain(result.status);
          } else {
            // What follows the blank line comes back untouched, and the head fit the limit.
            expect(result.rest.equals(chunk.subarray(chunk.length - result.rest.length))).toBe(true);
            expect(consumed - result.rest.length).toBeLessThanOrEqual(maxHeadSize);
            expect(
              input
                .subarray(consumed - result.rest.length - 4, consumed - result.rest.length)
                .toString('latin1'),
            ).toBe('\r\n\r\n');
          }
          return;
        }
      },
    );
  },
);
