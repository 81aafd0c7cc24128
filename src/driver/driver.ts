// Owns what server and client drivers share: the websocket-driver API over one sans-IO Connection,
// the extension pipeline with its ordering, and the translation of core events into emitter events.

import { EventEmitter } from 'node:events';
import type { Extension, ExtensionMessage } from '../extensions/extension.js';
import { ExtensionNegotiationError, Extensions } from '../extensions/extensions.js';
import { type PerMessageDeflateOptions, permessageDeflate } from '../extensions/permessage-deflate.js';
import { Connection, type ConnectionEvent, DEFAULT_MAX_LENGTH, type Role } from '../protocol/connection.js';
import { HandshakeError, ProtocolError } from '../protocol/errors.js';
import { RSV1, RSV2, RSV3 } from '../protocol/frame.js';
import { assertSafeHeader, selectSubprotocol } from '../protocol/handshake.js';
import { CloseCode, Opcode } from '../protocol/opcodes.js';
import type { PreparedMessage } from '../protocol/prepared-message.js';
import { IOStream, MessagesStream, type StreamDriver } from './streams.js';

/** Options every driver takes (websocket-driver's, plus hybi's). */
export interface DriverOptions {
  /** Largest incoming message in bytes (default 64 MiB - 1, as websocket-driver). Larger: close 1009. */
  maxLength?: number;
  /** Subprotocols: the server's supported list in preference order, or the client's offer. */
  protocols?: string | readonly string[];
  /** Client: mask outgoing frames (default true; RFC 6455 §5.3). */
  masking?: boolean;
  /** Server: fail with 1002 when a client frame is unmasked (default true; RFC 6455 §5.1). */
  requireMasking?: boolean;
  /** Most frames one message may have (default 131,072). */
  maxFragments?: number;
  /** Largest HTTP head accepted in raw-socket mode (default 16 KiB). */
  maxHeadSize?: number;
  /** hybi's built-in permessage-deflate (RFC 7692): `true` or its options (read once per options object). Off by default. */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /**
   * websocket-driver's switch for the pre-RFC drafts (hixie-75/76). Accepted so that its code runs
   * unchanged, but hybi speaks RFC 6455 only: either way a draft request is refused with 426 and
   * `Sec-WebSocket-Version: 13` (RFC 6455 §4.4), then 'error' and 'close'.
   */
  allowDrafts?: boolean;
}

export const DRIVER_OPTION_KEYS: readonly string[] = [
  'maxLength',
  'protocols',
  'masking',
  'requireMasking',
  'maxFragments',
  'maxHeadSize',
  'perMessageDeflate',
  'allowDrafts',
];

export interface MessageEvent {
  /** A string for a text message, a Buffer for a binary one. */
  data: string | Buffer;
}
export interface PingEvent {
  /** The payload as a string (websocket-driver's shape); `payload` has the bytes. */
  data: string;
  payload: Buffer;
}
export interface CloseEvent {
  code: number;
  reason: string;
}

export type ReadyState = 0 | 1 | 2 | 3;
const STATES = ['connecting', 'open', 'closing', 'closed'] as const;
export type DriverState = (typeof STATES)[number];

/** What 'open' and 'connect' listeners receive: an empty event object, as websocket-driver gives. */
export type OpenEvent = Record<never, never>;

export interface DriverEvents {
  connect: [OpenEvent];
  open: [OpenEvent];
  message: [MessageEvent];
  ping: [PingEvent];
  pong: [PingEvent];
  close: [CloseEvent];
  error: [Error];
  /** Every message given to the extension pipeline (e.g. the compressor) has been written. */
  outgoingIdle: [];
}

const EMPTY = Buffer.alloc(0);

type PendingSend =
  | { kind: 'data'; opcode: number; data: string | Buffer; compress: boolean }
  | { kind: 'ping' | 'pong'; data: Buffer };

/**
 * The protocol side of a websocket-driver driver. Subclasses do the opening handshake and call `open()`.
 */
export abstract class Driver extends EventEmitter<DriverEvents> implements StreamDriver {
  /** 0 connecting, 1 open, 2 closing, 3 closed (the WebSocket API's numbers). */
  readyState: ReadyState = 0;
  /**
   * The negotiated subprotocol. As in websocket-driver: `undefined` until one is agreed (a server that
   * agreed none keeps `undefined`), and `null` on a client whose server answered without one.
   */
  protocol: string | null | undefined = undefined;
  readonly version = 'hybi-13';
  url: string;
  /** Server: the request's headers; client: the response's. */
  headers: Record<string, string | string[] | undefined> = {};
  readonly io: IOStream;

  protected readonly options: DriverOptions;
  protected readonly role: Role;
  protected readonly extensions: Extensions;
  /** Headers added with setHeader(), made on the first one. */
  protected customHeaders: Record<string, string> | undefined;
  protected connection: Connection | undefined;
  protected readonly maxLength: number;
  // What only some connections need is made on first use: an idle server holds thousands of drivers.
  private messagesStream: MessagesStream | undefined;
  /**
   * Bytes that arrived before the connection opened (frames a client sent right after its request).
   * Bound: io.write returns false while any is held, so a transport that honours it adds nothing until
   * open() reads them (the rest of the head's chunk, about one socket read); dropped if the handshake fails.
   */
  private pendingInput: Buffer[] | undefined;
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
  /** io.write returned false: io emits 'drain' once the held bytes have been read. */
  private owesInputDrain = false;
  /** The pong owed for the latest ping received while the socket was full. */
  private pendingPong: Buffer[] | undefined;
  private hasTransportEnded = false;
  private pingCallbacks: Map<string, (() => void)[]> | undefined;
  private hasEmittedClose = false;

  protected constructor(role: Role, url: string, options: DriverOptions) {
    super();
    this.role = role;
    this.url = url;
    this.options = options;
    this.maxLength = options.maxLength ?? DEFAULT_MAX_LENGTH;
    this.extensions = new Extensions({ maxLength: this.maxLength });
    if (options.perMessageDeflate !== undefined && options.perMessageDeflate !== false) {
      this.extensions.add(sharedPermessageDeflate(options.perMessageDeflate));
    }
    this.io = new IOStream(this);
  }

  /**
   * The application side as a classic stream: 'data' per message, `write()` to send, `pause()` to stop
   * reading. Made on first use: most applications listen for 'message' and never touch it.
   */
  get messages(): MessagesStream {
    if (this.messagesStream !== undefined) return this.messagesStream;
    const messages = new MessagesStream(this);
    this.messagesStream = messages;
    // As in websocket-driver: protocol errors reach 'error' listeners but never crash a process that has none.
    messages.on('error', ignoreError);
    if (this.hasEmittedClose || !this.io.writable) {
      messages.readable = false;
      messages.writable = false;
    }
    // Ahead of the application's listeners, where the constructor used to put them.
    this.prependListener('message', forwardMessage);
    this.prependListener('close', endMessages);
    return messages;
  }

  /**
   * Stops reading: no further message is delivered and `io.write` returns false until `resumeInput()`,
   * so a piped socket stops being read. What `messages.pause()` does, without making the messages stream.
   */
  pauseInput(): void {
    this.io.isConsumerPaused = true;
  }

  /** Reads again after `pauseInput()` (or `messages.pause()`): held messages are delivered, `io` emits 'drain'. */
  resumeInput(): void {
    this.io.isConsumerPaused = false;
    // The 'drain' comes once nothing is held: now, or when the bytes still waiting for the extension
    // pipeline (or for a listener that paused again) have been read.
    this.owesInputDrain = true;
    if (this.connection !== undefined && !this.isPumping && this.readyState !== 3) this.pump();
    else this.drainInputIfDue();
  }

  /**
   * @internal Whether received bytes wait here unread (for the extension pipeline, a paused consumer, or
   * the handshake to finish): then `io.write` returns false and the transport should stop reading.
   * This is what bounds a connection's input to about one socket read plus one message in flight.
   */
  get isHoldingInput(): boolean {
    if (this.io.isConsumerPaused) return true;
    if (this.connection === undefined) return this.pendingInput !== undefined;
    return this.connection.hasUnreadInput && this.readyState !== 3;
  }

  /** @internal io.write is about to return false: the transport is owed a 'drain'. */
  inputBlocked(): void {
    this.owesInputDrain = true;
  }

  /**
   * Lets go of `headers` (they become `{}`): for an adapter that handed the request to the application
   * already and keeps the driver for the connection's life. A browser's request headers (cookies,
   * user agent) are most of the memory a server driver would otherwise keep per idle connection.
   */
  forgetHeaders(): void {
    this.headers = {};
  }

  /** @internal The messages stream, if the application has made it. */
  get existingMessages(): MessagesStream | undefined {
    return this.messagesStream;
  }

  /**
   * The WebSocket URL, always absolute (`ws://host/path`). Usually `url`; a `server()` driver's `url` is
   * the request target (`/path?query`), as websocket-driver's is, and this rebuilds the URL from Host.
   */
  get absoluteUrl(): string {
    return this.url;
  }

  /** 'connecting', 'open', 'closing' or 'closed'. */
  getState(): DriverState {
    return STATES[this.readyState];
  }

  /**
   * Adds a header to the handshake (before `start()` only). Throws TypeError for a name that is not a
   * token or a value with CR, LF or NUL (no response splitting).
   */
  setHeader(name: string, value: string | number): boolean {
    if (this.readyState > 0) return false;
    const text = String(value);
    assertSafeHeader(name, text);
    this.customHeaders ??= {};
    this.customHeaders[name] = text;
    return true;
  }

  /** Registers an extension (websocket-extensions style, e.g. npm `permessage-deflate`) before `start()`. */
  addExtension(extension: Extension): boolean {
    if (this.readyState > 0) return false;
    this.extensions.add(extension);
    return true;
  }

  /**
   * Bytes of messages accepted by send() that are still in the extension pipeline (being compressed),
   * not yet written to `io`. Adapters add them to what they report as buffered.
   */
  get bufferedOutgoingBytes(): number {
    return this.outgoingInFlightBytes;
  }

  /** Names of the extensions negotiated in the handshake. */
  get negotiatedExtensions(): string[] {
    return this.extensions.activeNames;
  }

  abstract start(): boolean;

  /** Feeds bytes received from the transport. Takes ownership of `chunk` (payloads are unmasked in place). */
  parse(chunk: Buffer): void {
    if (this.readyState === 3) return;
    if (this.connection === undefined) {
      this.receiveHandshakeBytes(chunk);
      return;
    }
    this.connection.push(chunk);
    if (!this.isPumping) this.pump();
  }

  /** Sends a text message. False when the connection is closing or closed. */
  text(message: string): boolean {
    return this.send(Opcode.Text, String(message), true);
  }

  /** Sends a binary message; a string is sent as its UTF-8 bytes (as websocket-driver does). */
  binary(message: Buffer | Uint8Array | string): boolean {
    const data =
      typeof message === 'string'
        ? Buffer.from(message, 'utf8')
        : Buffer.isBuffer(message)
          ? message
          : Buffer.from(message.buffer, message.byteOffset, message.byteLength);
    return this.send(Opcode.Binary, data, true);
  }

  /**
   * Sends a message; `compress: false` opts this one out of compression.
   * @example driver.send('{"type":"ack"}', { compress: false })
   */
  send(opcode: number, data: string | Buffer, compress: boolean): boolean;
  send(data: string | Buffer, options?: { compress?: boolean }): boolean;
  send(
    first: number | string | Buffer,
    second?: string | Buffer | { compress?: boolean },
    third?: boolean,
  ): boolean {
    let opcode: number;
    let data: string | Buffer;
    let compress: boolean;
    if (typeof first === 'number') {
      opcode = first;
      data = second as string | Buffer;
      compress = third !== false;
    } else {
      data = first;
      opcode = typeof first === 'string' ? Opcode.Text : Opcode.Binary;
      compress = (second as { compress?: boolean } | undefined)?.compress !== false;
    }
    if (this.readyState > 1) return false;
    if (this.readyState === 0) {
      this.queuedSends ??= [];
      this.queuedSends.push({ kind: 'data', opcode, data, compress });
      return true;
    }
    return this.sendNow(opcode, data, compress);
  }

  /**
   * Sends a message framed once for many connections (`prepareMessage`): a server writes its shared
   * bytes. With an extension negotiated (permessage-deflate) the message goes through it like any
   * other, since its bytes depend on this connection; `compress: false` opts this one out.
   */
  sendPrepared(message: PreparedMessage, options?: { compress?: boolean }): boolean {
    const compress = options?.compress !== false;
    if (this.readyState !== 1 || this.extensions.isActive) {
      return this.send(message.opcode, message.data, compress);
    }
    const connection = this.connection!;
    if (!connection.canSend) return false;
    this.write(connection.sendPrepared(message));
    return true;
  }

  /** Sends a ping; `callback` runs when a pong with the same payload arrives. */
  ping(message: string | Buffer = EMPTY, callback?: () => void): boolean {
    if (this.readyState > 1) return false;
    const payload = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
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
    this.write(this.connection!.sendPing(payload));
    return true;
  }

  /** Sends an unsolicited pong (a one-way heartbeat, RFC 6455 §5.5.3). */
  pong(message: string | Buffer = EMPTY): boolean {
    if (this.readyState > 1) return false;
    const payload = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
    if (this.readyState === 0) {
      this.queuedSends ??= [];
      this.queuedSends.push({ kind: 'pong', data: payload });
      return true;
    }
    this.write(this.connection!.sendPong(payload));
    return true;
  }

  /**
   * Starts the closing handshake (websocket-driver's argument order: reason first). Messages sent
   * earlier and still being compressed are written before the close frame.
   */
  close(reason?: string, code?: number): boolean {
    const closeCode = code ?? CloseCode.Normal;
    const closeReason = reason ?? '';
    if (this.readyState === 0) {
      this.readyState = 3;
      this.emitClose(closeCode, closeReason);
      return true;
    }
    if (this.readyState !== 1) return false;
    this.readyState = 2;
    if (this.outgoingInFlight > 0) this.deferredClose = { code: closeCode, reason: closeReason };
    else this.write(this.connection!.sendClose(closeCode, closeReason));
    return true;
  }

  /** @internal The socket can take more: send the pong held back while it was full. */
  outputDrained(): void {
    const pong = this.pendingPong;
    this.pendingPong = undefined;
    // A pong after our close frame is not allowed (RFC 6455 §5.5.1: nothing follows a close).
    if (pong !== undefined && this.connection?.canSend === true) this.write(pong);
  }

  /**
   * @internal The transport ended: a connection not yet closed reports 1006 (RFC 6455 §7.1.5). Bytes
   * not yet read are dropped: a transport that honoured backpressure delivers its end only after they
   * were read, so what is left is the backlog of a peer that vanished (reset, destroyed), and decoding it
   * would be work for nobody. A message already in the extension pipeline is delivered first.
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

  // --- for subclasses ------------------------------------------------------------------------

  /** The `protocols` option as a list: what a client offers, or what a server accepts, in its order. */
  protected get configuredProtocols(): readonly string[] {
    const protocols = this.options.protocols;
    if (protocols === undefined) return [];
    return typeof protocols === 'string' ? [protocols] : protocols;
  }

  /**
   * The server's half of the negotiation (RFC 6455 §4.2.2, over HTTP/1.1 or HTTP/2): picks the
   * subprotocol from the client's offer (and sets `protocol`) and answers its extension offer. Returns
   * what the response carries, or the 400 to answer when the extension offer cannot be negotiated.
   */
  protected negotiateAsServer(
    offeredProtocols: readonly string[],
    extensionOffer: string | undefined,
  ): { protocol: string | undefined; extensionHeader: string | undefined } | HandshakeError {
    const protocol = selectSubprotocol(offeredProtocols, this.configuredProtocols);
    let extensionHeader: string | undefined;
    try {
      extensionHeader = this.extensions.generateResponse(extensionOffer);
    } catch (error) {
      if (error instanceof ExtensionNegotiationError) return new HandshakeError(400, error.message);
      throw error;
    }
    this.protocol = protocol;
    return { protocol, extensionHeader };
  }

  /** Bytes before the connection opened: the handshake's, or early frames to keep for later. */
  protected abstract receiveHandshakeBytes(chunk: Buffer): void;

  protected holdInput(chunk: Buffer): void {
    if (chunk.length > 0) {
      this.pendingInput ??= [];
      this.pendingInput.push(chunk);
    }
  }

  protected write(chunks: readonly Buffer[]): void {
    const io = this.io;
    if (!io.readable) return;
    for (const chunk of chunks) io.emit('data', chunk);
  }

  /** The handshake succeeded: create the protocol connection, emit 'open', flush what waited. */
  protected open(): void {
    // The transport may have ended (or close() been called) while the handshake response was written.
    if (this.readyState !== 0) return;
    const options = this.options;
    this.connection = new Connection({
      role: this.role,
      maxLength: this.maxLength,
      ...(options.maxFragments === undefined ? {} : { maxFragments: options.maxFragments }),
      ...(options.requireMasking === undefined ? {} : { requireMasking: options.requireMasking }),
      ...(options.masking === undefined ? {} : { masking: options.masking }),
      allowedRsvBits: this.extensions.allowedRsvBits,
      hasExtensions: this.extensions.isActive,
      // The driver replies to a close itself, after any message still in the extension pipeline.
      autoCloseReply: false,
    });
    if (this.extensions.isActive) {
      this.extensions.onProcessed(
        (error, message) => this.onIncomingProcessed(error, message),
        (error, message) => this.onOutgoingProcessed(error, message),
      );
    }
    this.readyState = 1;
    // As websocket-driver does: what was accepted before the handshake goes out before 'open', so that
    // it precedes whatever the 'open' listener sends and survives a close() the listener makes.
    const queued = this.queuedSends ?? [];
    this.queuedSends = undefined;
    for (const item of queued) {
      if (this.readyState !== 1) break;
      if (item.kind === 'data') this.sendNow(item.opcode, item.data, item.compress);
      else if (item.kind === 'ping') this.write(this.connection.sendPing(item.data));
      else this.write(this.connection.sendPong(item.data));
    }
    if (this.readyState !== 1) return;
    this.emit('open', {});
    // Queue every held chunk before reading any: a listener that makes more bytes arrive while the
    // first message is delivered must not get them ahead of the held ones.
    const input = this.pendingInput ?? [];
    this.pendingInput = undefined;
    // A close() in the 'open' listener still reads the peer's frames until its close frame (RFC 6455
    // §7.1.2); dropping the held ones would leave the parser in the middle of a frame.
    if (this.hasEmittedClose) return;
    for (const chunk of input) this.connection.push(chunk);
    this.pump();
  }

  /** The handshake failed: report it as websocket-driver does, with 'error' then 'close'. */
  protected failHandshake(error: Error, code: number = CloseCode.ProtocolError): false {
    this.readyState = 3;
    this.pendingInput = undefined;
    this.queuedSends = undefined;
    this.extensions.close();
    this.emit('error', error);
    this.emitClose(code, error.message);
    return false;
  }

  // --- internals -----------------------------------------------------------------------------

  private sendNow(opcode: number, data: string | Buffer, compress: boolean): boolean {
    const connection = this.connection!;
    if (!connection.canSend) return false;
    if (!this.extensions.isActive) {
      this.write(
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
    this.inFlightSizes ??= [];
    this.inFlightSizes.push(message.data.length);
    this.outgoingInFlightBytes += message.data.length;
    this.extensions.processOutgoingMessage(message);
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
      this.write(connection.sendFragment(message.opcode, message.data, true, rsvBits));
    }
    if (this.outgoingInFlight > 0) return;
    this.emit('outgoingIdle');
    if (this.deferredClose !== undefined) {
      const { code, reason } = this.deferredClose;
      this.deferredClose = undefined;
      if (this.readyState === 2) this.write(connection.sendClose(code, reason));
    }
    const closeEvent = this.pendingCloseEvent;
    if (closeEvent !== undefined) {
      this.pendingCloseEvent = undefined;
      this.write(connection.sendCloseReply());
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
    const io = this.io;
    this.isPumping = true;
    try {
      // A paused consumer stops delivery too, not only the transport: otherwise the bytes of one socket
      // read could still become thousands of messages (each inflated up to maxLength) queued for it.
      while (this.canReadEvents && !io.isConsumerPaused) {
        const event = connection.nextEvent();
        if (event === undefined) break;
        this.handle(event);
      }
    } finally {
      this.isPumping = false;
    }
    this.drainInputIfDue();
  }

  /** io.write said false earlier and nothing is held any more: the transport may read again. */
  private drainInputIfDue(): void {
    if (!this.owesInputDrain || this.isHoldingInput) return;
    this.owesInputDrain = false;
    this.io.emit('drain');
  }

  private handle(event: ConnectionEvent): void {
    if (event.type === 'write') {
      if (event.opcode === Opcode.Pong && this.io.isPaused) {
        // RFC 6455 §5.5.3: with several pings unanswered, answering only the latest is allowed. While
        // the socket is full, keep just that one, so a peer flooding pings without reading our pongs
        // cannot grow our write buffer without bound.
        this.pendingPong = event.data;
        return;
      }
      this.write(event.data);
    } else if (event.type === 'extension-message') {
      this.isAwaitingExtension = true;
      this.extensions.processIncomingMessage({
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
        this.emit('message', { data: event.data });
        return;
      case 'ping':
        this.emit('ping', { data: event.data.toString('utf8'), payload: event.data });
        return;
      case 'pong': {
        const key = event.data.toString('latin1');
        const callbacks = this.pingCallbacks?.get(key);
        if (callbacks !== undefined) {
          this.pingCallbacks!.delete(key);
          for (const callback of callbacks) callback();
        }
        this.emit('pong', { data: event.data.toString('utf8'), payload: event.data });
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
          this.write(connection.sendCloseReply());
        }
        this.readyState = 3;
        this.emitClose(event.code, event.reason);
        return;
      }
      case 'fail':
        this.readyState = 3;
        this.emit('error', new ProtocolError(event.code, event.reason));
        this.emitClose(event.code, event.reason);
        return;
      default:
        return;
    }
  }

  private emitClose(code: number, reason: string): void {
    if (this.hasEmittedClose) return;
    this.hasEmittedClose = true;
    this.extensions.close();
    this.pingCallbacks = undefined;
    this.isAwaitingExtension = false;
    this.emit('close', { code, reason });
  }

  override emit<K extends keyof DriverEvents>(event: K, ...args: DriverEvents[K]): boolean {
    // As in websocket-driver, an 'error' nobody listens for is informational, not a crash.
    if (event === 'error' && this.listenerCount('error') === 0) return false;
    return super.emit(event, ...(args as never));
  }
}

function ignoreError(): void {}

/**
 * The extension is stateless (sessions hold the state), so every driver given the same options shares
 * one: a server's drivers all get its options object. Its options are read when first used.
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

function forwardMessage(this: Driver, event: MessageEvent): void {
  const messages = this.existingMessages;
  if (messages?.readable === true) messages.emit('data', event.data);
}

function endMessages(this: Driver): void {
  const messages = this.existingMessages;
  if (messages === undefined || !messages.readable) return;
  messages.readable = false;
  messages.writable = false;
  messages.emit('end');
}

function closeCodeOf(error: Error | null, fallback: number): number {
  const code = (error as { closeCode?: unknown } | null)?.closeCode;
  return typeof code === 'number' ? code : fallback;
}
