// Owns the totality properties: whatever bytes arrive, hybi's receiver never throws, never reports after its
// verdict, fails only with the close code the damage calls for, and never holds more than maxLength.

import fc from 'fast-check';
import { expect } from 'vitest';
import { ProtocolError } from '../../src/protocol/errors.js';
import type { FrameHeader } from '../../src/protocol/frame.js';
import { FrameParser, type FrameSink } from '../../src/protocol/frame-parser.js';
import { MessageAssembler, type MessageHandler } from '../../src/protocol/message.js';
import { isControlOpcode, isValidCloseCode } from '../../src/protocol/opcodes.js';
import { chunkSplitterArbitrary, splitChunks } from '../arbitraries/chunks.js';
import { encodeFrames, hostileFrameArbitrary } from '../arbitraries/frames.js';
import {
  applyMutations,
  expectedFailureCode,
  mutationTarget,
  noiseMutationArbitrary,
  targetedMutationArbitrary,
} from '../arbitraries/mutations.js';
import {
  type ExpectedEvent,
  planFrames,
  type StreamPlan,
  streamPlanArbitrary,
} from '../arbitraries/streams.js';
import { FAILURE_CODES, type HybiRun, runHybi } from '../support/hybi-receiver.js';
import { hex, type ReceivedEvent } from '../support/outcome.js';
import { fuzzTest } from '../support/settings.js';

const roleArbitrary = fc.constantFrom<'server' | 'client'>('server', 'client');

/** The invariants every run keeps, whatever it was fed. */
function expectTotal(run: HybiRun): void {
  expect(run.violations).toEqual([]);
  if (run.verdict.kind === 'failed') expect(FAILURE_CODES.has(run.verdict.code)).toBe(true);
  // RFC 6455 §7.1.5: a close frame without a body reports 1005; otherwise the code came off the wire.
  if (run.verdict.kind === 'closed')
    expect(run.verdict.code === 1005 || isValidCloseCode(run.verdict.code)).toBe(true);
}

function received(event: ExpectedEvent): ReceivedEvent | undefined {
  switch (event.type) {
    case 'text':
      return { type: 'text', data: event.data };
    case 'close':
      return undefined;
    default:
      return { type: event.type, data: hex(event.data) };
  }
}

/** The events of `plan` completed by frames before `frame`. */
function eventsBefore(plan: StreamPlan, frame: number): ReceivedEvent[] {
  return plan.expected.flatMap((event, index) => {
    const shown = received(event);
    return shown !== undefined && plan.eventSteps[index]! < frame ? [shown] : [];
  });
}

fuzzTest(
  'totality: arbitrary bytes never make hybi throw or break its invariants',
  { runs: 1500, file: import.meta.url },
  () =>
    fc.property(
      roleArbitrary,
      fc.integer({ min: 1, max: 2048 }),
      fc.oneof(
        fc.uint8Array({ maxLength: 2048 }),
        fc.array(hostileFrameArbitrary({ maxPayloadLength: 200 }), { maxLength: 8 }).map(encodeFrames),
      ),
      chunkSplitterArbitrary(),
      (role, maxLength, bytes, splitter) => {
        expectTotal(runHybi(splitChunks(bytes, splitter), { role, maxLength, maxFragments: 4 }));
      },
    ),
);

fuzzTest(
  'totality: targeted damage fails with exactly the code RFC 6455 gives it, after the same events',
  { runs: 1500, file: import.meta.url },
  () =>
    fc.property(
      roleArbitrary,
      streamPlanArbitrary({ maxMessages: 5, maxLength: 200 }).filter((plan) => plan.steps.length > 0),
      targetedMutationArbitrary({ maxLength: 64 * 1024 }),
      chunkSplitterArbitrary(),
      (role, plan, mutation, splitter) => {
        const frames = planFrames(plan, { masked: role === 'server' });
        const run = runHybi(splitChunks(applyMutations(frames, [mutation]), splitter), {
          role,
          maxLength: 64 * 1024,
        });
        expectTotal(run);
        const code = expectedFailureCode(frames, mutation);
        if (code === undefined) {
          // The damage did not apply (invalid UTF-8 aimed at a binary frame): the stream is intact.
          expect(run.events).toEqual(eventsBefore(plan, Number.POSITIVE_INFINITY));
          return;
        }
        const { frame } = mutationTarget(frames, mutation);
        expect({ events: run.events, verdict: run.verdict }).toEqual({
          events: eventsBefore(plan, frame),
          verdict: { kind: 'failed', code },
        });
      },
    ),
);

fuzzTest(
  'totality: a valid stream cut anywhere delivers exactly the frames that arrived whole, and never fails',
  { runs: 1500, file: import.meta.url },
  () =>
    fc.property(
      roleArbitrary,
      streamPlanArbitrary({ maxMessages: 5, maxLength: 200 }),
      fc.nat(),
      chunkSplitterArbitrary(),
      (role, plan, cut, splitter) => {
        const frames = planFrames(plan, { masked: role === 'server' });
        const encoded = frames.map((frame) => encodeFrames([frame]));
        const bytes = Buffer.concat(encoded);
        const length = cut % (bytes.length + 1);
        const run = runHybi(splitChunks(bytes.subarray(0, length), splitter), { role, maxLength: 64 * 1024 });
        expectTotal(run);
        let whole = 0;
        for (let offset = 0; whole < encoded.length && offset + encoded[whole]!.length <= length; whole++) {
          offset += encoded[whole]!.length;
        }
        expect(run.events).toEqual(eventsBefore(plan, whole));
        const closing = plan.expected.at(-1);
        const isCloseWhole = closing?.type === 'close' && whole === frames.length;
        expect(run.verdict).toEqual(
          isCloseWhole ? { kind: 'closed', code: closing.code, reason: closing.reason } : { kind: 'open' },
        );
      },
    ),
);

fuzzTest(
  'totality: noise (bit flips, splices, truncations, length fields, FIN, opcodes, reordering) never breaks the invariants',
  { runs: 1500, file: import.meta.url },
  () =>
    fc.property(
      roleArbitrary,
      streamPlanArbitrary({ maxMessages: 5, maxLength: 200 }),
      fc.array(noiseMutationArbitrary(), { minLength: 1, maxLength: 4 }),
      fc.integer({ min: 1, max: 4096 }),
      chunkSplitterArbitrary(),
      (role, plan, mutations, maxLength, splitter) => {
        const bytes = applyMutations(planFrames(plan, { masked: role === 'server' }), mutations);
        expectTotal(runHybi(splitChunks(bytes, splitter), { role, maxLength, maxFragments: 3 }));
      },
    ),
);

/**
 * A frame sink between hybi's parser and its message assembler that counts the payload bytes the assembler
 * holds: those of the message in progress (kept until it completes) and of the control frame in progress.
 */
class HeldBytesMeter implements FrameSink, MessageHandler {
  readonly assembler: MessageAssembler;
  messageBytes = 0;
  controlBytes = 0;
  mostMessageBytes = 0;
  mostControlBytes = 0;
  private isControl = false;

  constructor(maxLength: number) {
    this.assembler = new MessageAssembler(this, { maxLength, maxFragments: 1024, allowedRsvBits: 0 });
  }

  onFrameHeader(header: FrameHeader): void {
    this.assembler.onFrameHeader(header);
    this.isControl = isControlOpcode(header.opcode);
  }

  onFramePayload(payload: Buffer): void {
    this.assembler.onFramePayload(payload);
    // Counted only once the assembler took the bytes without failing.
    if (this.isControl) this.controlBytes += payload.length;
    else this.messageBytes += payload.length;
    this.mostMessageBytes = Math.max(this.mostMessageBytes, this.messageBytes);
    this.mostControlBytes = Math.max(this.mostControlBytes, this.controlBytes);
  }

  onFrameEnd(header: FrameHeader): boolean {
    return this.assembler.onFrameEnd(header);
  }

  onMessage(): void {
    this.messageBytes = 0;
  }

  onControlFrame(): void {
    this.controlBytes = 0;
  }
}

fuzzTest(
  'totality: hybi never holds more than maxLength bytes of a message, nor 125 of a control frame',
  { runs: 1500, file: import.meta.url },
  () =>
    fc.property(
      fc.integer({ min: 0, max: 1024 }),
      fc.oneof(
        fc
          .array(hostileFrameArbitrary({ masking: 'masked', maxPayloadLength: 600 }), { maxLength: 10 })
          .map(encodeFrames),
        fc
          .tuple(
            streamPlanArbitrary({ maxMessages: 5, maxLength: 600 }),
            fc.array(noiseMutationArbitrary(), { maxLength: 2 }),
          )
          .map(([plan, mutations]) => applyMutations(planFrames(plan, { masked: true }), mutations)),
      ),
      chunkSplitterArbitrary(),
      (maxLength, bytes, splitter) => {
        const meter = new HeldBytesMeter(maxLength);
        const parser = new FrameParser(meter, 'masked');
        for (const chunk of splitChunks(bytes, splitter)) {
          parser.push(chunk);
          try {
            while (parser.hasInput) parser.parse();
          } catch (error) {
            // A ProtocolError ends the stream; the bound must have held up to it. Anything else is a bug.
            if (!(error instanceof ProtocolError)) throw error;
            break;
          }
        }
        expect(meter.mostMessageBytes).toBeLessThanOrEqual(maxLength);
        expect(meter.mostControlBytes).toBeLessThanOrEqual(125);
      },
    ),
);
