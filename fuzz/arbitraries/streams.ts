// Owns valid frame streams as plans: messages cut into fragments, control frames between them, a close at the
// end, and the events a correct receiver must report for them.

import fc from 'fast-check';
import { closePayload, closeReasonArbitrary, validCloseCodeArbitrary } from './close.js';
import { FrameOpcode, type FrameSpec } from './frames.js';
import { type Message, type MessageArbitraryOptions, messageArbitrary, messageBytes } from './messages.js';

/** One thing a sender does, in order. Plain data: it prints and replays exactly. */
export type PlanStep =
  /** A whole message in one frame. */
  | { kind: 'message'; message: Message }
  /** One fragment of a message (RFC 6455 §5.4); the first carries the opcode, the rest are continuations. */
  | { kind: 'fragment'; type: Message['type']; payload: Uint8Array; isFirst: boolean; isFinal: boolean }
  | { kind: 'ping'; payload: Uint8Array }
  | { kind: 'pong'; payload: Uint8Array }
  /** The closing handshake's first frame (RFC 6455 §5.5.1); `code` undefined sends an empty body. */
  | { kind: 'close'; code: number | undefined; reason: string };

/** What a correct receiver reports for a plan, in order (pings are also answered, RFC 6455 §5.5.2). */
export type ExpectedEvent =
  | { type: 'text'; data: string }
  | { type: 'binary'; data: Uint8Array }
  | { type: 'ping'; data: Uint8Array }
  | { type: 'pong'; data: Uint8Array }
  /** 1005 when the close frame had no body (RFC 6455 §7.1.5). */
  | { type: 'close'; code: number; reason: string };

/** A valid stream: the sender's steps and the receiver's expected events. */
export interface StreamPlan {
  steps: PlanStep[];
  expected: ExpectedEvent[];
  /** For each expected event, the index of the step (and frame) that completes it. */
  eventSteps: number[];
}

/** Options of {@link streamPlanArbitrary}. */
export interface StreamPlanOptions extends MessageArbitraryOptions {
  /** Most messages in one stream. Default 8. */
  maxMessages?: number;
  /** Most cuts in one message; a message with none is sent whole. Default 5. */
  maxCuts?: number;
  /** Most control frames between frames of one message or before it. Default 3. */
  maxInterleavedControls?: number;
  /** Whether the stream may end with a close frame. Default true. */
  mayClose?: boolean;
}

const NO_BYTES = new Uint8Array(0);

/**
 * A valid stream plan: messages (see {@link messageArbitrary}) each sent whole or cut at arbitrary byte
 * positions (inside UTF-8 characters too, and into empty fragments), pings and pongs interleaved between
 * fragments as RFC 6455 §5.4 allows, and maybe a close frame at the end.
 *
 * @example
 * ```ts
 * fc.assert(fc.property(streamPlanArbitrary(), (plan) => {
 *   const bytes = encodeFrames(planFrames(plan, { masked: true }));
 *   expect(myParser(bytes)).toEqual(plan.expected);
 * }));
 * ```
 */
export function streamPlanArbitrary(options: StreamPlanOptions = {}): fc.Arbitrary<StreamPlan> {
  const control = fc.record({
    kind: fc.constantFrom<'ping' | 'pong'>('ping', 'pong'),
    payload: fc.oneof(fc.constant(NO_BYTES), fc.uint8Array({ maxLength: 125 })),
  });
  const item = fc.record({
    message: messageArbitrary(options),
    cuts: fc.array(fc.nat(), { maxLength: options.maxCuts ?? 5 }),
    controls: fc.array(fc.tuple(fc.nat(), control), { maxLength: options.maxInterleavedControls ?? 3 }),
  });
  const close = fc.record({
    code: fc.option(validCloseCodeArbitrary(), { nil: undefined }),
    reason: closeReasonArbitrary(),
  });
  return fc
    .record({
      items: fc.array(item, { maxLength: options.maxMessages ?? 8 }),
      close: options.mayClose === false ? fc.constant(undefined) : fc.option(close, { nil: undefined }),
    })
    .map(({ items, close: closing }) => buildPlan(items, closing));
}

interface PlanItem {
  message: Message;
  cuts: number[];
  controls: [number, { kind: 'ping' | 'pong'; payload: Uint8Array }][];
}

function buildPlan(
  items: readonly PlanItem[],
  closing: { code: number | undefined; reason: string } | undefined,
): StreamPlan {
  const steps: PlanStep[] = [];
  const expected: ExpectedEvent[] = [];
  const eventSteps: number[] = [];
  for (const { message, cuts, controls } of items) {
    const fragments = cutPayload(messageBytes(message), cuts);
    // Control frames go before fragment `slot`; slot 0 is before the message, between it and the last.
    const slots = new Map<number, { kind: 'ping' | 'pong'; payload: Uint8Array }[]>();
    for (const [position, controlStep] of controls) {
      const slot = position % fragments.length;
      slots.set(slot, [...(slots.get(slot) ?? []), controlStep]);
    }
    for (let index = 0; index < fragments.length; index++) {
      for (const controlStep of slots.get(index) ?? []) {
        steps.push({ kind: controlStep.kind, payload: controlStep.payload });
        expected.push({ type: controlStep.kind, data: controlStep.payload });
        eventSteps.push(steps.length - 1);
      }
      if (fragments.length === 1) {
        steps.push({ kind: 'message', message });
      } else {
        steps.push({
          kind: 'fragment',
          type: message.type,
          payload: fragments[index]!,
          isFirst: index === 0,
          isFinal: index === fragments.length - 1,
        });
      }
    }
    expected.push(
      message.type === 'text' ? { type: 'text', data: message.data } : { type: 'binary', data: message.data },
    );
    eventSteps.push(steps.length - 1);
  }
  if (closing !== undefined) {
    // RFC 6455 §5.5.1: a reason needs a code before it.
    const reason = closing.code === undefined ? '' : closing.reason;
    steps.push({ kind: 'close', code: closing.code, reason });
    expected.push({ type: 'close', code: closing.code ?? 1005, reason });
    eventSteps.push(steps.length - 1);
  }
  return { steps, expected, eventSteps };
}

/** Cuts `payload` at `cuts` (each taken modulo length + 1; repeats make empty fragments). */
function cutPayload(payload: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  if (cuts.length === 0) return [payload];
  const positions = cuts.map((cut) => cut % (payload.length + 1)).sort((left, right) => left - right);
  const fragments: Uint8Array[] = [];
  let start = 0;
  for (const position of positions) {
    fragments.push(payload.subarray(start, position));
    start = position;
  }
  fragments.push(payload.subarray(start));
  return fragments;
}

/** Options of {@link planFrames}. */
export interface PlanFramesOptions {
  /** Mask every frame (a client's stream) with keys from `maskingKeys`, or all zero keys when absent. */
  masked: boolean;
  /** Keys to cycle through; default one fixed key. */
  maskingKeys?: readonly Uint8Array[];
}

const DEFAULT_MASKING_KEY = Uint8Array.of(0x37, 0xfa, 0x21, 0x3d);

/** The frames of a plan, for the kit's own encoder ({@link encodeFrames}). */
export function planFrames(plan: StreamPlan, options: PlanFramesOptions): FrameSpec[] {
  const keys = options.maskingKeys ?? [DEFAULT_MASKING_KEY];
  return plan.steps.map((step, index) => {
    const maskingKey = options.masked ? keys[index % keys.length] : undefined;
    const frame = stepFrame(step);
    return maskingKey === undefined ? frame : { ...frame, maskingKey };
  });
}

function stepFrame(step: PlanStep): FrameSpec {
  switch (step.kind) {
    case 'message':
      return {
        isFinal: true,
        rsv: 0,
        opcode: step.message.type === 'text' ? FrameOpcode.Text : FrameOpcode.Binary,
        payload: messageBytes(step.message),
      };
    case 'fragment':
      return {
        isFinal: step.isFinal,
        rsv: 0,
        opcode: !step.isFirst
          ? FrameOpcode.Continuation
          : step.type === 'text'
            ? FrameOpcode.Text
            : FrameOpcode.Binary,
        payload: step.payload,
      };
    case 'ping':
      return { isFinal: true, rsv: 0, opcode: FrameOpcode.Ping, payload: step.payload };
    case 'pong':
      return { isFinal: true, rsv: 0, opcode: FrameOpcode.Pong, payload: step.payload };
    case 'close': {
      const payload = step.code === undefined ? NO_BYTES : closePayload(step.code, step.reason);
      return { isFinal: true, rsv: 0, opcode: FrameOpcode.Close, payload };
    }
  }
}
