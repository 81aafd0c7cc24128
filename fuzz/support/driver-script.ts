// Owns the scripts the driver differential plays: what the application does with a driver and what the
// peer sends, as plain data, and the player that runs one script on websocket-driver 0.8 or on hybi and
// records, step by step, what each one did (events, return values, readyState, protocol, bytes written).

import fc from 'fast-check';
import * as hybi from '../../src/index.js';
import { computeAcceptKey } from '../../src/protocol/index.js';
import { rawUpgradeRequest, UPGRADE_KEY, upgradeRequest } from '../../test/support/upgrade-request.js';
import { faye } from '../../test/support/websocket-driver.js';
import { type ChunkSplitter, chunkSplitterArbitrary, splitChunks } from '../arbitraries/chunks.js';
import {
  closeReasonArbitrary,
  invalidCloseCodeArbitrary,
  validCloseCodeArbitrary,
} from '../arbitraries/close.js';
import { encodeFrame } from '../arbitraries/frames.js';
import { tokenizeFrames } from './frame-tokenizer.js';
import { hex } from './outcome.js';

/** Which driver the script makes: `http()` (request parsed by node:http), `server()` (raw socket) or `client()`. */
export type DriverMode = 'http' | 'server' | 'client';
export type LibraryName = 'websocket-driver' | 'hybi';

/** A call the application makes on its driver. */
export type AppAction =
  | { kind: 'text'; data: string }
  | { kind: 'binary'; data: number[] }
  | { kind: 'binary-string'; data: string }
  | { kind: 'ping'; payload: string | undefined; withCallback: boolean }
  | { kind: 'pong'; payload: string | undefined }
  | { kind: 'close'; reason: string | undefined; code: number | undefined }
  | { kind: 'messages-write'; data: string | number[] }
  | { kind: 'pause' }
  | { kind: 'resume' };

/** A frame (or a fragmented message) the peer queues; it reaches the driver at the next `deliver`. */
export type PeerFrame =
  | { kind: 'text'; data: string; cuts: number[]; pingBetween: boolean }
  | { kind: 'binary'; data: number[] }
  | { kind: 'ping'; payload: string }
  | { kind: 'pong'; payload: string }
  | { kind: 'close'; code: number | undefined; reason: string };

export type Step =
  | { kind: 'app'; action: AppAction }
  | { kind: 'start' }
  /** Client mode: the server's 101 answer, choosing `protocol` (maybe one the client did not offer). */
  | { kind: 'respond'; protocol: string | undefined }
  | { kind: 'peer'; frame: PeerFrame }
  /** Everything the peer queued reaches the driver's `io`, cut into chunks by `splitter`. */
  | { kind: 'deliver'; splitter: ChunkSplitter }
  /** The transport ends: `io.end()`, as a piped socket that closed does. Always the last step. */
  | { kind: 'end-transport' }
  /** One frame breaking RFC 6455 §5.1's masking rule, delivered alone. Always the last step. */
  | { kind: 'violation'; data: string };

export interface DriverScript {
  mode: DriverMode;
  /** Server: the subprotocols it supports; client: the ones it offers. */
  protocols: string[];
  /** Server modes: what the client offers. */
  offeredProtocols: string[];
  /** The application listens to `messages` (made at once) instead of only to 'message'. */
  usesMessages: boolean;
  /** Run in the listener of each event, for the first `messageHandlerRuns` messages for 'message'. */
  onConnect: AppAction[];
  onOpen: AppAction[];
  onMessage: AppAction[];
  messageHandlerRuns: number;
  onClose: AppAction[];
  steps: Step[];
}

/** What one step (or the setup before it) did, as comparable text. */
export interface StepObservation {
  step: string;
  /**
   * Events, return values and what the driver wrote (`wrote …`: its HTTP head normalized, then frames
   * unmasked), in the order they happened.
   */
  log: string[];
  readyState: number;
  protocol: string | null | undefined;
}

// --- arbitraries ----------------------------------------------------------------------------------

const PROTOCOL_NAMES = ['chat', 'superchat', 'v2'];
const payloadArbitrary = fc.string({ maxLength: 8 });

function appActionArbitrary(): fc.Arbitrary<AppAction> {
  return fc.oneof(
    listenerActionArbitrary(),
    fc.constant<AppAction>({ kind: 'pause' }),
    fc.constant<AppAction>({ kind: 'resume' }),
  );
}

/**
 * What a listener may do: everything but pause and resume, whose effect inside a delivery (hybi stops
 * delivering at once, websocket-driver never does, divergence `pause-holds-input`) the rules do not model.
 */
function listenerActionArbitrary(): fc.Arbitrary<AppAction> {
  return fc.oneof(
    {
      weight: 4,
      arbitrary: fc
        .string({ unit: 'binary', maxLength: 12 })
        .map((data): AppAction => ({ kind: 'text', data })),
    },
    {
      weight: 2,
      arbitrary: fc.array(fc.nat(255), { maxLength: 8 }).map((data): AppAction => ({ kind: 'binary', data })),
    },
    fc.string({ maxLength: 6 }).map((data): AppAction => ({ kind: 'binary-string', data })),
    {
      weight: 2,
      arbitrary: fc
        .record({
          payload: fc.option(fc.constantFrom('', 'a', 'b', 'hello'), { nil: undefined }),
          withCallback: fc.boolean(),
        })
        .map((ping): AppAction => ({ kind: 'ping', ...ping })),
    },
    fc.option(payloadArbitrary, { nil: undefined }).map((payload): AppAction => ({ kind: 'pong', payload })),
    fc
      .record({
        reason: fc.option(closeReasonArbitrary(), { nil: undefined }),
        code: fc.option(validCloseCodeArbitrary(), { nil: undefined }),
      })
      .map((close): AppAction => ({ kind: 'close', ...close })),
    fc
      .oneof(fc.string({ maxLength: 8 }), fc.array(fc.nat(255), { maxLength: 6 }))
      .map((data): AppAction => ({ kind: 'messages-write', data })),
  );
}

/**
 * Keeps pauses where the rules model them: only once the handshake is done, and with only the peer
 * and deliveries until the resume (a resume is added before the end if the script has none).
 */
function placePauses(steps: readonly Step[], mode: DriverMode): Step[] {
  const placed: Step[] = [];
  let isHandshakeDone = false;
  let hasResponse = false;
  let isPaused = false;
  for (const step of steps) {
    const isPauseStep =
      step.kind === 'app' && (step.action.kind === 'pause' || step.action.kind === 'resume');
    if (isPauseStep && step.action.kind === 'pause') {
      if (!isHandshakeDone || isPaused) continue;
      isPaused = true;
    } else if (isPauseStep) {
      if (!isPaused) continue;
      isPaused = false;
    } else if (isPaused && step.kind === 'app') {
      continue;
    }
    if (step.kind === 'end-transport' || step.kind === 'violation') {
      if (isPaused) placed.push({ kind: 'app', action: { kind: 'resume' } });
      isPaused = false;
    }
    placed.push(step);
    if (step.kind === 'respond') hasResponse = true;
    if (mode === 'http' && step.kind === 'start') isHandshakeDone = true;
    if (mode === 'server' && step.kind === 'deliver') isHandshakeDone = true;
    if (mode === 'client' && step.kind === 'deliver' && hasResponse) isHandshakeDone = true;
  }
  if (isPaused) placed.push({ kind: 'app', action: { kind: 'resume' } });
  return placed;
}

function peerFrameArbitrary(): fc.Arbitrary<PeerFrame> {
  return fc.oneof(
    {
      weight: 4,
      arbitrary: fc
        .record({
          data: fc.string({ unit: 'grapheme', maxLength: 10 }),
          cuts: fc.array(fc.nat(40), { maxLength: 2 }),
          pingBetween: fc.boolean(),
        })
        .map((text): PeerFrame => ({ kind: 'text', ...text })),
    },
    fc.array(fc.nat(255), { maxLength: 8 }).map((data): PeerFrame => ({ kind: 'binary', data })),
    {
      weight: 2,
      arbitrary: fc
        .constantFrom('', 'a', 'b', 'hello')
        .map((payload): PeerFrame => ({ kind: 'ping', payload })),
    },
    fc.constantFrom('', 'a', 'b', 'hello').map((payload): PeerFrame => ({ kind: 'pong', payload })),
    {
      weight: 2,
      arbitrary: fc
        .record({
          code: fc.option(
            fc.oneof({ weight: 4, arbitrary: validCloseCodeArbitrary() }, invalidCloseCodeArbitrary()),
            {
              nil: undefined,
            },
          ),
          reason: closeReasonArbitrary(),
        })
        .map((close): PeerFrame => ({ kind: 'close', ...close })),
    },
  );
}

function middleStepArbitrary(): fc.Arbitrary<Step> {
  return fc.oneof(
    { weight: 3, arbitrary: appActionArbitrary().map((action): Step => ({ kind: 'app', action })) },
    { weight: 4, arbitrary: peerFrameArbitrary().map((frame): Step => ({ kind: 'peer', frame })) },
    {
      weight: 3,
      arbitrary: chunkSplitterArbitrary().map((splitter): Step => ({ kind: 'deliver', splitter })),
    },
  );
}

/**
 * A script for `mode`: application calls before and after `start()` and in the 'connect', 'open',
 * 'message' and 'close' listeners; peer frames delivered in any chunking, coalesced or not, the peer
 * closing first or answering; and maybe the transport ending or a masking violation at the end.
 *
 * The peer sends frames only once the driver has answered the handshake (server modes) or in the same
 * bytes as its 101 (client mode): frames before the server's 101 are the divergence
 * `early-frames-wait-for-open`, checked by its own test rather than generated.
 */
export function driverScriptArbitrary(mode: DriverMode): fc.Arbitrary<DriverScript> {
  const actions = (maxLength: number) => fc.array(appActionArbitrary(), { maxLength });
  const listenerActions = (maxLength: number) => fc.array(listenerActionArbitrary(), { maxLength });
  return fc
    .record({
      protocols: fc.shuffledSubarray(PROTOCOL_NAMES),
      offeredProtocols: fc.shuffledSubarray(PROTOCOL_NAMES),
      usesMessages: fc.boolean(),
      beforeStart: actions(3),
      afterStart: actions(2),
      onConnect: listenerActions(2),
      onOpen: listenerActions(3),
      onMessage: listenerActions(2),
      messageHandlerRuns: fc.integer({ min: 0, max: 2 }),
      onClose: listenerActions(2),
      respondWith: fc.option(fc.constantFrom(...PROTOCOL_NAMES), { nil: undefined }),
      requestSplitter: chunkSplitterArbitrary(),
      middle: fc.array(middleStepArbitrary(), { maxLength: 14 }),
      lastDeliver: chunkSplitterArbitrary(),
      ending: fc.constantFrom('none', 'none', 'end-transport', 'violation'),
      violationData: fc.string({ maxLength: 4 }),
    })
    .map((parts): DriverScript => {
      const app = (list: AppAction[]): Step[] => list.map((action) => ({ kind: 'app', action }));
      const steps: Step[] = [];
      if (mode === 'server') {
        // The request head arrives alone; 'connect' runs onConnect then start(), as in websocket-driver's README.
        steps.push({ kind: 'deliver', splitter: parts.requestSplitter });
      } else {
        steps.push(...app(parts.beforeStart), { kind: 'start' }, ...app(parts.afterStart));
        if (mode === 'client') steps.push({ kind: 'respond', protocol: parts.respondWith });
      }
      steps.push(...parts.middle, { kind: 'deliver', splitter: parts.lastDeliver });
      if (parts.ending === 'end-transport') steps.push({ kind: 'end-transport' });
      if (parts.ending === 'violation') steps.push({ kind: 'violation', data: parts.violationData });
      return {
        mode,
        protocols: parts.protocols,
        offeredProtocols: parts.offeredProtocols,
        usesMessages: parts.usesMessages,
        onConnect:
          mode === 'server'
            ? [...parts.beforeStart, ...parts.onConnect].filter(
                (action) => action.kind !== 'pause' && action.kind !== 'resume',
              )
            : [],
        onOpen: parts.onOpen,
        onMessage: parts.onMessage,
        messageHandlerRuns: parts.messageHandlerRuns,
        onClose: parts.onClose,
        steps: placePauses(steps, mode),
      };
    });
}

// --- the player -----------------------------------------------------------------------------------

/** The API both libraries share, as the player calls it. */
interface Subject {
  readyState: number;
  protocol: string | null | undefined;
  readonly io: NodeJS.EventEmitter & { write(chunk: Buffer): boolean; end(): void };
  readonly messages: NodeJS.EventEmitter & {
    write(message: string | Buffer): boolean;
    pause(): void;
    resume(): void;
  };
  start(): boolean;
  text(message: string): boolean;
  binary(message: Buffer | string): boolean;
  ping(message?: string, callback?: () => void): boolean;
  pong(message?: string): boolean;
  close(reason?: string, code?: number): boolean;
  on(event: string, listener: (event: { data?: unknown; code?: number; reason?: string }) => void): unknown;
}

/** The peer's masking key (server modes): the same bytes go to both libraries. */
const PEER_MASK = Uint8Array.from([0x37, 0xfa, 0x21, 0x3d]);

function makeSubject(library: LibraryName, script: DriverScript): Subject {
  const protocolOptions = script.protocols.length === 0 ? {} : { protocols: script.protocols };
  const offer =
    script.offeredProtocols.length === 0
      ? {}
      : { 'sec-websocket-protocol': script.offeredProtocols.join(', ') };
  const module = (library === 'hybi' ? hybi : faye) as unknown as {
    http(request: object, options: object): Subject;
    server(options: object): Subject;
    client(url: string, options: object): Subject;
  };
  if (script.mode === 'http') return module.http(upgradeRequest(offer, '/chat?room=1'), protocolOptions);
  if (script.mode === 'server') return module.server(protocolOptions);
  return module.client('ws://example.com/chat?room=1', protocolOptions);
}

/**
 * websocket-driver's `server()` is a wrapper that hands the connection to an inner driver once the head
 * is parsed and never updates its own readyState (it stays 0): the inner one's is the connection's
 * state (divergence `raw-server-ready-state`).
 */
function readyStateOf(library: LibraryName, subject: Subject): number {
  if (library === 'websocket-driver') {
    const delegate = (subject as unknown as { _delegate?: { readyState: number } })._delegate;
    if (delegate !== undefined) return delegate.readyState;
  }
  return subject.readyState;
}

function describeData(data: unknown): string {
  if (typeof data === 'string') return `text ${JSON.stringify(data)}`;
  if (Buffer.isBuffer(data)) return `binary ${hex(data)}`;
  return `unexpected ${String(data)}`;
}

/** An application call as the player logs it. */
export function describeAction(action: AppAction): string {
  switch (action.kind) {
    case 'text':
    case 'binary-string':
      return `${action.kind}(${JSON.stringify(action.data)})`;
    case 'binary':
      return `binary(${hex(Uint8Array.from(action.data))})`;
    case 'ping':
      return `ping(${JSON.stringify(action.payload)}${action.withCallback ? ', callback' : ''})`;
    case 'pong':
      return `pong(${JSON.stringify(action.payload)})`;
    case 'close':
      return `close(${JSON.stringify(action.reason)}, ${action.code})`;
    case 'messages-write':
      return `messages.write(${typeof action.data === 'string' ? JSON.stringify(action.data) : hex(Uint8Array.from(action.data))})`;
    default:
      return `messages.${action.kind}()`;
  }
}

export function describeStep(step: Step): string {
  switch (step.kind) {
    case 'app':
      return describeAction(step.action);
    case 'peer':
      return `peer queues ${JSON.stringify(step.frame)}`;
    case 'deliver':
      return `deliver ${JSON.stringify(step.splitter)}`;
    case 'respond':
      return `peer queues its 101 (protocol ${String(step.protocol)})`;
    case 'violation':
      return `peer sends a frame with the wrong mask bit (${JSON.stringify(step.data)})`;
    default:
      return step.kind;
  }
}

/** The frames of `frame` as the peer sends them (masked toward a server, RFC 6455 §5.3). */
export function peerBytes(frame: PeerFrame, toServer: boolean): Buffer[] {
  const maskingKey = toServer ? PEER_MASK : undefined;
  const one = (opcode: number, payload: Uint8Array, isFinal = true) =>
    encodeFrame({ isFinal, rsv: 0, opcode, payload, maskingKey });
  switch (frame.kind) {
    case 'text': {
      const bytes = Buffer.from(frame.data, 'utf8');
      const cuts = [...new Set(frame.cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
      const bounds = [0, ...cuts, bytes.length];
      const frames: Buffer[] = [];
      for (let index = 0; index + 1 < bounds.length; index++) {
        const isFinal = index + 2 === bounds.length;
        frames.push(one(index === 0 ? 1 : 0, bytes.subarray(bounds[index], bounds[index + 1]), isFinal));
        // RFC 6455 §5.4: control frames may come between the fragments of a message.
        if (!isFinal && frame.pingBetween) frames.push(one(9, Buffer.from('between')));
      }
      return frames;
    }
    case 'binary':
      return [one(2, Uint8Array.from(frame.data))];
    case 'ping':
      return [one(9, Buffer.from(frame.payload))];
    case 'pong':
      return [one(10, Buffer.from(frame.payload))];
    case 'close': {
      if (frame.code === undefined) return [one(8, new Uint8Array(0))];
      const reason = Buffer.from(frame.reason, 'utf8');
      const payload = Buffer.alloc(2 + reason.length);
      payload.writeUInt16BE(frame.code, 0);
      reason.copy(payload, 2);
      return [one(8, payload)];
    }
  }
}

/** Reads what a driver writes: first its HTTP head, then frames (a partial frame waits for the rest). */
class OutputReader {
  private pending = Buffer.alloc(0);
  private hasHead = false;

  read(chunk: Buffer): string[] {
    this.pending = Buffer.concat([this.pending, chunk]);
    const out: string[] = [];
    if (!this.hasHead) {
      const end = this.pending.indexOf('\r\n\r\n');
      if (end === -1) return out;
      out.push(normalizeHead(this.pending.toString('latin1', 0, end)));
      this.pending = this.pending.subarray(end + 4);
      this.hasHead = true;
      // A refusal (400, 426) may carry a body; it is part of the refusal, not frames.
      if (!out[0]!.startsWith('HTTP/1.1 101') && !out[0]!.startsWith('GET')) {
        if (this.pending.length > 0) out.push('http body');
        this.pending = Buffer.alloc(0);
        this.hasHead = false;
        return out;
      }
    }
    let offset = 0;
    for (const frame of tokenizeFrames(this.pending)) {
      if (!frame.isComplete) break;
      offset = frame.end;
      out.push(describeFrame(frame.opcode, frame.isFinal, frame.rsv, frame.hasMask, frame.payload));
    }
    this.pending = this.pending.subarray(offset);
    return out;
  }
}

/** The head with its header lines sorted and lowercased, the client's random key and the accept hidden. */
function normalizeHead(head: string): string {
  const [startLine, ...lines] = head.split('\r\n');
  const fields = lines
    .map((line) => {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      return name === 'sec-websocket-key' ? `${name}: <key>` : `${name}: ${value}`;
    })
    .sort();
  return `${startLine} | ${fields.join(' | ')}`;
}

function describeFrame(
  opcode: number,
  isFinal: boolean,
  rsv: number,
  hasMask: boolean,
  payload: Buffer,
): string {
  const flags = `${isFinal ? '' : 'non-final '}${rsv === 0 ? '' : `rsv ${rsv} `}${hasMask ? 'masked ' : ''}`;
  if (opcode === 8) {
    if (payload.length < 2) return `${flags}close frame ${hex(payload)}`;
    return `${flags}close frame ${payload.readUInt16BE(0)} ${JSON.stringify(payload.toString('utf8', 2))}`;
  }
  const name =
    ['continuation', 'text', 'binary'][opcode] ??
    (opcode === 9 ? 'ping' : opcode === 10 ? 'pong' : `opcode ${opcode}`);
  return `${flags}${name} frame ${opcode === 1 ? JSON.stringify(payload.toString('utf8')) : hex(payload)}`;
}

/** Plays `script` on `library`: one observation for the setup, then one per step. */
export function playScript(library: LibraryName, script: DriverScript): StepObservation[] {
  const subject = makeSubject(library, script);
  const isClient = script.mode === 'client';
  let log: string[] = [];
  const reader = new OutputReader();
  let request = '';
  subject.io.on('data', (chunk: Buffer) => {
    if (isClient && request === '') request = chunk.toString('latin1');
    for (const entry of reader.read(Buffer.from(chunk))) log.push(`wrote ${entry}`);
  });
  let callbackCount = 0;
  const run = (action: AppAction): void => {
    let result: boolean;
    switch (action.kind) {
      case 'text':
        result = subject.text(action.data);
        break;
      case 'binary':
        result = subject.binary(Buffer.from(action.data));
        break;
      case 'binary-string':
        result = subject.binary(action.data);
        break;
      case 'ping': {
        // Callbacks are numbered as they are registered (a refused ping registers none).
        const id = callbackCount + 1;
        const callback = () => log.push(`ping callback #${id}`);
        result = action.withCallback ? subject.ping(action.payload, callback) : subject.ping(action.payload);
        if (action.withCallback && result) callbackCount = id;
        log.push(`${describeAction(action)}${action.withCallback && result ? ` #${id}` : ''} -> ${result}`);
        return;
      }
      case 'pong':
        result = subject.pong(action.payload);
        break;
      case 'close':
        result = subject.close(action.reason, action.code);
        break;
      case 'messages-write':
        result = subject.messages.write(
          typeof action.data === 'string' ? action.data : Buffer.from(action.data),
        );
        break;
      case 'pause':
        subject.messages.pause();
        log.push('messages.pause()');
        return;
      case 'resume':
        subject.messages.resume();
        log.push('messages.resume()');
        return;
    }
    log.push(`${describeAction(action)} -> ${result}`);
  };
  const runAll = (actions: readonly AppAction[]) => {
    for (const action of actions) run(action);
  };

  let messageRuns = 0;
  subject.on('connect', () => {
    log.push('connect');
    runAll(script.onConnect);
    log.push(`start() -> ${subject.start()}`);
  });
  subject.on('open', (event) => {
    log.push(`open ${typeof event === 'object' && event !== null ? 'with an event' : 'without an event'}`);
    runAll(script.onOpen);
  });
  subject.on('message', (event) => {
    log.push(`message ${describeData(event.data)}`);
    if (messageRuns++ < script.messageHandlerRuns) runAll(script.onMessage);
  });
  subject.on('ping', (event) => log.push(`ping ${JSON.stringify(event.data)}`));
  subject.on('pong', (event) => log.push(`pong ${JSON.stringify(event.data)}`));
  subject.on('error', () => log.push('error'));
  subject.on('close', (event) => {
    log.push(`close ${event.code} ${JSON.stringify(event.reason)}`);
    runAll(script.onClose);
  });
  if (script.usesMessages) {
    subject.messages.on('data', (data: unknown) => log.push(`messages data ${describeData(data)}`));
    subject.messages.on('end', () => log.push('messages end'));
    subject.messages.on('drain', () => log.push('messages drain'));
  }
  subject.io.on('drain', () => log.push('io drain'));

  const observations: StepObservation[] = [];
  const observe = (step: string): void => {
    observations.push({ step, log, readyState: readyStateOf(library, subject), protocol: subject.protocol });
    log = [];
  };
  observe('made');

  const toServer = !isClient;
  let queued: Buffer[] =
    script.mode === 'server'
      ? [Buffer.from(rawUpgradeRequest('example.com', '/chat?room=1', offerHeader(script)))]
      : [];
  const deliver = (chunks: readonly Buffer[]): void => {
    for (const chunk of chunks) {
      let accepted: boolean;
      try {
        accepted = subject.io.write(chunk);
      } catch (error) {
        // websocket-driver throws for frames written to a driver closed before its handshake.
        log.push(`io.write threw ${(error as Error).name}`);
        continue;
      }
      if (!accepted) log.push('io.write -> false');
    }
  };
  for (const step of script.steps) {
    switch (step.kind) {
      case 'app':
        run(step.action);
        break;
      case 'start':
        log.push(`start() -> ${subject.start()}`);
        break;
      case 'respond':
        queued.push(Buffer.from(serverResponse(request, step.protocol), 'latin1'));
        break;
      case 'peer':
        queued.push(...peerBytes(step.frame, toServer));
        break;
      case 'deliver': {
        const bytes = Buffer.concat(queued);
        queued = [];
        if (bytes.length > 0) deliver(splitChunks(bytes, step.splitter));
        break;
      }
      case 'end-transport':
        subject.io.end();
        break;
      case 'violation': {
        // RFC 6455 §5.1: a server gets an unmasked frame, a client a masked one.
        const frame = encodeFrame({
          isFinal: true,
          rsv: 0,
          opcode: 1,
          payload: Buffer.from(step.data),
          maskingKey: toServer ? undefined : PEER_MASK,
        });
        deliver([frame]);
        break;
      }
    }
    observe(describeStep(step));
  }
  return observations;
}

function offerHeader(script: DriverScript): Record<string, string> {
  return script.offeredProtocols.length === 0
    ? {}
    : { 'Sec-WebSocket-Protocol': script.offeredProtocols.join(', ') };
}

/** A server's 101 to the client's `request`, with its accept value and maybe a subprotocol. */
function serverResponse(request: string, protocol: string | undefined): string {
  const key = /Sec-WebSocket-Key: (.+)\r\n/i.exec(request)?.[1] ?? UPGRADE_KEY;
  return [
    'HTTP/1.1 101 Switching Protocols',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Accept: ${computeAcceptKey(key)}`,
    ...(protocol === undefined ? [] : [`Sec-WebSocket-Protocol: ${protocol}`]),
    '',
    '',
  ].join('\r\n');
}
