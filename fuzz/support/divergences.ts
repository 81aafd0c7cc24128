// Owns the deliberate differences between hybi's receiver and ws's: from ws's outcome on a stream, what hybi
// must report. Every rule here is listed in fuzz/README.md with the RFC section behind hybi's choice.

import { TextDecoder } from 'node:util';
import { type StreamFrame, tokenizeFrames } from './frame-tokenizer.js';
import type { ReceiverOutcome, Verdict } from './outcome.js';
import type { WsRun } from './ws-receiver.js';

/** The divergences, by name (README: "Divergences from ws"). */
export type DivergenceName =
  | 'utf8-fail-fast'
  | 'whole-header-first'
  | 'length-msb-is-1002'
  | 'fragment-limit-is-1009'
  | 'non-minimal-control-length';

/** What hybi must report for a stream, and which divergences shaped that. */
export interface Expectation {
  outcome: ReceiverOutcome;
  /**
   * Set when hybi must still be waiting for bytes ws did not need: appending `bytes` must then give
   * `verdict` (and the same events).
   */
  completion?: { bytes: Buffer; verdict: Verdict } | undefined;
  divergences: DivergenceName[];
}

export interface ExpectationOptions {
  maxFragments: number;
  /** Which end receives: servers expect masked frames, clients unmasked ones (RFC 6455 §5.1). */
  role: 'server' | 'client';
}

/**
 * hybi's expected outcome on `stream`, given ws's outcome on the same stream (with non-minimal control
 * lengths minimized, divergence `non-minimal-control-length`, which the caller applies and reports).
 *
 * The walk goes frame by frame over what ws accepted. Before ws's stopping point hybi can only stop
 * earlier, for two reasons: text that is already invalid UTF-8 (it validates each fragment as it
 * arrives, `utf8-fail-fast`) and a fragment over the limit (it counts fragments at the header,
 * `fragment-limit-is-1009`). At ws's stopping point hybi stops with ws's code, mapped where the codes
 * differ, unless it needs more of the frame's bytes to see the same violation (`whole-header-first`).
 */
export function expectHybiOutcome(stream: Uint8Array, ws: WsRun, options: ExpectationOptions): Expectation {
  const frames = tokenizeFrames(stream);
  const divergences: DivergenceName[] = [];
  const stop = stoppingFrame(frames, ws);
  let eventCount = 0;
  let messageOpcode = 0;
  let fragmentCount = 0;
  let decoder: TextDecoder | undefined;

  for (let index = 0; index < Math.min(stop, frames.length); index++) {
    const frame = frames[index]!;
    if (!frame.isHeaderComplete) break;
    if ((frame.opcode & 0x8) !== 0) {
      if (frame.isComplete) eventCount++;
      continue;
    }
    if (frame.opcode !== 0) {
      messageOpcode = frame.opcode;
      fragmentCount = 0;
      decoder = messageOpcode === 1 ? new TextDecoder('utf-8', { fatal: true }) : undefined;
    }
    fragmentCount++;
    if (fragmentCount > options.maxFragments) {
      // ws counts a fragment once its payload has arrived; this one's has not, or ws would have stopped here.
      divergences.push('fragment-limit-is-1009');
      return {
        outcome: { events: ws.events.slice(0, eventCount), verdict: { kind: 'failed', code: 1009 } },
        divergences,
      };
    }
    if (decoder !== undefined && !decodes(decoder, frame.payload)) {
      divergences.push('utf8-fail-fast');
      return {
        outcome: { events: ws.events.slice(0, eventCount), verdict: { kind: 'failed', code: 1007 } },
        divergences,
      };
    }
    if (frame.isFinal && frame.isComplete) {
      eventCount++;
      messageOpcode = 0;
      decoder = undefined;
    }
  }

  if (ws.verdict.kind !== 'failed')
    return { outcome: { events: ws.events, verdict: ws.verdict }, divergences };

  const frame = frames[stop];
  let code = ws.verdict.code;
  if (ws.errorCode === 'WS_ERR_TOO_MANY_BUFFERED_PARTS' && code === 1008) {
    code = 1009;
    divergences.push('fragment-limit-is-1009');
  }
  if (frame === undefined) {
    return { outcome: { events: ws.events, verdict: { kind: 'failed', code } }, divergences };
  }
  if (code === 1009 && frame.hasLengthMsb) {
    code = 1002;
    divergences.push('length-msb-is-1002');
  }
  const missing = bytesHybiNeeds(frame, stream.length, ws, options.role);
  if (missing > 0) {
    divergences.push('whole-header-first');
    return {
      outcome: { events: ws.events, verdict: { kind: 'open' } },
      completion: { bytes: Buffer.alloc(missing, 0xff), verdict: { kind: 'failed', code } },
      divergences,
    };
  }
  return { outcome: { events: ws.events, verdict: { kind: 'failed', code } }, divergences };
}

/** The index of the frame ws stopped in: where it failed, its close frame, or past the last frame. */
function stoppingFrame(frames: readonly StreamFrame[], ws: WsRun): number {
  if (ws.verdict.kind === 'failed') {
    const offset = (ws.failureOffset ?? 1) - 1;
    const index = frames.findIndex((frame) => offset >= frame.start && offset < frame.end);
    return index === -1 ? frames.length : index;
  }
  if (ws.verdict.kind === 'closed') {
    const index = frames.findIndex((frame) => frame.opcode === 0x8);
    return index === -1 ? frames.length : index;
  }
  return frames.length;
}

/** Whether `payload` continues the text so far as UTF-8 (WHATWG streaming decoder, fatal mode). */
function decodes(decoder: TextDecoder, payload: Uint8Array): boolean {
  try {
    decoder.decode(payload, { stream: true });
    return true;
  } catch {
    return false;
  }
}

/**
 * How many more bytes hybi needs to judge `frame` where ws judged it already: the rest of the header
 * (hybi reads the whole header before checking any of it), and the one body byte of a close frame with
 * length 1 (hybi checks the body, ws the length field) unless hybi fails that header for its mask bit,
 * which ws checks only after the length. Zero when hybi can judge it from what arrived.
 */
function bytesHybiNeeds(
  frame: StreamFrame,
  streamLength: number,
  ws: WsRun,
  role: 'server' | 'client',
): number {
  // ws needs two bytes to judge anything, so the second byte, and with it the header length, is known.
  const headerMissing = frame.isHeaderComplete ? 0 : frame.start + (frame.headerLength ?? 2) - streamLength;
  const isShortClose =
    ws.errorCode === 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH' &&
    frame.opcode === 0x8 &&
    frame.lengthField === 1;
  const isMaskAsExpected = frame.hasMask === (role === 'server');
  const bodyMissing = isShortClose && isMaskAsExpected && !frame.isComplete ? 1 : 0;
  return headerMissing + bodyMissing;
}
