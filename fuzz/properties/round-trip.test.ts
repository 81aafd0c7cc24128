// Owns the round-trip properties: any messages, fragmented and interleaved with control frames, sent by a
// hybi client and read back by a hybi server in any chunking, come out the same, with one pong per ping;
// and a message prepared once (prepareMessage) reads back the same from every connection.

import fc from 'fast-check';
import { expect } from 'vitest';
import { Connection, type ConnectionEvent } from '../../src/protocol/connection.js';
import { prepareMessage } from '../../src/protocol/prepared-message.js';
import { type ChunkSplitter, chunkSplitterArbitrary, splitChunks } from '../arbitraries/chunks.js';
import { messageArbitrary, messageBytes } from '../arbitraries/messages.js';
import {
  type ExpectedEvent,
  type PlanStep,
  type StreamPlan,
  streamPlanArbitrary,
} from '../arbitraries/streams.js';
import { fuzzTest } from '../support/settings.js';

/** The bytes a hybi client writes for one step of a plan (RFC 6455 §5.3: masked). */
function send(client: Connection, step: PlanStep): Buffer[] {
  switch (step.kind) {
    case 'message':
      return step.message.type === 'text'
        ? client.sendText(step.message.data)
        : client.sendBinary(step.message.data);
    case 'fragment':
      return client.sendFragment(step.type === 'text' ? 1 : 2, step.payload, step.isFinal);
    case 'ping':
      return client.sendPing(step.payload);
    case 'pong':
      return client.sendPong(step.payload);
    case 'close':
      return client.sendClose(step.code, step.reason);
  }
}

/** Compares without handing megabytes to the diff printer: the first difference, described. */
function expectSameEvents(actual: readonly ConnectionEvent[], expected: readonly ExpectedEvent[]): void {
  const received = actual.filter((event) => event.type !== 'write');
  for (let index = 0; index < Math.max(received.length, expected.length); index++) {
    const got = received[index];
    const want = expected[index];
    const describe = (event: ConnectionEvent | ExpectedEvent | undefined): string =>
      event === undefined ? 'nothing' : `${event.type}${'data' in event ? ` of ${event.data.length}` : ''}`;
    const isSame =
      got !== undefined &&
      want !== undefined &&
      got.type === want.type &&
      (got.type === 'close' && want.type === 'close'
        ? got.code === want.code && got.reason === want.reason
        : got.type === 'text' && want.type === 'text'
          ? got.data === want.data
          : 'data' in got && 'data' in want && typeof got.data !== 'string' && typeof want.data !== 'string'
            ? Buffer.from(got.data as Uint8Array).equals(want.data as Uint8Array)
            : false);
    if (!isSame) throw new Error(`event ${index}: expected ${describe(want)}, received ${describe(got)}`);
  }
}

function roundTrip(plan: StreamPlan, splitter: ChunkSplitter): void {
  const client = new Connection({ role: 'client' });
  const bytes = Buffer.concat(plan.steps.flatMap((step) => send(client, step)));
  const largest = Math.max(
    0,
    ...plan.steps.map((step) => (step.kind === 'message' ? messageBytes(step.message).length : 0)),
  );
  const server = new Connection({ role: 'server', maxLength: Math.max(largest, bytes.length) });
  const events: ConnectionEvent[] = [];
  for (const chunk of splitChunks(bytes, splitter)) events.push(...server.receive(chunk));
  expectSameEvents(events, plan.expected);

  // RFC 6455 §5.5.2-§5.5.3: one pong per ping, same payload, in order; §5.5.1: the close code echoed
  // (and its reason, as websocket-driver and ws do).
  const replies = new Connection({ role: 'client' }).receive(
    Buffer.concat(events.flatMap((event) => (event.type === 'write' ? event.data : []))),
  );
  const pings = plan.steps.flatMap((step) =>
    step.kind === 'ping' ? [Buffer.from(step.payload).toString('hex')] : [],
  );
  const pongs = replies.flatMap((event) => (event.type === 'pong' ? [event.data.toString('hex')] : []));
  expect(pongs).toEqual(pings);
  const closing = plan.steps.at(-1);
  if (closing?.kind === 'close') {
    expect(replies.at(-1)).toEqual({
      type: 'close',
      code: closing.code ?? 1005,
      reason: closing.code === undefined ? '' : closing.reason,
    });
  } else {
    expect(replies.filter((event) => event.type !== 'pong')).toEqual([]);
  }
}

fuzzTest(
  'round trip: messages over all planes, fragmented, with control frames, in any chunking',
  { runs: 400, file: import.meta.url },
  () => fc.property(streamPlanArbitrary(), chunkSplitterArbitrary(), roundTrip),
);

fuzzTest(
  'round trip: large messages up to 3 MiB, fragmented, in any chunking',
  { runs: 12, file: import.meta.url },
  () =>
    fc.property(
      // Unbiased: fast-check would otherwise keep the first runs small, and there are few runs here.
      fc.noBias(
        streamPlanArbitrary({
          maxMessages: 3,
          maxLargeLength: 3 * 1024 * 1024,
          largeWeight: 30,
          maxLength: 50,
        }),
      ),
      chunkSplitterArbitrary({ allowBytewise: false }),
      roundTrip,
    ),
);

fuzzTest(
  'round trip: a prepared message is the same bytes on every server connection and reads back whole, in any chunking',
  { runs: 300, file: import.meta.url },
  () =>
    fc.property(
      messageArbitrary({ maxLargeLength: 200_000 }),
      chunkSplitterArbitrary({ allowBytewise: false }),
      (message, splitter) => {
        const prepared = prepareMessage(message.data);
        const first = new Connection({ role: 'server' }).sendPrepared(prepared);
        const second = new Connection({ role: 'server' }).sendPrepared(prepared);
        expect(first.every((buffer, index) => buffer === second[index])).toBe(true);
        // What a server sends and what a (masking) client sends are each read back as the message.
        const masked = new Connection({ role: 'client' }).sendPrepared(prepared);
        for (const [bytes, reader] of [
          [first, new Connection({ role: 'client' })],
          [masked, new Connection({ role: 'server' })],
        ] as const) {
          const events = splitChunks(Buffer.concat(bytes), splitter).flatMap((chunk) =>
            reader.receive(chunk),
          );
          expect(events).toHaveLength(1);
          const [event] = events;
          if (message.type === 'text') expect(event).toEqual({ type: 'text', data: message.data });
          else expect(event?.type === 'binary' && event.data.equals(message.data)).toBe(true);
        }
      },
    ),
);
