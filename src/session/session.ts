// Owns one WebSocket connection's life above the sans-IO core and below both faces: the extension
// pipeline and its ordering, the bounded inbound queue (pause, backpressure, a message in the pipeline),
// the closing handshake around messages still being compressed, and what waits for the opening.

import type { Extension, ExtensionMessage } from '../extensions/extension.js';
import { ExtensionNegotiationError, Extensions, parseOffer } from '../extensions/extensions.js';
import { type PerMessageDeflateOptions, permessageDeflate } from '../extensions/permessage-deflate.js';
import { Connection, type ConnectionEvent, DEFAULT_MAX_LENGTH, type Role } from '../protocol/connection.js';
import { HandshakeError, ProtocolError } from '../protocol/errors.js';
import { RSV1, RSV2, RSV3 } from '../protocol/frame.js';
import { selectSubprotocol } from '../protocol/handshake.js';
import { CloseCode, Opcode } from '../protocol/opcodes.js';
import type { PreparedMessage } from '../protocol/prepared-message.js';

/** What a session reads from its options (a face's options object may carry more). */
export interface SessionOptions {
  /** Largest incoming message in bytes (default 64 MiB - 1). Larger: close 1009. */
  maxLength?: number;
  /** Client: mask outgoing frames (RFC 6455 §5.3). */
  masking?: boolean;
  /** Server: fail with 1002 when a client frame is unmasked (RFC 6455 §5.1). */
  requireMasking?: boolean;
  /** Most frames one message may have. */
  maxFragments?: number;
  /** hybi's built-in permessage-deflate (RFC 7692): `true` or its options (read once per options object). */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
}

/**
 * Whoever sits on a session: a face (the Driver emits these as events) or a transport link (which hands
 * them to the WebSocket on top). Plain methods, one object: no emitter, no closure per connection.
 */
export interface SessionHost {
  /** Bytes to write to the transport, in order (a frame's header and payload may be two chunks). */
  sessionWrite(chunks: readonly Buffer[]): void;
  /** The opening is done: the connection is open. */
  sessionOpened(): void;
  sessionMessage(data: string | Buffer): void;
  /** A ping arrived; its pong is written already (or held while the transport is full). */
  sessionPing(payload: Buffer): void;
  sessionPong(payload: Buffer): void;
  /** The connection failed (a protocol error, a failed handshake); `sessionClosed` follows. */
  sessionError(error: Error): void;
  /** The connection is closed (once, last of the session's reports). */
  sessionClosed(code: number, reason: string): void;
  /** Every message given to the extension pipeline (the compressor) has been written. */
  sessionOutgoingIdle(): void;
  /** `receive` returned false earlier and nothing is held any more: the transport may read again. */
  sessionInputDrained(): void;
}

/** 0 connecting, 1 open, 2 closing, 3 closed (the WebSocket API's numbers). */
export type ReadyState = 0 | 1 | 2 | 3;

const EMPTY = Buffer.alloc(0);

type PendingSend =
  | { kind: 'data'; opcode: number; data: string | Buffer; compress: boolean }
  | { kind: 'ping' | 'pong'; data: Buffer };

/**
 * One connection between its opening handshake and its end. Bytes go in through `receive`, messages and
 * bytes to write come out through the host. Made before the handshake (the extensions negotiate in it);
 * `open()` starts the protocol.
 *
 * @example
 * ```ts
 * const session = new Session(host, 'server', { perMessageDeflate: true });
 * const agreed = session.acceptOffer(offeredProtocols, ['chat'], extensionOffer);
 * host.sessionWrite([buildServerResponse({ key, ...agreed })]);
 * session.open();
 * if (!session.receive(chunk)) socket.pause(); // until host.sessionInputDrained()
 * ```
 */
export class Session {
  readyState: ReadyState = 0;
  /**
   * The negotiated subprotocol: `undefined` until one is agreed (a server that agreed none keeps
   * `undefined`), `null` on a client whose server answered without one (websocket-driver's values).
   */
  protocol: string | null | undefined = undefined;
  /** A client's: the server's Sec-WebSocket-Extensions, as the WebSocket's `extensions` reports it. */
  responseExtensions: string | undefined;
  readonly maxLength: number;
  readonly role: Role;
  private readonly host: SessionHost;
  private readonly options: SessionOptions;
  private connection: Connection | undefined;
  /** Made when an extension is registered: a connection without any holds none. */
  private extensionsValue: Extensions | undefined;
  /**
   * Bytes that arrived before the connection opened (frames a client sent right after its request).
   * Bound: `receive` returns false while any is held, so a transport that honours it adds nothing until
   * open() reads them (the rest of the head's chunk, about one socket read); dropped if the handshake fails.
   */
  private pendingInput: Buffer[] | undefined;
  /** Sends accepted while connecting (the Driver's API allows them); bound: the application's own calls. */
  private queuedSends: PendingSend[] | undefined;
  private outgoingInFlight = 0;
  /** Bytes of the messages in the extension pipeline, in order, so that backpressure can count them. */
  private outgoingInFlightBytes = 0;
  private inFlightSizes: number[] | undefined;
  private deferredClose: { code: number; reason: string } | undefined;
  /** The peer's close, waiting for messages in the extension pipeline to be written before our reply. */
  private pendingCloseEvent: { code: number; reason: string } | undefined;
  /** Set while events are being read; bytes written meanwhile (re-entrantly) only join the queue. */
  private isPumping = false;
  /** A received message is in the extension pipeline; reading further waits for it. */
  private isAwaitingExtension = false;
  /** `receive` returned false: the host is owed `sessionInputDrained` once the held bytes are read. */
  private owesInputDrain = false;
  /** The application paused delivery (pauseInput). */
  private isConsumerPaused = false;
  /** The transport's write buffer is full (outputBlocked, until outputDrained). */
  private isOutputBlocked = false;
  /** The pong owed for the latest ping received while the transport was full. */
  private pendingPong: Buffer[] | undefined;
  private hasTransportEnded = false;
  private pingCallbacks: Map<string, (() => void)[]> | undefined;
  private hasEmittedClose = false;

  constructor(host: SessionHost, role: Role, options: SessionOptions) {
    this.host = host;
    this.role = role;
    this.options = options;
    this.maxLength = options.maxLength ?? DEFAULT_MAX_LENGTH;
    if (options.perMessageDeflate !== undefined && options.perMessageDeflate !== false) {
      this.extensions.add(sharedPermessageDeflate(options.perMessageDeflate));
    }
  }

  /** The extensions of this connection (made on first use): register with `add`, negotiate, run. */
  get extensions(): Extensions {
    this.extensionsValue ??= new Extensions({ maxLength: this.maxLength });
    return this.extensionsValue;
  }

  /** Whether an extension was negotiated: messages then pass through the pipeline. */
  private get hasActiveExtensions(): boolean {
    return this.extensionsValue?.isActive === true;
  }

  /** Whether the protocol runs (open() was called and the session has a connection). */
  get isOpen(): boolean {
    return this.connection !== undefined;
  }

  /** Whether the session reported its close. */
  get hasClosed(): boolean {
    return this.hasEmittedClose;
  }

  /** Names of the extensions negotiated in the handshake. */
  get negotiatedExtensions(): string[] {
    return this.extensionsValue?.activeNames ?? [];
  }

  /**
   * Bytes of messages accepted by send() that are still in the extension pipeline (being compressed),
   * not yet written. Transports add them to what they report as buffered.
   */
  get bufferedOutgoingBytes(): number {
    return this.outgoingInFlightBytes;
  }

  /**
   * Whether received bytes wait here unread (for the extension pipeline, a paused consumer, or the
   * opening): then `receive` returns false and the transport should stop reading. This is what bounds a
   * connection's input to about one socket read plus one message in flight.
   */
  get isHoldingInput(): boolean {
    if (this.isConsumerPaused) return true;
    if (this.connection === undefined) return this.pendingInput !== undefined;
    return this.connection.hasUnreadInput && this.readyState !== 3;
  }

  /**
   * Stops delivery: no further message until `resumeInput()`, and `receive` returns false, so the
   * transport stops reading.
   */
  pauseInput(): void {
    this.isConsumerPaused = true;
  }

  /** Delivers again after `pauseInput()`; `sessionInputDrained` follows once nothing is held. */
  resumeInput(): void {
    this.isConsumerPaused = false;
    // The drain comes once nothing is held: now, or when the bytes still waiting for the extension
    // pipeline (or for a listener that paused again) have been read.
    this.owesInputDrain = true;
    if (this.connection !== undefined && !this.isPumping && this.readyState !== 3) this.pump();
    else this.drainInputIfDue();
  }

  /**
   * Feeds bytes received from the transport (before the opening they are held for it). Takes ownership
   * of `chunk` (payloads are unmasked in place). Returns false while received bytes wait unread: the
   * transport should stop reading until `sessionInputDrained`. Reading never stops because our own output
   * is full: two peers echoing a burst at each other would each wait for the other (a deadlock); a ping
   * flood is bounded instead by answering only the latest ping while full.
   */
  receive(chunk: Buffer): boolean {
    this.push(chunk);
    if (!this.isHoldingInput) return true;
    this.owesInputDrain = true;
    return false;
  }

  /** `receive` without the answer, for a face that asks `isHoldingInput` itself. */
  push(chunk: Buffer): void {
    if (this.readyState === 3) return;
    if (this.connection === undefined) {
      this.holdInput(chunk);
      return;
    }
    this.connection.push(chunk);
    if (!this.isPumping) this.pump();
  }

  /** Holds bytes that arrived before the opening, for open() to read. */
  holdInput(chunk: Buffer): void {
    if (chunk.length > 0) {
      this.pendingInput ??= [];
      this.pendingInput.push(chunk);
    }
  }

  /** `receive` returned false, seen by a face that asked `isHoldingInput` itself: a drain is owed. */
  inputBlocked(): void {
    this.owesInputDrain = true;
  }

  /**
   * Sends a message (`compress: false` opts this one out of compression). While connecting it waits for
   * the opening. False when the connection is closing or closed.
   */
  send(opcode: number, data: string | Buffer, compress: boolean): boolean {
    if (this.readyState > 1) return false;
    if (this.readyState === 0) {
      this.queuedSends ??= [];
      this.queuedSends.push({ kind: 'data', opcode, data, compress });
      return true;
    }
    return this.sendNow(opcode, data, compress);
  }

  /**
   * Sends a message framed once for many connections (`prepareMessage`): the shared bytes are written.
   * With an extension negotiated (permessage-deflate) the message goes through it like any other, since
   * its bytes depend on this connection.
   */
  sendPrepared(message: PreparedMessage, compress: boolean): boolean {
    if (this.readyState !== 1 || this.hasActiveExtensions) {
      return this.send(message.opcode, message.data, compress);
    }
    const connection = this.connection!;
    if (!connection.canSend) return false;
    this.host.sessionWrite(connection.sendPrepared(message));
    return true;
  }

  /** Sends a ping; `callback` runs when a pong with the same payload arrives. */
  ping(payload: Buffer = EMPTY, callback?: () => void): boolean {
    if (this.readyState > 1) return false;
    if (callback !== undefined) {
      const key = payload.toString('latin1');
      this.pingCallbacks ??= new Map();
      const list = this.pingCallbacks.get(key);
      if (list === undefined) this.pingCallbacks.set(key, [callback]);
      else list.push(callback);
    }
    if (this.readyState === 0) {
      this.queuedSends ??= [];
      this.queuedSends.push({ kind: 'ping', data: payload });
      return true;
    }
    this.host.sessionWrite(this.connection!.sendPing(payload));
    return true;
  }

  /** Sends an unsolicited pong (a one-way heartbeat, RFC 6455 §5.5.3). */
  pong(payload: Buffer = EMPTY): boolean {
    if (this.readyState > 1) return false;
    if (this.readyState === 0) {
      this.queuedSends ??= [];
      this.queuedSends.push({ kind: 'pong', data: payload });
      return true;
    }
    this.host.sessionWrite(this.connection!.sendPong(payload));
    return true;
  }

  /**
   * Starts the closing handshake. Messages sent earlier and still being compressed are written before
   * the close frame. While connecting, the session closes at once.
   */
  close(code: number, reason: string): boolean {
    if (this.readyState === 0) {
      this.readyState = 3;
      this.emitClose(code, reason);
      return true;
    }
    if (this.readyState !== 1) return false;
    this.readyState = 2;
    if (this.outgoingInFlight > 0) this.deferredClose = { code, reason };
    else this.host.sessionWrite(this.connection!.sendClose(code, reason));
    return true;
  }

  /** The transport's write buffer is full: a pong owed meanwhile is held (only the latest one). */
  outputBlocked(): void {
    this.isOutputBlocked = true;
  }

  /** The transport can take more: send the pong held back while it was full. */
  outputDrained(): void {
    this.isOutputBlocked = false;
    const pong = this.pendingPong;
    this.pendingPong = undefined;
    // A pong after our close frame is not allowed (RFC 6455 §5.5.1: nothing follows a close).
    if (pong !== undefined && this.connection?.canSend === true) this.host.sessionWrite(pong);
  }

  /**
   * The transport ended: a connection not yet closed reports 1006 (RFC 6455 §7.1.5). Bytes not yet read
   * are dropped: a transport that honoured backpressure delivers its end only after they were read, so
   * what is left is the backlog of a peer that vanished (reset, destroyed), and decoding it would be
   * work for nobody. A message already in the extension pipeline is delivered first.
   */
  transportEnded(): void {
    if (this.readyState === 3) return;
    if (this.connection === undefined) {
      this.readyState = 3;
      this.pendingInput = undefined;
      this.emitClose(CloseCode.Abnormal, '');
      return;
    }
    this.connection.discardInput();
    if (this.isAwaitingExtension || this.outgoingInFlight > 0) {
      // A message already received is being decoded, or a reply to one compressed: deliver and write
      // them before reporting the end.
      this.hasTransportEnded = true;
      return;
    }
    for (const event of this.connection.transportClosed()) this.handle(event);
  }

  /**
   * The server's half of the negotiation (RFC 6455 §4.2.2, over HTTP/1.1 or HTTP/2): picks the
   * subprotocol from the client's offer (and sets `protocol`) and answers its extension offer. Returns
   * what the response carries, or the 400 to answer when the extension offer cannot be negotiated.
   */
  acceptOffer(
    offeredProtocols: readonly string[],
    configuredProtocols: readonly string[],
    extensionOffer: string | undefined,
  ): { protocol: string | undefined; extensionHeader: string | undefined } | HandshakeError {
    const protocol = selectSubprotocol(offeredProtocols, configuredProtocols);
    let extensionHeader: string | undefined;
    try {
      const extensions = this.extensionsValue;
      if (extensions === undefined) parseOffer(extensionOffer);
      else extensionHeader = extensions.generateResponse(extensionOffer);
    } catch (error) {
      if (error instanceof ExtensionNegotiationError) return new HandshakeError(400, error.message);
      throw error;
    }
    this.protocol = protocol;
    return { protocol, extensionHeader };
  }

  /** The handshake succeeded: create the protocol connection, report the opening, flush what waited. */
  open(): void {
    // The transport may have ended (or close() been called) while the handshake response was written.
    if (this.readyState !== 0) return;
    const options = this.options;
    const extensions = this.extensionsValue;
    const connection = new Connection({
      role: this.role,
      maxLength: this.maxLength,
      ...(options.maxFragments === undefined ? {} : { maxFragments: options.maxFragments }),
      ...(options.requireMasking === undefined ? {} : { requireMasking: options.requireMasking }),
      ...(options.masking === undefined ? {} : { masking: options.masking }),
      allowedRsvBits: extensions?.allowedRsvBits ?? 0,
      hasExtensions: extensions?.isActive === true,
      // The session replies to a close itself, after any message still in the extension pipeline.
      autoCloseReply: false,
    });
    this.connection = connection;
    if (extensions?.isActive === true) {
      extensions.onProcessed(
        (error, message) => this.onIncomingProcessed(error, message),
        (error, message) => this.onOutgoingProcessed(error, message),
      );
    }
    this.readyState = 1;
    // As websocket-driver does: what was accepted before the handshake goes out before the opening is
    // reported, so that it precedes whatever an 'open' listener sends and survives a close() it makes.
    const queued = this.queuedSends ?? [];
    this.queuedSends = undefined;
    for (const item of queued) {
      if (this.readyState !== 1) break;
      if (item.kind === 'data') this.sendNow(item.opcode, item.data, item.compress);
      else if (item.kind === 'ping') this.host.sessionWrite(connection.sendPing(item.data));
      else this.host.sessionWrite(connection.sendPong(item.data));
    }
    if (this.readyState !== 1) return;
    this.host.sessionOpened();
    // Queue every held chunk before reading any: a listener that makes more bytes arrive while the
    // first message is delivered must not get them ahead of the held ones.
    const input = this.pendingInput ?? [];
    this.pendingInput = undefined;
    // A close() in the 'open' listener still reads the peer's frames until its close frame (RFC 6455
    // §7.1.2); dropping the held ones would leave the parser in the middle of a frame.
    if (this.hasEmittedClose) return;
    for (const chunk of input) connection.push(chunk);
    this.pump();
  }

  /** The handshake failed: report `error`, then the close with `code`. */
  failHandshake(error: Error, code: number = CloseCode.ProtocolError): false {
    this.readyState = 3;
    this.pendingInput = undefined;
    this.queuedSends = undefined;
    this.extensionsValue?.close();
    this.host.sessionError(error);
    this.emitClose(code, error.message);
    return false;
  }

  // --- internals -----------------------------------------------------------------------------

  private sendNow(opcode: number, data: string | Buffer, compress: boolean): boolean {
    const connection = this.connection!;
    if (!connection.canSend) return false;
    if (!this.hasActiveExtensions) {
      this.host.sessionWrite(
        typeof data === 'string' ? connection.sendText(data) : connection.sendFragment(opcode, data, true),
      );
      return true;
    }
    this.outgoingInFlight++;
    const message: ExtensionMessage = {
      rsv1: false,
      rsv2: false,
      rsv3: false,
      opcode,
      data: typeof data === 'string' ? Buffer.from(data, 'utf8') : data,
    };
    if (!compress) message.compress = false;
    // Bound: what the application sends; bufferedOutgoingBytes counts it so that backpressure holds it back.
    this.inFlightSizes ??= [];
    this.inFlightSizes.push(message.data.length);
    this.outgoingInFlightBytes += message.data.length;
    this.extensionsValue!.processOutgoingMessage(message);
    return true;
  }

  private onOutgoingProcessed(error: Error | null, message: ExtensionMessage | undefined): void {
    this.outgoingInFlight--;
    this.outgoingInFlightBytes -= this.inFlightSizes?.shift() ?? 0;
    const connection = this.connection!;
    if (error !== null || message === undefined) {
      const reason = error?.message ?? 'extension failed';
      for (const event of connection.fail(closeCodeOf(error, CloseCode.InternalError), reason))
        this.handle(event);
    } else if (connection.canSend) {
      const rsvBits = (message.rsv1 ? RSV1 : 0) | (message.rsv2 ? RSV2 : 0) | (message.rsv3 ? RSV3 : 0);
      this.host.sessionWrite(connection.sendFragment(message.opcode, message.data, true, rsvBits));
    }
    if (this.outgoingInFlight > 0) return;
    this.host.sessionOutgoingIdle();
    if (this.deferredClose !== undefined) {
      const { code, reason } = this.deferredClose;
      this.deferredClose = undefined;
      if (this.readyState === 2) this.host.sessionWrite(connection.sendClose(code, reason));
    }
    const closeEvent = this.pendingCloseEvent;
    if (closeEvent !== undefined) {
      this.pendingCloseEvent = undefined;
      this.host.sessionWrite(connection.sendCloseReply());
      this.readyState = 3;
      this.emitClose(closeEvent.code, closeEvent.reason);
    }
    // Reading waited for these messages (see canReadEvents).
    this.readOn();
  }

  private onIncomingProcessed(error: Error | null, message: ExtensionMessage | undefined): void {
    if (!this.isAwaitingExtension) return; // closed meanwhile
    this.isAwaitingExtension = false;
    const connection = this.connection!;
    const events =
      error !== null || message === undefined
        ? // websocket-extensions: a failing extension fails the connection with 1010 unless it names a code.
          connection.fail(
            closeCodeOf(error, CloseCode.MandatoryExtension),
            error?.message ?? 'extension failed',
          )
        : connection.completeExtensionMessage(message.opcode, message.data);
    for (const event of events) this.handle(event);
    this.readOn();
  }

  /**
   * Whether the next event may be read (a paused consumer aside): not while a received message is in the
   * extension pipeline (order, bounded memory), nor while messages the application sent are being
   * compressed. The latter keeps a reply ahead of our close: a frame breaking the protocol right after a
   * message fails the connection, and its close frame must not overtake the echo of that message (what
   * Autobahn 3.2, 4.1.3 and 5.15 check). Compression never waits for reading, so this cannot deadlock.
   */
  private get canReadEvents(): boolean {
    return !this.isAwaitingExtension && this.outgoingInFlight === 0;
  }

  /** Reads on after whatever stopped reading ended, then reports a transport end that had to wait. */
  private readOn(): void {
    // When this runs from inside pump() (an extension answering synchronously), pump() reads on itself.
    if (this.connection === undefined || this.isPumping) return;
    this.pump();
    if (this.hasTransportEnded && this.canReadEvents) {
      this.hasTransportEnded = false;
      this.transportEnded();
    }
  }

  /**
   * Reads events from the connection one at a time and acts on each before reading the next, so an
   * application answering a message does so before a close that followed it is processed. While a
   * message is in the extension pipeline, reading waits: order is kept and memory stays bounded.
   */
  private pump(): void {
    const connection = this.connection!;
    this.isPumping = true;
    try {
      // A paused consumer stops delivery too, not only the transport: otherwise the bytes of one socket
      // read could still become thousands of messages (each inflated up to maxLength) queued for it.
      while (this.canReadEvents && !this.isConsumerPaused) {
        const event = connection.nextEvent();
        if (event === undefined) break;
        this.handle(event);
      }
    } finally {
      this.isPumping = false;
    }
    this.drainInputIfDue();
  }

  /** `receive` said false earlier and nothing is held any more: the transport may read again. */
  private drainInputIfDue(): void {
    if (!this.owesInputDrain || this.isHoldingInput) return;
    this.owesInputDrain = false;
    this.host.sessionInputDrained();
  }

  private handle(event: ConnectionEvent): void {
    if (event.type === 'write') {
      if (event.opcode === Opcode.Pong && this.isOutputBlocked) {
        // RFC 6455 §5.5.3: with several pings unanswered, answering only the latest is allowed. While
        // the transport is full, keep just that one, so a peer flooding pings without reading our pongs
        // cannot grow our write buffer without bound.
        this.pendingPong = event.data;
        return;
      }
      this.host.sessionWrite(event.data);
    } else if (event.type === 'extension-message') {
      this.isAwaitingExtension = true;
      this.extensionsValue!.processIncomingMessage({
        rsv1: (event.rsvBits & RSV1) !== 0,
        rsv2: (event.rsvBits & RSV2) !== 0,
        rsv3: (event.rsvBits & RSV3) !== 0,
        opcode: event.opcode,
        data: event.data,
      });
    } else {
      this.deliver(event);
    }
  }

  private deliver(event: ConnectionEvent): void {
    if (this.hasEmittedClose) return;
    switch (event.type) {
      case 'text':
      case 'binary':
        this.host.sessionMessage(event.data);
        return;
      case 'ping':
        this.host.sessionPing(event.data);
        return;
      case 'pong': {
        const key = event.data.toString('latin1');
        const callbacks = this.pingCallbacks?.get(key);
        if (callbacks !== undefined) {
          this.pingCallbacks!.delete(key);
          for (const callback of callbacks) callback();
        }
        this.host.sessionPong(event.data);
        return;
      }
      case 'close': {
        const connection = this.connection!;
        if (connection.isCloseReplyDue) {
          if (this.outgoingInFlight > 0) {
            // RFC 6455 §5.5.1: the reply may wait for messages already accepted by send(); they are
            // written first, then the reply, then the application hears of the close.
            this.readyState = 2;
            this.pendingCloseEvent = event;
            return;
          }
          this.host.sessionWrite(connection.sendCloseReply());
        }
        this.readyState = 3;
        this.emitClose(event.code, event.reason);
        return;
      }
      case 'fail':
        this.readyState = 3;
        this.host.sessionError(new ProtocolError(event.code, event.reason));
        this.emitClose(event.code, event.reason);
        return;
      default:
        return;
    }
  }

  private emitClose(code: number, reason: string): void {
    if (this.hasEmittedClose) return;
    this.hasEmittedClose = true;
    this.extensionsValue?.close();
    this.pingCallbacks = undefined;
    this.isAwaitingExtension = false;
    this.host.sessionClosed(code, reason);
  }
}

/**
 * The extension is stateless (sessions hold the state), so every session given the same options shares
 * one: a server's connections all get its options object. Its options are read when first used.
 */
let defaultPermessageDeflate: Extension | undefined;
const permessageDeflateByOptions = new WeakMap<PerMessageDeflateOptions, Extension>();
function sharedPermessageDeflate(options: true | PerMessageDeflateOptions): Extension {
  if (options === true) {
    defaultPermessageDeflate ??= permessageDeflate({});
    return defaultPermessageDeflate;
  }
  let extension = permessageDeflateByOptions.get(options);
  if (extension === undefined) {
    extension = permessageDeflate(options);
    permessageDeflateByOptions.set(options, extension);
  }
  return extension;
}

function closeCodeOf(error: Error | null, fallback: number): number {
  const code = (error as { closeCode?: unknown } | null)?.closeCode;
  return typeof code === 'number' ? code : fallback;
}
