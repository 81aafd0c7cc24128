// Owns the client half of the WebSocket-class differential: a plan of API calls tied to events, played on any
// WHATWG-style WebSocket constructor (hybi's, or Node's own in a child process), and the trace it leaves.
// It imports nothing from hybi, so that the same code drives both implementations.

/** Data for send(), as plain data so that a plan crosses a process boundary. */
export type SendData =
  | { type: 'text'; text: string }
  | { type: 'arraybuffer' | 'uint8array' | 'dataview' | 'blob'; bytes: number[] };

/** One call the client makes. */
export type ClientAction =
  | { kind: 'send'; data: SendData }
  | { kind: 'close'; code?: number | undefined; reason?: string | undefined }
  | { kind: 'set-binary-type'; value: string };

/** What the client does, and when: right after construction, in the 'open' handler, at the n-th message, at 'close'. */
export interface ClientPlan {
  protocols: string[] | undefined;
  /** Set right after construction; undefined leaves the implementation's default. */
  binaryType: string | undefined;
  atStart: ClientAction[];
  onOpen: ClientAction[];
  /** `onMessage[i]`: what the client does in the handler of the i-th message (0-based). */
  onMessage: ClientAction[][];
  onClose: ClientAction[];
}

/** A message's data as the application received it. */
export type DataRecord =
  | { type: 'string'; value: string }
  | { type: 'ArrayBuffer' | 'Blob' | 'Buffer' | 'other'; hex: string };

/** One observable moment: an event as dispatched, or a call and what it did. */
export type TraceEntry =
  | {
      kind: 'event';
      type: string;
      readyState: number;
      /**
       * At dispatch; not recorded for 'message', where it depends on how the bytes were cut (sends made by
       * the handler of a message that came in the same socket read are still counted, in both clients).
       */
      bufferedAmount?: number | undefined;
      protocol: string;
      data?: DataRecord | undefined;
      code?: number | undefined;
      reason?: string | undefined;
      wasClean?: boolean | undefined;
    }
  | {
      kind: 'call';
      /** Where it was made: 'start', 'open', 'message 0', 'close'. */
      at: string;
      call: string;
      /** The call as data (absent for the constructor). */
      action?: ClientAction | undefined;
      /** 'ok', or the name of what it threw (a DOMException's name, else the constructor's). */
      outcome: string;
      readyState: number;
      /** How much bufferedAmount grew since the handler (or the construction) began. */
      bufferedAmountAdded: number;
      binaryType: string;
    }
  /** The server saw the connection end and no 'close' followed (a failed handshake in Node 20's undici). */
  | { kind: 'no-close' }
  /** The implementation threw out of its own code (an uncaught exception), with this message. */
  | { kind: 'crash'; message: string }
  /** Neither 'close' nor the connection's end came within the plan's time limit: a hang. */
  | { kind: 'timeout' };

/** The subset of a WHATWG WebSocket the player uses. */
export interface WebSocketLike extends EventTarget {
  readonly readyState: number;
  readonly bufferedAmount: number;
  readonly protocol: string;
  binaryType: string;
  send(data: unknown): unknown;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string, protocols?: string[]) => WebSocketLike;

/** How long a plan may take before the player gives up and records a timeout (a hang is a finding). */
const PLAN_TIMEOUT_MS = 5000;

/**
 * After the server saw the connection end, how long 'close' may take to be dispatched before the player
 * records that it never came. A bound on waiting for an event that should already have happened.
 */
const CLOSE_GRACE_MS = 25;

/** After 'close', how long the player still listens, so that an event dispatched after it is recorded. */
const AFTER_CLOSE_MS = 5;

function toSendable(data: SendData): unknown {
  if (data.type === 'text') return data.text;
  const bytes = Uint8Array.from(data.bytes);
  switch (data.type) {
    case 'arraybuffer':
      return bytes.buffer;
    case 'uint8array':
      return bytes;
    case 'dataview':
      return new DataView(bytes.buffer);
    case 'blob':
      return new Blob([bytes]);
  }
}

export function describeCall(action: ClientAction): string {
  switch (action.kind) {
    case 'send':
      return action.data.type === 'text'
        ? `send(text ${JSON.stringify(action.data.text)})`
        : `send(${action.data.type} ${Buffer.from(action.data.bytes).toString('hex')})`;
    case 'close': {
      const args = [action.code === undefined ? undefined : String(action.code)];
      if (action.reason !== undefined) args.push(JSON.stringify(action.reason));
      return `close(${args
        .map((arg) => arg ?? 'undefined')
        .join(', ')
        .replace(/^undefined$/, '')})`;
    }
    case 'set-binary-type':
      return `binaryType = ${JSON.stringify(action.value)}`;
  }
}

function nameOf(error: unknown): string {
  if (error instanceof DOMException) return error.name;
  if (error instanceof Error) return error.constructor.name;
  return typeof error;
}

function hexOf(bytes: ArrayBuffer | Uint8Array): string {
  return Buffer.from(bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : bytes).toString('hex');
}

/**
 * Opens `url` with `WebSocketClass`, makes the plan's calls at their moments, and resolves with the trace
 * once 'close' has been dispatched and a turn of the event loop has passed (so that a late event shows),
 * or once `serverGone` (the server saw the connection end) resolved and no 'close' followed, or once
 * `crashed` says the implementation threw an uncaught exception.
 */
export async function playPlan(
  WebSocketClass: WebSocketConstructor,
  url: string,
  plan: ClientPlan,
  serverGone: Promise<void>,
  crashed: Promise<string> = new Promise(() => {}),
): Promise<TraceEntry[]> {
  const trace: TraceEntry[] = [];
  const reads: Promise<void>[] = [];
  let socket: WebSocketLike;
  try {
    socket = plan.protocols === undefined ? new WebSocketClass(url) : new WebSocketClass(url, plan.protocols);
  } catch (error) {
    const outcome = nameOf(error);
    return [
      {
        kind: 'call',
        at: 'start',
        call: 'new WebSocket',
        outcome,
        readyState: -1,
        bufferedAmountAdded: 0,
        binaryType: '',
      },
    ];
  }
  const act = (at: string, actions: readonly ClientAction[]) => {
    const baseline = socket.bufferedAmount;
    for (const action of actions) {
      let outcome = 'ok';
      try {
        if (action.kind === 'send') socket.send(toSendable(action.data));
        else if (action.kind === 'close') {
          if (action.reason !== undefined) socket.close(action.code, action.reason);
          else if (action.code !== undefined) socket.close(action.code);
          else socket.close();
        } else socket.binaryType = action.value;
      } catch (error) {
        outcome = nameOf(error);
      }
      trace.push({
        kind: 'call',
        at,
        call: describeCall(action),
        action,
        outcome,
        readyState: socket.readyState,
        bufferedAmountAdded: socket.bufferedAmount - baseline,
        binaryType: socket.binaryType,
      });
    }
  };
  const record = (event: Event, extra: Partial<Extract<TraceEntry, { kind: 'event' }>> = {}) => {
    const entry: TraceEntry = {
      kind: 'event',
      type: event.type,
      readyState: socket.readyState,
      bufferedAmount: event.type === 'message' ? undefined : socket.bufferedAmount,
      protocol: socket.protocol,
      ...extra,
    };
    trace.push(entry);
    return entry;
  };

  let messageCount = 0;
  let isClosed = false;
  const finished = new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      trace.push({ kind: 'timeout' });
      resolve();
    }, PLAN_TIMEOUT_MS);
    void crashed.then((message) => {
      if (isClosed) return;
      isClosed = true;
      clearTimeout(timer);
      trace.push({ kind: 'crash', message });
      resolve();
    });
    void serverGone.then(() =>
      setTimeout(() => {
        if (isClosed) return;
        clearTimeout(timer);
        trace.push({ kind: 'no-close' });
        resolve();
      }, CLOSE_GRACE_MS),
    );
    socket.addEventListener('open', (event) => {
      record(event);
      act('open', plan.onOpen);
    });
    socket.addEventListener('message', (event) => {
      const data: unknown = (event as MessageEvent).data;
      let record_: DataRecord;
      if (typeof data === 'string') record_ = { type: 'string', value: data };
      else if (Buffer.isBuffer(data)) record_ = { type: 'Buffer', hex: hexOf(data) };
      else if (data instanceof ArrayBuffer) record_ = { type: 'ArrayBuffer', hex: hexOf(data) };
      else if (data instanceof Blob) {
        const blobRecord: DataRecord = { type: 'Blob', hex: '' };
        record_ = blobRecord;
        reads.push(
          data.arrayBuffer().then((buffer) => {
            blobRecord.hex = hexOf(buffer);
          }),
        );
      } else record_ = { type: 'other', hex: String(data) };
      record(event, { data: record_ });
      const index = messageCount++;
      act(`message ${index}`, plan.onMessage[index] ?? []);
    });
    socket.addEventListener('error', (event) => {
      record(event);
    });
    socket.addEventListener('close', (event) => {
      const close = event as Event & { code: number; reason: string; wasClean: boolean };
      record(event, { code: close.code, reason: close.reason, wasClean: close.wasClean });
      act('close', plan.onClose);
      if (isClosed) return;
      isClosed = true;
      clearTimeout(timer);
      setTimeout(resolve, AFTER_CLOSE_MS);
    });
  });
  if (plan.binaryType !== undefined) socket.binaryType = plan.binaryType;
  act('start', plan.atStart);
  await finished;
  await Promise.all(reads);
  if (!isClosed) {
    try {
      socket.close();
    } catch {
      // Only the trace matters now.
    }
  }
  return trace;
}
