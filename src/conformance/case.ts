// Owns what a conformance case is: what it sends (a script against a context), what a conforming peer must
// do (an expectation), and the helpers the case files use to say both briefly.

import type { AcceptPolicy, CompressionForm } from './deflate.js';
import type { FrameSpec } from './frame-writer.js';
import type { Observation } from './observation.js';
import type { Judgement } from './verdict.js';

/** An event a conforming peer must produce, in order. */
export type ExpectedEvent =
  | { type: 'message'; binary: boolean; data: Buffer }
  | { type: 'ping'; data: Buffer }
  | { type: 'pong'; data: Buffer }
  | { type: 'marker'; tag: string };

/** How the connection must end. */
export interface CloseExpectation {
  /**
   * `true`: the tester starts the closing handshake (in the script, or once the expected events are in)
   * and the peer must answer it. `false`: the peer must fail the connection itself, by a close frame or by
   * dropping TCP, before the tester gives up.
   */
  isClosedByTester: boolean;
  /** Codes allowed in the peer's close frame. An empty close body is accepted too, as in Autobahn. */
  codes: readonly number[];
  /** Codes that make the case NON-STRICT rather than FAILED (right outcome, questionable code). */
  nonStrictCodes?: readonly number[];
  /** The peer must send a close frame; `false` also accepts a dropped TCP connection. */
  requireClean: boolean;
}

/** What a conforming peer does, as Autobahn's cases state it: acceptable event lists per verdict, and the close. */
export interface Expectation {
  /** Event lists that make the case OK (any one of them). */
  ok: readonly (readonly ExpectedEvent[])[];
  /** Event lists that make it NON-STRICT: the right outcome, reached late. */
  nonStrict?: readonly (readonly ExpectedEvent[])[];
  close: CloseExpectation;
  /** The RFC leaves the outcome open: record it, verdict INFORMATIONAL (violations still fail). */
  isInformational?: boolean;
  /**
   * Milliseconds to wait for the expected events before the tester closes anyway. When no events are
   * expected the tester waits the settle time instead, to see that none come.
   */
  responseTimeout?: number;
  /** Overrides the settle time (e.g. 0 for cases that check their own results). */
  settleTime?: number;
}

/** A frame to send, with how to put it on the wire. */
export interface SendOptions {
  /** Write the frame in pieces of this many octets, each its own write (Autobahn's chopsize). */
  chopSize?: number;
  /** Flush earlier queued frames and write this one on its own (Autobahn's sync); otherwise frames sent
   * in the same turn of the event loop leave in one write. */
  isSync?: boolean;
}

export interface MessageOptions extends SendOptions {
  binary?: boolean;
  /** Split the message into frames of at most this many payload bytes (after compression). */
  fragmentSize?: number;
  /** Compress it (RSV1) when permessage-deflate was agreed; default true in that case. */
  compress?: boolean;
  /** How to end the compressed data (RFC 7692 §7.2.3 variants). */
  compressionForm?: CompressionForm;
}

/** Why no reply came: the peer's close, a dropped connection, or time. */
export function missingReplyReason(context: CaseContext, what: string, timeout: number): string {
  const close = context.peerClose;
  if (close !== undefined) {
    return `the peer closed the connection (${close.code ?? 'no code'}${close.reason === '' ? '' : ` "${close.reason}"`}) instead of echoing ${what}`;
  }
  if (!context.isOpen) return `the connection ended before the echo of ${what} came`;
  return `no echo of ${what} within ${timeout} ms`;
}

/** A message the peer sent, for cases that read their own replies. */
export interface ReceivedMessage {
  binary: boolean;
  data: Buffer;
  isCompressed: boolean;
}

/** What a case script can do on the connection. Every method is safe to call after the connection closed. */
export interface CaseContext {
  /** `client` when the tester tests a server, `server` when it tests a client. */
  readonly testerRole: 'client' | 'server';
  /** Whether permessage-deflate was agreed in the handshake. */
  readonly isCompressionActive: boolean;
  /** The pause used to check fail-fast behaviour (Autobahn waits 1 s). */
  readonly pace: number;
  /** Neither side has sent a close frame and TCP is up. */
  readonly isOpen: boolean;
  /** The peer's close frame, once it came. */
  readonly peerClose: { code: number | undefined; reason: string } | undefined;
  send(frame: FrameSpec, options?: SendOptions): Promise<void>;
  /** The bytes of a frame as this side would send it (masked by a client), logged but not written. */
  encodeFrame(frame: FrameSpec): Buffer;
  /** Writes bytes exactly as given, e.g. pieces of a frame from `encodeFrame` with waits in between. */
  sendRaw(bytes: Uint8Array): Promise<void>;
  sendMessage(data: string | Uint8Array, options?: MessageOptions): Promise<void>;
  /** Compresses a payload with the agreed permessage-deflate state, for frames built by hand. */
  compress(data: Buffer): Promise<Buffer>;
  /** Sends a close frame with this code and reason (raw: invalid ones are sent as given). */
  sendClose(code?: number, reason?: string | Uint8Array): Promise<void>;
  /** Waits; then, if the connection is still open, records a marker event with `tag`. Returns isOpen. */
  pause(milliseconds: number, tag?: string): Promise<boolean>;
  /** Resolves when `count` events were recorded, the connection closed, or the time ran out. */
  waitForEvents(count: number, milliseconds: number): Promise<void>;
  /** The next message, when recording is off; undefined when the connection closed or time ran out. */
  nextMessage(milliseconds: number): Promise<ReceivedMessage | undefined>;
  /** Recording off: messages go to `nextMessage` and the wire log pauses (for cases of 1000 messages). */
  setRecording(isRecording: boolean): void;
  /** The case established a failure itself. */
  fail(reason: string): void;
  /** The case cannot run because the peer lacks a feature (permessage-deflate). */
  unimplemented(reason: string): void;
  note(text: string): void;
}

/** A request line and header fields the tester sends, for cases that break the opening handshake on purpose. */
export interface RequestDraft {
  method: string;
  target: string;
  httpVersion: string;
  headers: [name: string, value: string][];
}

/** The tester's response to a client, for cases that answer it wrongly on purpose. */
export interface ResponseDraft {
  statusLine: string;
  headers: [name: string, value: string][];
}

/** What the tester knows of a client's request when it builds the response. */
export interface ClientRequestInfo {
  headers: Record<string, string[]>;
  /** The Sec-WebSocket-Extensions offer, joined. */
  extensionOffer: string | undefined;
}

/** How a case changes the opening handshake. */
export interface HandshakeVariation {
  /** Testing servers: rewrites the request before it is sent. */
  request?(draft: RequestDraft): void;
  /** Testing clients: rewrites the response before it is sent. */
  response?(draft: ResponseDraft, request: ClientRequestInfo): void;
}

/** permessage-deflate for a case. */
export interface CompressionSetup {
  /** Testing servers: the Sec-WebSocket-Extensions offer, as written on the wire. */
  offer: string;
  /** Testing clients: how to answer the client's offer, first fitting policy wins (Autobahn's accept functions). */
  accept: readonly AcceptPolicy[];
  /** Without an agreement the case cannot run and is UNIMPLEMENTED. */
  isRequired: boolean;
}

/** Which peers a case tests. */
export type CaseTarget = 'servers' | 'clients' | 'both';

export interface ConformanceCase {
  /** Autobahn's number where the case matches one of its cases (e.g. `6.4.1`); hybi's own in 0.x and 14.x. */
  id: string;
  /** What the tester sends. */
  description: string;
  /** What a conforming peer must do. */
  expectation: string;
  /** The rules the case checks, e.g. `RFC 6455 §5.5`. */
  references: readonly string[];
  appliesTo: CaseTarget;
  expect: Expectation;
  /** Sends what the case sends; the runner then waits for and performs the close the expectation asks for. */
  run(context: CaseContext): Promise<void>;
  /** The whole case, handshake to TCP close, in milliseconds (default 15 s). */
  timeout?: number;
  compression?: CompressionSetup;
  handshake?: HandshakeVariation;
  /** Judges the observation instead of the default judge (handshake cases). */
  judge?(observation: Observation, expectation: Expectation): Judgement;
  /** Runs alone, after the concurrent cases: heavy cases whose load would disturb timing in others. */
  isExclusive?: boolean;
}

// --- helpers for writing cases ------------------------------------------------------------------------

export const CLOSE_NORMAL = 1000;
export const CLOSE_PROTOCOL_ERROR = 1002;
export const CLOSE_INVALID_PAYLOAD = 1007;

export function text(data: string | Uint8Array): ExpectedEvent {
  return {
    type: 'message',
    binary: false,
    data: typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data),
  };
}

export function binary(data: string | Uint8Array): ExpectedEvent {
  return {
    type: 'message',
    binary: true,
    data: typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data),
  };
}

export function pong(data: string | Uint8Array = ''): ExpectedEvent {
  return { type: 'pong', data: typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data) };
}

export function marker(tag: string): ExpectedEvent {
  return { type: 'marker', tag };
}

/** The peer does what is asked (echo, pong) and answers the tester's close with 1000 or an empty body. */
export function answersThenClosesNormally(...events: ExpectedEvent[]): Expectation {
  return {
    ok: [events],
    close: { isClosedByTester: true, codes: [CLOSE_NORMAL], requireClean: true },
  };
}

/**
 * The peer must fail the connection with one of `codes` (or drop TCP). `events` are what it must have
 * sent before failing; when `failingEarlyIsNonStrict`, failing before sending them is NON-STRICT, as
 * Autobahn judges a peer that fails before echoing a valid message that preceded the bad frame.
 */
export function failsConnection(
  codes: readonly number[],
  events: readonly ExpectedEvent[] = [],
  failingEarlyIsNonStrict = false,
): Expectation {
  return {
    ok: [events],
    ...(failingEarlyIsNonStrict ? { nonStrict: [[]] } : {}),
    close: { isClosedByTester: false, codes, requireClean: false },
  };
}

/** The tester's own close frame is invalid: the peer must answer with one of `codes` or drop TCP. */
export function answersBadCloseWith(codes: readonly number[]): Expectation {
  return { ok: [[]], close: { isClosedByTester: true, codes, requireClean: false } };
}

/** Repeats `unit` to exactly `length` characters (ASCII payloads of a given size). */
export function repeatText(unit: string, length: number): string {
  return unit.repeat(Math.ceil(length / unit.length)).slice(0, length);
}

/** A case with `appliesTo` defaulting to both directions. */
export function defineCase(
  definition: Omit<ConformanceCase, 'appliesTo'> & { appliesTo?: CaseTarget },
): ConformanceCase {
  return { ...definition, appliesTo: definition.appliesTo ?? 'both' };
}
