// Owns the differential properties: the same bytes into hybi's Connection and ws's Receiver give the same
// messages and the same verdict, except for the divergences fuzz/README.md lists, which are encoded here.

import fc from 'fast-check';
import { afterAll, expect } from 'vitest';
import { type ChunkSplitter, chunkSplitterArbitrary, splitChunks } from '../arbitraries/chunks.js';
import { encodeFrames, hostileFrameArbitrary } from '../arbitraries/frames.js';
import { applyMutations, streamMutationArbitrary } from '../arbitraries/mutations.js';
import { planFrames, streamPlanArbitrary } from '../arbitraries/streams.js';
import { expectHybiOutcome } from '../support/divergences.js';
import { minimizeControlLengths } from '../support/frame-tokenizer.js';
import { runHybi } from '../support/hybi-receiver.js';
import { fuzzTest, recordCounts } from '../support/settings.js';
import { runWs } from '../support/ws-receiver.js';

/** One receiver configuration, applied to both implementations. */
interface Setup {
  role: 'server' | 'client';
  maxLength: number;
  maxFragments: number;
}

const setupArbitrary: fc.Arbitrary<Setup> = fc.record({
  role: fc.constantFrom('server', 'client'),
  maxLength: fc.oneof(fc.integer({ min: 1, max: 300 }), fc.constant(1024 * 1024)),
  maxFragments: fc.oneof(
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 6 }) },
    { weight: 3, arbitrary: fc.constant(1024 * 1024) },
  ),
});

/** Inputs on which each divergence decided the expected outcome, by name; `npm run fuzz` prints them. */
const seen = new Map<string, number>();
afterAll(() => recordCounts(import.meta.url, 'inputs where a divergence from ws applied', seen));

function compare(stream: Buffer, setup: Setup, splitter: ChunkSplitter): void {
  // Divergence non-minimal-control-length: ws refuses a control frame whose length is written in 16 or 64
  // bits even when it fits in 7; hybi reads it. ws reads the minimized stream; hybi the original.
  const minimized = minimizeControlLengths(stream);
  if (minimized.rewritten > 0)
    seen.set('non-minimal-control-length', (seen.get('non-minimal-control-length') ?? 0) + 1);
  const ws = runWs(splitChunks(minimized.bytes, splitter), {
    isServer: setup.role === 'server',
    maxPayload: setup.maxLength,
    maxFragments: setup.maxFragments,
  });
  const expectation = expectHybiOutcome(minimized.bytes, ws, {
    maxFragments: setup.maxFragments,
    role: setup.role,
  });
  for (const name of expectation.divergences) seen.set(name, (seen.get(name) ?? 0) + 1);

  const hybi = runHybi(splitChunks(stream, splitter), setup);
  expect(hybi.violations).toEqual([]);
  expect({ events: hybi.events, verdict: hybi.verdict }).toEqual(expectation.outcome);
  if (expectation.completion !== undefined) {
    const completed = runHybi([Buffer.concat([stream, expectation.completion.bytes])], setup);
    expect({ events: completed.events, verdict: completed.verdict }).toEqual({
      events: expectation.outcome.events,
      verdict: expectation.completion.verdict,
    });
  }
}

/** A valid stream for the role (clients mask, RFC 6455 §5.3), damaged by up to three mutations. */
const damagedStreamArbitrary = fc
  .record({
    setup: setupArbitrary,
    plan: streamPlanArbitrary({ maxMessages: 5, maxLength: 200 }),
    mutations: fc.array(streamMutationArbitrary({ maxLength: 300 }), { maxLength: 3 }),
  })
  .map(({ setup, plan, mutations }) => ({
    setup,
    stream: applyMutations(planFrames(plan, { masked: setup.role === 'server' }), mutations),
    mutations,
  }));

fuzzTest(
  'differential: valid and damaged streams get the same messages and verdict from hybi and ws',
  { runs: 2000, file: import.meta.url },
  () =>
    fc.property(damagedStreamArbitrary, chunkSplitterArbitrary(), ({ setup, stream }, splitter) =>
      compare(stream, setup, splitter),
    ),
);

fuzzTest(
  'differential: sequences of hostile frames get the same verdict from hybi and ws',
  { runs: 2000, file: import.meta.url },
  () =>
    fc.property(
      setupArbitrary,
      fc.array(hostileFrameArbitrary({ maxPayloadLength: 140 }), { maxLength: 6 }),
      chunkSplitterArbitrary(),
      (setup, frames, splitter) => compare(encodeFrames(frames), setup, splitter),
    ),
);

fuzzTest(
  'differential: arbitrary bytes get the same verdict from hybi and ws',
  { runs: 2000, file: import.meta.url },
  () =>
    fc.property(
      setupArbitrary,
      fc.uint8Array({ maxLength: 512 }),
      chunkSplitterArbitrary(),
      (setup, bytes, splitter) => compare(Buffer.from(bytes), setup, splitter),
    ),
);
