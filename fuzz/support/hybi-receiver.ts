// Owns feeding bytes to hybi's Connection the way a socket would, and checking the invariants every
// stream must keep: nothing thrown, nothing delivered after the verdict, failures only with RFC codes.

import { Connection, type ConnectionEvent, type Role } from '../../src/protocol/connection.js';
import { hex, type ReceiverOutcome, type Verdict } from './outcome.js';

/** How the receiving Connection is configured. */
export interface HybiReceiverOptions {
  role: Role;
  maxLength: number;
  maxFragments?: number;
}

/** The outcome plus what the receiver wrote back and anything that broke an invariant. */
export interface HybiRun extends ReceiverOutcome {
  /** Bytes the Connection asked to write (pongs, close replies), in order. */
  writes: Buffer[];
  /** Invariant violations: events after the verdict, a second verdict. Empty when all is well. */
  violations: string[];
}

/** RFC 6455 §7.4.1: the codes a receiver fails a peer's stream with. */
export const FAILURE_CODES: ReadonlySet<number> = new Set([1002, 1007, 1009]);

/**
 * Pushes `chunks` one by one into a new Connection and reads every event with `receive`. Any exception
 * escapes to the caller: a property asserting totality lets it fail the run.
 */
export function runHybi(chunks: readonly Buffer[], options: HybiReceiverOptions): HybiRun {
  const connection = new Connection({
    role: options.role,
    maxLength: options.maxLength,
    ...(options.maxFragments === undefined ? {} : { maxFragments: options.maxFragments }),
  });
  const run: HybiRun = { events: [], verdict: { kind: 'open' }, writes: [], violations: [] };
  for (const chunk of chunks) {
    for (const event of connection.receive(chunk)) record(run, event);
  }
  if (run.verdict.kind === 'open' && connection.state === 'closed') {
    run.violations.push('the connection closed without a close or fail event');
  }
  return run;
}

function record(run: HybiRun, event: ConnectionEvent): void {
  const verdict: Verdict = run.verdict;
  if (verdict.kind !== 'open') {
    run.violations.push(`event ${event.type} after the verdict ${JSON.stringify(verdict)}`);
  }
  switch (event.type) {
    case 'text':
      run.events.push({ type: 'text', data: event.data });
      return;
    case 'binary':
      run.events.push({ type: 'binary', data: hex(event.data) });
      return;
    case 'ping':
    case 'pong':
      run.events.push({ type: event.type, data: hex(event.data) });
      return;
    case 'write':
      // A close reply or failure close frame is written before its close or fail event, never after.
      for (const bytes of event.data) run.writes.push(Buffer.from(bytes));
      return;
    case 'close':
      run.verdict = { kind: 'closed', code: event.code, reason: event.reason };
      return;
    case 'fail':
      run.verdict = { kind: 'failed', code: event.code };
      return;
    case 'extension-message':
      run.violations.push('an extension-message event without extensions');
      return;
  }
}
