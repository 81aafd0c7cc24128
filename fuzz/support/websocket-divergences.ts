// Owns the deliberate differences between hybi's WebSocket class and Node's own (undici's, Node 20): from
// what Node's client did in a scenario, what hybi's must do. Each rule names the standard's section; README
// ("The WebSocket class against Node's own") lists them.

import type { ClientFrameRecord, ServerFrame, ServerRecord } from './scripted-server.js';
import { type ClientAction, describeCall, type TraceEntry } from './websocket-player.js';
import {
  closeArgumentOutcome,
  isProtocolError,
  PROTOCOL_ERROR_CODES,
  sendByteLength,
  type WebSocketScenario,
} from './websocket-scenarios.js';

/** What one client did in one scenario: its trace, and what the server saw (absent when nothing connected). */
export interface ClientRun {
  trace: TraceEntry[];
  record: ServerRecord | undefined;
}

/** The divergences, by name. */
export type WebSocketDivergenceName =
  | 'binary-type-nodebuffer'
  | 'binary-type-invalid-ignored'
  | 'buffered-amount-after-close'
  | 'error-when-closed'
  | 'close-after-failed-handshake'
  | 'failure-close-code'
  | 'failure-sends-close-frame'
  | 'close-reason-without-code'
  | 'pong-after-close'
  | 'utf8-checked-while-closing'
  | 'close-reply-echoes-reason'
  | 'unoffered-protocol-crash';

export interface WebSocketDivergence {
  /** What hybi does. */
  hybi: string;
  /** What Node 20's WebSocket (undici 6.24) does. */
  node: string;
  /** Who follows the standard, and where it says so. */
  standard: string;
}

/** Every divergence, described: the source of README's list. */
export const WEBSOCKET_DIVERGENCES: Record<WebSocketDivergenceName, WebSocketDivergence> = {
  'binary-type-nodebuffer': {
    hybi: "binaryType defaults to 'nodebuffer' and accepts it: binary messages are Buffers, not copied",
    node: "defaults to 'blob'; 'nodebuffer' sets 'blob'",
    standard:
      "a deliberate extension (WHATWG WebSockets §binaryType: 'blob' | 'arraybuffer', default 'blob')",
  },
  'binary-type-invalid-ignored': {
    hybi: 'assigning a value that is not a BinaryType leaves binaryType as it was',
    node: "sets 'blob'",
    standard:
      'hybi follows WebIDL §3.7.6 (an enumeration attribute ignores an invalid value); undici does not',
  },
  'buffered-amount-after-close': {
    hybi: 'send() after closing began adds the data’s size to bufferedAmount (and sends nothing)',
    node: 'returns without counting',
    standard:
      'hybi follows WHATWG WebSockets §send() ("must increase the bufferedAmount attribute" for every call that does not throw)',
  },
  'error-when-closed': {
    hybi: "'error' is dispatched right before 'close', with readyState CLOSED (3)",
    node: "dispatches 'error' where the failure is found (inside close() while connecting), readyState unchanged (0 or 1)",
    standard:
      'hybi follows WHATWG WebSockets §"Feedback from the protocol" (when the connection is closed: readyState CLOSED, then error if it was failed, then close)',
  },
  'close-after-failed-handshake': {
    hybi: "a handshake that fails (or is abandoned by close()) ends with 'error' then 'close' 1006",
    node: "dispatches 'error' (twice when abandoned) and never 'close'",
    standard:
      'hybi follows WHATWG WebSockets §"Feedback from the protocol" (the close event fires whenever the connection closes)',
  },
  'failure-close-code': {
    hybi: "after a protocol error, 'close' carries the code hybi sent (1002, 1007) and its reason, wasClean false",
    node: "'close' 1006 with an empty reason",
    standard:
      'a deliberate extension: RFC 6455 §7.1.5 and the standard give 1006 (no close frame was received); the code says why the connection failed',
  },
  'failure-sends-close-frame': {
    hybi: 'on a protocol error, sends a close frame with the code (1002, 1007) before closing TCP',
    node: 'closes TCP without a close frame (except for an invalid close code, where it sends 1002)',
    standard:
      'hybi follows RFC 6455 §7.1.7 (the endpoint SHOULD send a close frame with an appropriate code)',
  },
  'close-reason-without-code': {
    hybi: 'close(undefined, reason) sends code 1000 with the reason',
    node: 'sends a close frame without a body, dropping the reason',
    standard:
      'hybi follows WHATWG WebSockets §close() ("if reason is non-null but code is null, set code to 1000")',
  },
  'utf8-checked-while-closing': {
    hybi: 'fails with 1007 on a text message that is not UTF-8 even after close() was called (the message is not delivered)',
    node: 'drops text messages after close() without decoding them, and closes cleanly',
    standard:
      'hybi follows RFC 6455 §8.1 (invalid UTF-8 MUST fail the connection); the standard drops the message either way (WHATWG WebSockets §"Feedback from the protocol")',
  },
  'unoffered-protocol-crash': {
    hybi: 'a 101 that selects a subprotocol when the client offered none fails the connection (error, close 1006)',
    node: "throws an uncaught TypeError out of its handshake code (reading 'includes' of null): the process dies",
    standard:
      'hybi follows RFC 6455 §4.1 (the client MUST fail the connection) and the WHATWG establish steps',
  },
  'close-reply-echoes-reason': {
    hybi: "the reply to the server's close frame echoes its code and its reason",
    node: 'echoes the code only',
    standard:
      'both allowed (RFC 6455 §5.5.1: the reply typically echoes the status code); hybi does what ws and websocket-driver do',
  },
  'pong-after-close': {
    hybi: 'sends no pong after its close frame',
    node: 'answers a ping that arrives after its close frame',
    standard: 'both allowed; hybi keeps RFC 6455 §5.5.1 strictly: its close frame is the last frame it sends',
  },
};

/** Stands for "hybi's own words": a failure's close reason, which hybi writes and Node's client does not. */
export const ANY_REASON = "<hybi's reason>";

export interface Expectation {
  run: ClientRun;
  divergences: Set<WebSocketDivergenceName>;
}

type CallEntry = Extract<TraceEntry, { kind: 'call' }>;
type EventEntry = Extract<TraceEntry, { kind: 'event' }>;

const HYBI_BINARY_TYPES = new Set(['blob', 'arraybuffer', 'nodebuffer']);
const NODE_BINARY_TYPES = new Set(['blob', 'arraybuffer']);

/** hybi's binaryType and Node's after the same assignments. */
class BinaryTypes {
  hybi = 'nodebuffer';
  node = 'blob';

  assign(value: string): void {
    if (HYBI_BINARY_TYPES.has(value)) this.hybi = value;
    this.node = NODE_BINARY_TYPES.has(value) ? value : 'blob';
  }

  /** Which divergence makes them differ now, if they do. */
  get divergence(): WebSocketDivergenceName | undefined {
    if (this.hybi === this.node) return undefined;
    return this.hybi === 'nodebuffer' ? 'binary-type-nodebuffer' : 'binary-type-invalid-ignored';
  }
}

const DATA_TYPE_OF: Record<string, 'Buffer' | 'ArrayBuffer' | 'Blob'> = {
  nodebuffer: 'Buffer',
  arraybuffer: 'ArrayBuffer',
  blob: 'Blob',
};

/**
 * hybi's expected run in `scenario`, given Node's: Node's, with each divergence applied where it shows.
 * Nothing is skipped: a rule rewrites exactly what it explains, and everything else must be equal.
 */
export function expectHybiRun(scenario: WebSocketScenario, node: ClientRun): Expectation {
  const divergences = new Set<WebSocketDivergenceName>();
  const types = new BinaryTypes();
  if (scenario.plan.binaryType !== undefined) types.assign(scenario.plan.binaryType);
  /** Bytes passed to send() after closing began: in all, and since the current handler began. */
  let bytesAfterClose = 0;
  let bytesAfterCloseInHandler = 0;
  let handler = 'start';

  /** Rewrites one call as hybi makes it: binaryType, bufferedAmount. */
  const expectCall = (call: CallEntry): CallEntry => {
    const action = call.action;
    const expected = { ...call };
    if (action?.kind === 'set-binary-type') types.assign(action.value);
    // send() leaves readyState as it found it: CLOSING or CLOSED after means closing had begun before.
    if (call.at !== handler) {
      handler = call.at;
      bytesAfterCloseInHandler = 0;
    }
    if (action?.kind === 'send' && call.outcome === 'ok' && call.readyState >= 2) {
      const size = sendByteLength(action.data);
      bytesAfterClose += size;
      bytesAfterCloseInHandler += size;
      divergences.add('buffered-amount-after-close');
    }
    const binaryDivergence = types.divergence;
    if (binaryDivergence !== undefined) divergences.add(binaryDivergence);
    expected.binaryType = types.hybi;
    expected.bufferedAmountAdded += bytesAfterCloseInHandler;
    return expected;
  };
  const expectEvent = (event: EventEntry): EventEntry => {
    const expected = { ...event };
    if (event.bufferedAmount !== undefined) expected.bufferedAmount = event.bufferedAmount + bytesAfterClose;
    const data = event.data;
    if (data !== undefined && data.type !== 'string') {
      expected.data = { type: DATA_TYPE_OF[types.hybi]!, hex: 'hex' in data ? data.hex : '' };
      if (types.divergence !== undefined) divergences.add(types.divergence);
    }
    return expected;
  };

  if (node.trace.some((entry) => entry.kind === 'crash') && scenario.shape === 'refused') {
    divergences.add('unoffered-protocol-crash');
  }
  const isEstablished = node.trace.some((entry) => entry.kind === 'event' && entry.type === 'open');
  if (!isEstablished) return expectNotEstablished(scenario, node, divergences, expectCall);

  const trace: TraceEntry[] = [];
  let error: EventEntry | undefined;
  for (const entry of node.trace) {
    if (entry.kind === 'call') trace.push(expectCall(entry));
    else if (entry.kind !== 'event') trace.push(entry);
    else if (entry.type === 'error') {
      // Dispatched with 'close' (below), where the standard puts it.
      error = entry;
    } else if (entry.type === 'close') {
      const close = expectEvent(entry);
      if (error === undefined && hasInvalidUtf8(scenario) && firstEffectiveClose(node.trace) !== undefined) {
        divergences.add('utf8-checked-while-closing');
        trace.push({
          kind: 'event',
          type: 'error',
          readyState: 3,
          bufferedAmount: close.bufferedAmount,
          protocol: close.protocol,
        });
        close.code = 1007;
        close.reason = ANY_REASON;
        close.wasClean = false;
      }
      if (error !== undefined) {
        divergences.add('error-when-closed');
        trace.push({ ...error, readyState: 3, bufferedAmount: close.bufferedAmount });
        error = undefined;
        const failure = failureCode(scenario);
        if (failure !== undefined) {
          divergences.add('failure-close-code');
          close.code = failure;
          close.reason = ANY_REASON;
          close.wasClean = false;
        }
      }
      trace.push(close);
    } else trace.push(expectEvent(entry));
  }
  if (error !== undefined) trace.push(error);

  const record = node.record === undefined ? undefined : expectRecord(scenario, node, trace, divergences);
  return { run: { trace, record }, divergences };
}

function serverCloseFrame(scenario: WebSocketScenario): Extract<ServerFrame, { kind: 'close' }> | undefined {
  for (const step of scenario.script.steps) {
    if (step.kind !== 'write') continue;
    for (const frame of step.frames) if (frame.kind === 'close') return frame;
  }
  return undefined;
}

function hasInvalidUtf8(scenario: WebSocketScenario): boolean {
  return scenario.script.steps.some(
    (step) => step.kind === 'write' && step.frames.some((frame) => frame.kind === 'invalid-utf8'),
  );
}

/** The code hybi fails with on the scenario's first frame that breaks the protocol, if it has one. */
function failureCode(scenario: WebSocketScenario): number | undefined {
  for (const step of scenario.script.steps) {
    if (step.kind !== 'write') continue;
    for (const frame of step.frames) {
      if (isProtocolError(frame)) return PROTOCOL_ERROR_CODES[frame.kind];
    }
  }
  return undefined;
}

/**
 * A connection that never opened (refused, or abandoned by close()): the calls made meanwhile, then
 * 'error' and 'close' 1006 with readyState CLOSED, then the calls of the close handler.
 */
function expectNotEstablished(
  scenario: WebSocketScenario,
  node: ClientRun,
  divergences: Set<WebSocketDivergenceName>,
  expectCall: (call: CallEntry) => CallEntry,
): Expectation {
  const trace: TraceEntry[] = [];
  const startCalls = node.trace.filter(
    (entry): entry is CallEntry => entry.kind === 'call' && entry.at === 'start',
  );
  for (const call of startCalls) trace.push(expectCall(call));
  const nodeClose = node.trace.find(
    (entry): entry is EventEntry => entry.kind === 'event' && entry.type === 'close',
  );
  const nodeError = node.trace.find(
    (entry): entry is EventEntry => entry.kind === 'event' && entry.type === 'error',
  );
  const errorsBeforeCalls = node.trace.findIndex((entry) => entry.kind === 'event' && entry.type === 'error');
  let lastCall = -1;
  node.trace.forEach((entry, index) => {
    if (entry.kind === 'call' && entry.at === 'start') lastCall = index;
  });
  if (nodeError === undefined || nodeError.readyState !== 3 || errorsBeforeCalls < lastCall) {
    divergences.add('error-when-closed');
  }
  // The calls at construction all count from 0: the last says how much they added in all.
  const bufferedAmount = trace.length === 0 ? 0 : (trace[trace.length - 1] as CallEntry).bufferedAmountAdded;
  const base = { kind: 'event' as const, bufferedAmount, protocol: '', readyState: 3 };
  trace.push({ ...base, type: 'error' });
  trace.push({ ...base, type: 'close', code: 1006, reason: '', wasClean: false });
  if (nodeClose === undefined) {
    divergences.add('close-after-failed-handshake');
    for (const action of scenario.plan.onClose) trace.push(expectCall(closedCall(action)));
  } else {
    for (const entry of node.trace) {
      if (entry.kind === 'call' && entry.at === 'close') trace.push(expectCall(entry));
    }
  }
  // What an abandoned client wrote before it gave up depends on how far its TCP connect had come.
  const record =
    scenario.shape === 'abandoned' || node.record === undefined
      ? undefined
      : { request: node.record.request, frames: [], trailingBytes: 0 };
  return { run: { trace, record }, divergences };
}

/** A call made in the close handler of a connection that never opened, as the standard has it end. */
function closedCall(action: ClientAction): CallEntry {
  const outcome = action.kind === 'close' ? closeArgumentOutcome(action.code, action.reason) : 'ok';
  return {
    kind: 'call',
    at: 'close',
    call: describeCall(action),
    action,
    outcome,
    readyState: 3,
    bufferedAmountAdded: 0,
    binaryType: '',
  };
}

/** What the server must have seen from hybi: Node's client's frames, with the divergences applied. */
function expectRecord(
  scenario: WebSocketScenario,
  node: ClientRun,
  trace: readonly TraceEntry[],
  divergences: Set<WebSocketDivergenceName>,
): ServerRecord {
  const record = node.record!;
  let frames: ClientFrameRecord[] = [...record.frames];
  const isClose = (frame: ClientFrameRecord) => frame.opcode === 0x8;

  // close(undefined, reason): Node's client sends no body; the standard code 1000 and the reason.
  const firstClose = firstEffectiveClose(node.trace);
  const closeIndex = frames.findIndex(isClose);
  if (
    firstClose?.kind === 'close' &&
    firstClose.code === undefined &&
    firstClose.reason !== undefined &&
    closeIndex !== -1 &&
    frames[closeIndex]!.payload === ''
  ) {
    divergences.add('close-reason-without-code');
    frames[closeIndex] = {
      ...frames[closeIndex]!,
      payload: `1000 ${Buffer.from(firstClose.reason, 'utf8').toString('utf8')}`,
    };
    // The scripted server echoes the code: hybi hears 1000 where Node's client heard 1005.
    const hasServerClose = scenario.script.steps.some(
      (step) => step.kind === 'write' && step.frames.some((frame) => frame.kind === 'close'),
    );
    const close = [...trace].reverse().find((entry) => entry.kind === 'event' && entry.type === 'close') as
      | EventEntry
      | undefined;
    if (!hasServerClose && close !== undefined && close.code === 1005) close.code = 1000;
  }

  const failure = failureCode(scenario);
  const nodeFailed = node.trace.some((entry) => entry.kind === 'event' && entry.type === 'error');
  if (failure !== undefined && nodeFailed) {
    // Node's client sends 1002 with its own reason for an invalid close code, and nothing otherwise.
    const failureFrame = frames.findIndex(
      (frame) => isClose(frame) && frame.payload.startsWith('1002 Invalid'),
    );
    if (failureFrame !== -1) frames.splice(failureFrame, 1);
    if (!frames.some(isClose)) {
      divergences.add('failure-sends-close-frame');
      frames.push({ isFinal: true, rsv: 0, opcode: 0x8, hasMask: true, payload: `${failure} ` });
    }
  }

  // The reply to the server's close frame: Node's client echoes the code, hybi the reason too.
  const serverClose = serverCloseFrame(scenario);
  const replyIndex = frames.findIndex(isClose);
  if (
    serverClose?.code !== undefined &&
    (serverClose.reason ?? '') !== '' &&
    replyIndex !== -1 &&
    frames[replyIndex]!.payload === `${serverClose.code} ` &&
    firstEffectiveClose(node.trace) === undefined
  ) {
    divergences.add('close-reply-echoes-reason');
    frames[replyIndex] = { ...frames[replyIndex]!, payload: `${serverClose.code} ${serverClose.reason}` };
  }

  // Nothing after hybi's close frame: Node's client still answers pings.
  const clientClose = frames.findIndex(isClose);
  if (clientClose !== -1) {
    const after = frames.slice(clientClose + 1);
    if (after.some((frame) => frame.opcode === 0xa)) {
      divergences.add('pong-after-close');
      frames = [...frames.slice(0, clientClose + 1), ...after.filter((frame) => frame.opcode !== 0xa)];
    }
  }
  return { request: record.request, frames, trailingBytes: record.trailingBytes };
}

/** The first close() that started the closing handshake: valid arguments, made while OPEN. */
function firstEffectiveClose(trace: readonly TraceEntry[]): ClientAction | undefined {
  let readyState = 0;
  for (const entry of trace) {
    if (entry.kind === 'event') {
      readyState = entry.readyState;
      continue;
    }
    if (entry.kind !== 'call') continue;
    if (entry.action?.kind === 'close' && entry.outcome === 'ok' && readyState === 1) return entry.action;
    readyState = entry.readyState;
  }
  return undefined;
}

/** `actual` with hybi's own failure reasons replaced where the expectation leaves them free. */
export function withFreeReasons(actual: ClientRun, expected: ClientRun): ClientRun {
  const trace = actual.trace.map((entry, index) => {
    const wanted = expected.trace[index];
    if (entry.kind === 'event' && wanted?.kind === 'event' && wanted.reason === ANY_REASON) {
      return { ...entry, reason: ANY_REASON };
    }
    return entry;
  });
  return { trace, record: actual.record };
}
