// Owns the connection state machine after the handshake: receive(bytes) → events; send*(...) → bytes.

import { type CloseBody, decodeCloseBody, encodeCloseBody } from './close.js';
import { ProtocolError } from './errors.js';
import { encodeFrameHeader, encodeUnmaskedFrame, frameHeaderLength } from './frame.js';
import { FrameParser } from './frame-parser.js';
import { applyMaskUnchecked, copyMasked, MaskKeyPool } from './mask.js';
import { MessageAssembler, type MessageHandler } from './message.js';
import { CloseCode, MAX_CONTROL_PAYLOAD, Opcode } from './opcodes.js';
import type { PreparedMessage } from './prepared-message.js';
import { decodeUtf8 } from './utf8.js';

/** Which end of the connection this is. Clients mask what they send and expect unmasked frames. */
export type Role = 'client' | 'server';

/** RFC 6455 §4.1 and §7: the states of a connection, as the `readyState` numbers 0-3 also name them. */
export type ConnectionState = 'connecting' | 'open' | 'closing' | 'closed';

export interface ConnectionOptions {
  role: Role;
  /** Largest message accepted, in bytes (default 64 MiB - 1). Larger ones fail the connection with 1009. */
  maxLength?: number;
  /** Most fragments one message may have (default 131,072: twice the 65,536 of Autobahn 9.x). */
  maxFragments?: number;
  /** Server only: accept unmasked client frames instead of failing with 1002 (websocket-driver's `requireMasking: false`). */
  requireMasking?: boolean;
  /** Client only: mask outgoing frames (default true; RFC 6455 §5.3 requires it, tests may turn it off). */
  masking?: boolean;
  /** RSV bits claimed by negotiated extensions (RSV1 = 0x40, RSV2 = 0x20, RSV3 = 0x10). Default none. */
  allowedRsvBits?: number;
  /**
   * When true, every data message is handed out as an `extension-message` event for the extension
   * pipeline, and comes back through `completeExtensionMessage` (which validates it).
   */
  hasExtensions?: boolean;
  /** Answer pings with pongs automatically (default true, RFC 6455 §5.5.2). */
  autoPong?: boolean;
  /**
   * Answer the peer's close frame at once (default true). When false, the `close` event leaves the
   * connection in `closing` with `isCloseReplyDue`, data may still be sent, and `sendCloseReply()`
   * finishes the handshake: RFC 6455 §5.5.1 lets an endpoint send its current message first.
   */
  autoCloseReply?: boolean;
}

/** Everything the connection reports. Events are data: the caller decides what to do with them. */
export type ConnectionEvent =
  | { type: 'text'; data: string }
  | { type: 'binary'; data: Buffer }
  /** A data message for the extension pipeline (only with `hasExtensions`). */
  | { type: 'extension-message'; opcode: number; rsvBits: number; data: Buffer; isUtf8Checked: boolean }
  | { type: 'ping'; data: Buffer }
  | { type: 'pong'; data: Buffer }
  /** Bytes the connection wants sent on its own: a pong, or the reply to the peer's close. */
  | { type: 'write'; data: Buffer[]; opcode: number }
  /** The closing handshake ended: the peer's close frame arrived (our reply, if due, was queued as a `write` first). */
  | { type: 'close'; code: number; reason: string }
  /** The peer broke the protocol: a close frame with `code` was queued as a `write` before this event. */
  | { type: 'fail'; code: number; reason: string };

/** 64 MiB - 1, websocket-driver's default: small enough that a VPS survives a peer that uses it all. */
export const DEFAULT_MAX_LENGTH = 0x3ffffff;
/** Autobahn 9.x sends 4 MiB in 64-byte fragments: 65,536 must pass; twice that bounds the CPU a peer can burn per message. */
const DEFAULT_MAX_FRAGMENTS = 131_072;
const EMPTY = Buffer.alloc(0);

/**
 * One WebSocket connection after its opening handshake, free of I/O: feed it the bytes that arrive
 * with `receive`, write out the bytes its `send*` methods return and its `write` events carry.
 *
 * @example
 * ```ts
 * const connection = new Connection({ role: 'server' });
 * socket.on('data', (chunk) => {
 *   for (const event of connection.receive(chunk)) {
 *     if (event.type === 'text') socket.write(Buffer.concat(connection.sendText(event.data)));
 *     if (event.type === 'write') for (const bytes of event.data) socket.write(bytes);
 *   }
 * });
 * ```
 */
export class Connection implements MessageHandler {
  readonly role: Role;
  private stateValue: ConnectionState = 'open';
  private readonly parser: FrameParser;
  private readonly assembler: MessageAssembler;
  private readonly isMasking: boolean;
  private readonly maskKeys: MaskKeyPool | undefined;
  /** The key of the frame being masked (clients only), filled from the pool for each frame. */
  private readonly maskingKey: Uint8Array | undefined;
  private hasExtensions: boolean;
  private readonly autoPong: boolean;
  private readonly autoCloseReply: boolean;
  /** The code of the peer's close frame (1005 for none) and its reason, echoed in our reply. */
  private receivedCloseCode: number = CloseCode.NoStatusReceived;
  private receivedCloseReason = '';
  private hasSentClose = false;
  private hasReceivedClose = false;
  /** Opcode of the outgoing fragmented message in progress, or 0. */
  private outgoingFragmentOpcode = 0;
  /** Events produced by the last parse step, read by takeEvent() from `eventIndex` on. */
  private readonly events: ConnectionEvent[] = [];
  private eventIndex = 0;

  constructor(options: ConnectionOptions) {
    this.role = options.role;
    const isServer = options.role === 'server';
    this.isMasking = !isServer && options.masking !== false;
    this.maskKeys = this.isMasking ? sharedMaskKeys() : undefined;
    this.maskingKey = this.isMasking ? new Uint8Array(4) : undefined;
    this.hasExtensions = options.hasExtensions === true;
    this.autoPong = options.autoPong !== false;
    this.autoCloseReply = options.autoCloseReply !== false;
    this.assembler = new MessageAssembler(this, {
      maxLength: options.maxLength ?? DEFAULT_MAX_LENGTH,
      maxFragments: options.maxFragments ?? DEFAULT_MAX_FRAGMENTS,
      allowedRsvBits: options.allowedRsvBits ?? 0,
    });
    const expectation = isServer ? (options.requireMasking === false ? 'either' : 'masked') : 'unmasked';
    this.parser = new FrameParser(this.assembler, expectation);
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  /** Negotiated extensions claim these RSV bits and receive every data message (set once, after the handshake). */
  configureExtensions(allowedRsvBits: number): void {
    this.assembler.allowedRsvBits = allowedRsvBits;
    this.hasExtensions = true;
  }

  /**
   * Queues received bytes. Takes ownership of `chunk`: payloads are unmasked in place and handed out as
   * slices of it. Then read the events with `nextEvent()`.
   */
  push(chunk: Buffer): void {
    if (this.stateValue !== 'closed') this.parser.push(chunk);
  }

  /** Whether bytes pushed are still unparsed (the caller stopped reading events before they ran out). */
  get hasUnreadInput(): boolean {
    return this.parser.hasInput;
  }

  /** Drops the bytes pushed and not yet parsed: the transport is gone, and what they hold with it. */
  discardInput(): void {
    this.parser.discardInput();
  }

  /**
   * The next event, parsing only as far as needed to find it; undefined when the bytes pushed so far
   * hold no more. Reading lazily lets the caller answer a message before a close frame that arrived in
   * the same chunk is processed (our answer then precedes our close reply). Never throws for anything
   * the peer sends.
   */
  nextEvent(): ConnectionEvent | undefined {
    const pending = this.takeEvent();
    if (pending !== undefined || !this.parser.hasInput || this.stateValue === 'closed') return pending;
    try {
      this.parser.parse();
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.failWith(error);
    }
    return this.takeEvent();
  }

  /** The next event of the last parse step, if any is left. */
  private takeEvent(): ConnectionEvent | undefined {
    const events = this.events;
    const count = events.length;
    if (count === 0) return undefined;
    // One event per parse step is the common case (the parser pauses after each message); pop() is
    // cheaper than resetting the length, a builtin call.
    if (count === 1) return events.pop();
    const event = events[this.eventIndex++];
    if (this.eventIndex === count) {
      events.length = 0;
      this.eventIndex = 0;
    }
    return event;
  }

  /** Pushes `chunk` and returns every event it completes, in order (`push` plus `nextEvent` until done). */
  receive(chunk: Buffer): ConnectionEvent[] {
    this.push(chunk);
    const all: ConnectionEvent[] = [];
    for (let event = this.nextEvent(); event !== undefined; event = this.nextEvent()) all.push(event);
    return all;
  }

  /**
   * Validates a message that came back from the extension pipeline and turns it into a `text` or
   * `binary` event, or a `fail` (1007 for invalid UTF-8, 1009 over maxLength).
   */
  completeExtensionMessage(opcode: number, data: Buffer, isUtf8Checked = false): ConnectionEvent[] {
    const events: ConnectionEvent[] = [];
    // A message that arrived before the connection closed is still delivered; one that turns out
    // invalid after the close has nothing left to fail and is dropped.
    const failures = this.stateValue === 'closed' ? [] : events;
    const maxLength = this.assembler.maxLength;
    if (data.length > maxLength) {
      this.failWith(
        new ProtocolError(CloseCode.MessageTooBig, `Message exceeds the maximum of ${maxLength} bytes`),
        failures,
      );
    } else if (opcode === Opcode.Text) {
      const text = isUtf8Checked ? data.toString('utf8') : decodeUtf8(data);
      if (text === undefined) {
        this.failWith(
          new ProtocolError(CloseCode.InvalidPayload, 'Invalid UTF-8 in a text message'),
          failures,
        );
      } else {
        events.push({ type: 'text', data: text });
      }
    } else {
      events.push({ type: 'binary', data });
    }
    return events;
  }

  /**
   * Fails the connection from outside the parser, e.g. when an extension rejects a message:
   * returns the close frame to write (if one may still be sent) and the `fail` event.
   */
  fail(code: number, reason: string): ConnectionEvent[] {
    const events: ConnectionEvent[] = [];
    if (this.stateValue !== 'closed') this.failWith(new ProtocolError(code, reason), events);
    return events;
  }

  /** The transport ended. Returns a 1006 `close` event unless the connection had already closed. */
  transportClosed(): ConnectionEvent[] {
    if (this.stateValue === 'closed') return [];
    this.stateValue = 'closed';
    // RFC 6455 §7.1.5: a connection closed without a close frame has status 1006.
    return [{ type: 'close', code: CloseCode.Abnormal, reason: '' }];
  }

  // --- sending -------------------------------------------------------------------------------

  /** Frames a whole text message. Returns the bytes to write (header and payload, maybe one buffer). */
  sendText(text: string, rsvBits = 0): Buffer[] {
    this.assertCanSendData(Opcode.Text, true);
    return this.encodeStringFrame(Opcode.Text, text, true, rsvBits);
  }

  /** Frames a whole binary message. The payload is not copied for servers (not mutated for clients). */
  sendBinary(data: Uint8Array, rsvBits = 0): Buffer[] {
    this.assertCanSendData(Opcode.Binary, true);
    return this.encodeFrame(Opcode.Binary, data, true, rsvBits);
  }

  /**
   * A message framed once for many connections (see `prepareMessage`): a server returns its shared
   * frame as it is; a masking client frames the payload with its own key.
   */
  sendPrepared(message: PreparedMessage): readonly Buffer[] {
    this.assertCanSendData(message.opcode, true);
    if (this.isMasking) return this.encodeFrame(message.opcode, message.data, true, 0);
    return message.frame;
  }

  /**
   * Frames one fragment of a message (RFC 6455 §5.4): the first call gives `opcode` text or binary,
   * later ones are sent as continuations; `isFinal` ends the message. RSV bits go on the first frame only.
   */
  sendFragment(opcode: number, data: Uint8Array | string, isFinal: boolean, rsvBits = 0): Buffer[] {
    this.assertCanSendData(opcode, false);
    const isContinuation = this.outgoingFragmentOpcode !== 0;
    const frameOpcode = isContinuation ? Opcode.Continuation : opcode;
    const frameRsv = isContinuation ? 0 : rsvBits;
    this.outgoingFragmentOpcode = isFinal ? 0 : opcode;
    return typeof data === 'string'
      ? this.encodeStringFrame(frameOpcode, data, isFinal, frameRsv)
      : this.encodeFrame(frameOpcode, data, isFinal, frameRsv);
  }

  /** Frames a ping. RFC 6455 §5.5: at most 125 bytes. */
  sendPing(payload: Uint8Array | string = EMPTY): Buffer[] {
    return this.encodeControl(Opcode.Ping, payload);
  }

  /** Frames a pong (an unsolicited pong is a heartbeat, RFC 6455 §5.5.3). */
  sendPong(payload: Uint8Array | string = EMPTY): Buffer[] {
    return this.encodeControl(Opcode.Pong, payload);
  }

  /**
   * Starts the closing handshake (RFC 6455 §7.1.2): returns the close frame to write and moves to
   * `closing`. Data may still arrive until the peer's close frame does. Returns [] if a close was already sent.
   */
  sendClose(code?: number, reason = ''): Buffer[] {
    if (this.hasSentClose || this.stateValue === 'closed') return [];
    const body = encodeCloseBody(code, reason);
    this.hasSentClose = true;
    // Sent in reply to the peer's close, it ends the handshake; sent first, it starts it.
    this.stateValue = this.hasReceivedClose ? 'closed' : 'closing';
    return this.encodeFrame(Opcode.Close, body, true, 0);
  }

  /**
   * With `autoCloseReply: false`: the reply to the peer's close, echoing its code and reason (RFC 6455
   * §5.5.1 asks for the code; websocket-driver and ws echo the reason too).
   */
  sendCloseReply(): Buffer[] {
    if (!this.isCloseReplyDue) return [];
    const code = this.receivedCloseCode;
    if (code === CloseCode.NoStatusReceived) return this.sendClose();
    return this.sendClose(code, this.receivedCloseReason);
  }

  /** The peer's close frame arrived and ours has not been sent yet (only with `autoCloseReply: false`). */
  get isCloseReplyDue(): boolean {
    return this.hasReceivedClose && !this.hasSentClose && this.stateValue !== 'closed';
  }

  /**
   * Whether data frames may still be sent: no close frame sent yet (RFC 6455 §5.5.1), and the connection
   * open or owing the peer a close reply (which may wait for the current message).
   */
  get canSend(): boolean {
    return !this.hasSentClose && (this.stateValue === 'open' || this.isCloseReplyDue);
  }

  // --- MessageHandler ------------------------------------------------------------------------

  /** @internal Called by the assembler for each complete data message. */
  onMessage(opcode: number, data: Buffer, rsvBits: number, isUtf8Checked: boolean): void {
    if (this.hasReceivedClose) return;
    if (this.hasExtensions) {
      this.events.push({ type: 'extension-message', opcode, rsvBits, data, isUtf8Checked });
    } else if (opcode === Opcode.Text) {
      const text = isUtf8Checked ? data.toString('utf8') : decodeUtf8(data);
      if (text === undefined) {
        throw new ProtocolError(CloseCode.InvalidPayload, 'Invalid UTF-8 in a text message');
      }
      this.events.push({ type: 'text', data: text });
    } else {
      this.events.push({ type: 'binary', data });
    }
  }

  /** @internal Called by the assembler for each control frame. */
  onControlFrame(opcode: number, payload: Buffer): void {
    if (opcode === Opcode.Close) {
      this.receiveClose(payload);
    } else if (opcode === Opcode.Ping) {
      // RFC 6455 §5.5.2: answer with a pong carrying the same payload, unless we already sent our close.
      // The pong comes before the event, as websocket-driver and ws do: what a 'ping' listener sends
      // follows the answer.
      if (this.autoPong && !this.hasSentClose) {
        this.events.push({
          type: 'write',
          data: this.encodeFrame(Opcode.Pong, payload, true, 0),
          opcode: Opcode.Pong,
        });
      }
      this.events.push({ type: 'ping', data: payload });
    } else {
      this.events.push({ type: 'pong', data: payload });
    }
  }

  // --- internals -----------------------------------------------------------------------------

  private receiveClose(payload: Buffer): void {
    const body: CloseBody = decodeCloseBody(payload);
    this.hasReceivedClose = true;
    this.receivedCloseCode = body.code;
    this.receivedCloseReason = body.reason;
    if (!this.hasSentClose && !this.autoCloseReply) {
      this.stateValue = 'closing';
      this.events.push({ type: 'close', code: body.code, reason: body.reason });
      throw STOP_PARSING;
    }
    if (!this.hasSentClose) {
      // RFC 6455 §5.5.1: reply with a close frame, typically echoing the status code received; the
      // reason too, as websocket-driver and ws do (it fits: it came in a control frame of ≤ 125 bytes).
      this.hasSentClose = true;
      const reply =
        body.code === CloseCode.NoStatusReceived ? EMPTY : encodeCloseBody(body.code, body.reason);
      this.events.push({
        type: 'write',
        data: this.encodeFrame(Opcode.Close, reply, true, 0),
        opcode: Opcode.Close,
      });
    }
    this.stateValue = 'closed';
    this.events.push({ type: 'close', code: body.code, reason: body.reason });
    // RFC 6455 §5.5.1: nothing is read after the close frame.
    throw STOP_PARSING;
  }

  private failWith(error: ProtocolError, events: ConnectionEvent[] = this.events): void {
    if (error === STOP_PARSING) return;
    // RFC 6455 §7.1.7: fail the connection: send a close frame with the code if we still may, then close.
    if (!this.hasSentClose && this.stateValue !== 'closed') {
      this.hasSentClose = true;
      const body = encodeCloseBody(error.closeCode);
      events.push({
        type: 'write',
        data: this.encodeFrame(Opcode.Close, body, true, 0),
        opcode: Opcode.Close,
      });
    }
    this.stateValue = 'closed';
    events.push({ type: 'fail', code: error.closeCode, reason: error.message });
  }

  private assertCanSendData(opcode: number, isWholeMessage: boolean): void {
    if (!this.canSend) {
      throw new Error(
        `Cannot send a data frame: the connection is ${this.hasSentClose ? 'closing' : this.stateValue}`,
      );
    }
    if (opcode !== Opcode.Text && opcode !== Opcode.Binary) {
      throw new TypeError('A data message has opcode 1 (text) or 2 (binary)');
    }
    // RFC 6455 §5.4: the fragments of one message are not interleaved with another data message.
    if (isWholeMessage && this.outgoingFragmentOpcode !== 0) {
      throw new Error('Cannot send a whole message while a fragmented message is in progress');
    }
  }

  private encodeControl(opcode: number, payload: Uint8Array | string): Buffer[] {
    if (this.hasSentClose || this.stateValue === 'closed') {
      throw new Error(`Cannot send a control frame: the connection is ${this.stateValue}`);
    }
    const bytes = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
    if (bytes.length > MAX_CONTROL_PAYLOAD) {
      throw new RangeError(`A control frame payload is at most 125 bytes; got ${bytes.length}`);
    }
    return this.encodeFrame(opcode, bytes, true, 0);
  }

  private encodeStringFrame(opcode: number, text: string, isFinal: boolean, rsvBits: number): Buffer[] {
    const payloadLength = Buffer.byteLength(text, 'utf8');
    const headerLength = frameHeaderLength(payloadLength, this.isMasking);
    const frame = Buffer.allocUnsafe(headerLength + payloadLength);
    const maskingKey = this.nextMaskingKey();
    encodeFrameHeader(frame, 0, isFinal, rsvBits, opcode, payloadLength, maskingKey);
    frame.write(text, headerLength, 'utf8');
    if (maskingKey !== undefined) applyMaskUnchecked(frame, maskingKey, headerLength, frame.length, 0);
    return [frame];
  }

  private encodeFrame(opcode: number, payload: Uint8Array, isFinal: boolean, rsvBits: number): Buffer[] {
    const maskingKey = this.nextMaskingKey();
    if (maskingKey !== undefined) {
      // RFC 6455 §5.3: clients mask; copy while masking so the caller's buffer is never changed.
      const payloadLength = payload.length;
      const headerLength = frameHeaderLength(payloadLength, true);
      const frame = Buffer.allocUnsafe(headerLength + payloadLength);
      encodeFrameHeader(frame, 0, isFinal, rsvBits, opcode, payloadLength, maskingKey);
      copyMasked(payload, frame, headerLength, maskingKey);
      return [frame];
    }
    return encodeUnmaskedFrame(opcode, payload, isFinal, rsvBits);
  }

  private nextMaskingKey(): Uint8Array | undefined {
    const maskingKey = this.maskingKey;
    if (maskingKey === undefined) return undefined;
    this.maskKeys!.writeKey(maskingKey, 0);
    return maskingKey;
  }
}

/** Thrown (and caught in `receive`) to stop parsing after a close frame: not an error of the peer. */
const STOP_PARSING = new ProtocolError(CloseCode.Normal, 'stop parsing after close');

let maskKeyPool: MaskKeyPool | undefined;
function sharedMaskKeys(): MaskKeyPool {
  maskKeyPool ??= new MaskKeyPool();
  return maskKeyPool;
}
