// Owns what server and client drivers share: the websocket-driver API over one Session (the sans-IO
// connection with its extension pipeline), and the translation of the session's reports into emitter events.

import { EventEmitter } from 'node:events';
import type { Extension } from '../extensions/extension.js';
import type { Extensions } from '../extensions/extensions.js';
import type { PerMessageDeflateOptions } from '../extensions/permessage-deflate.js';
import type { Role } from '../protocol/connection.js';
import type { HandshakeError } from '../protocol/errors.js';
import { assertSafeHeader } from '../protocol/handshake.js';
import { CloseCode, Opcode } from '../protocol/opcodes.js';
import type { PreparedMessage } from '../protocol/prepared-message.js';
import { type ReadyState, Session, type SessionHost } from '../session/session.js';
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

export type { ReadyState } from '../session/session.js';

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

/**
 * The protocol side of a websocket-driver driver. Subclasses do the opening handshake and call `open()`.
 * The connection itself lives in a {@link Session}, the same one the WebSocket face drives without
 * an emitter; this class turns its reports into websocket-driver's events and streams.
 */
export abstract class Driver extends EventEmitter<DriverEvents> implements StreamDriver, SessionHost {
  readonly version = 'hybi-13';
  url: string;
  /** Server: the request's headers; client: the response's. */
  headers: Record<string, string | string[] | undefined> = {};
  readonly io: IOStream;
  /** @internal The connection under this driver: what the WebSocket face drives directly. */
  readonly session: Session;

  protected readonly options: DriverOptions;
  protected readonly role: Role;
  /** Headers added with setHeader(), made on the first one. */
  protected customHeaders: Record<string, string> | undefined;
  // What only some connections need is made on first use: an idle server holds thousands of drivers.
  private messagesStream: MessagesStream | undefined;

  protected constructor(role: Role, url: string, options: DriverOptions) {
    super();
    this.role = role;
    this.url = url;
    this.options = options;
    this.session = new Session(this, role, options);
    this.io = new IOStream(this);
  }

  /** 0 connecting, 1 open, 2 closing, 3 closed (the WebSocket API's numbers). */
  get readyState(): ReadyState {
    return this.session.readyState;
  }

  /**
   * The negotiated subprotocol. As in websocket-driver: `undefined` until one is agreed (a server that
   * agreed none keeps `undefined`), and `null` on a client whose server answered without one.
   */
  get protocol(): string | null | undefined {
    return this.session.protocol;
  }
  set protocol(value: string | null | undefined) {
    this.session.protocol = value;
  }

  protected get extensions(): Extensions {
    return this.session.extensions;
  }

  protected get maxLength(): number {
    return this.session.maxLength;
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
    if (this.session.hasClosed || !this.io.writable) {
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
    this.session.pauseInput();
  }

  /** Reads again after `pauseInput()` (or `messages.pause()`): held messages are delivered, `io` emits 'drain'. */
  resumeInput(): void {
    this.session.resumeInput();
  }

  /**
   * @internal Whether received bytes wait here unread (for the extension pipeline, a paused consumer, or
   * the handshake to finish): then `io.write` returns false and the transport should stop reading.
   * This is what bounds a connection's input to about one socket read plus one message in flight.
   */
  get isHoldingInput(): boolean {
    return this.session.isHoldingInput;
  }

  /** @internal io.write is about to return false: the transport is owed a 'drain'. */
  inputBlocked(): void {
    this.session.inputBlocked();
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
    return this.session.bufferedOutgoingBytes;
  }

  /** Names of the extensions negotiated in the handshake. */
  get negotiatedExtensions(): string[] {
    return this.session.negotiatedExtensions;
  }

  abstract start(): boolean;

  /** Feeds bytes received from the transport. Takes ownership of `chunk` (payloads are unmasked in place). */
  parse(chunk: Buffer): void {
    const session = this.session;
    if (session.readyState === 3) return;
    if (!session.isOpen) {
      this.receiveHandshakeBytes(chunk);
      return;
    }
    session.push(chunk);
  }

  /** Sends a text message. False when the connection is closing or closed. */
  text(message: string): boolean {
    return this.session.send(Opcode.Text, String(message), true);
  }

  /** Sends a binary message; a string is sent as its UTF-8 bytes (as websocket-driver does). */
  binary(message: Buffer | Uint8Array | string): boolean {
    const data =
      typeof message === 'string'
        ? Buffer.from(message, 'utf8')
        : Buffer.isBuffer(message)
          ? message
          : Buffer.from(message.buffer, message.byteOffset, message.byteLength);
    return this.session.send(Opcode.Binary, data, true);
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
    if (typeof first === 'number')
      return this.session.send(first, second as string | Buffer, third !== false);
    const compress = (second as { compress?: boolean } | undefined)?.compress !== false;
    return this.session.send(typeof first === 'string' ? Opcode.Text : Opcode.Binary, first, compress);
  }

  /**
   * Sends a message framed once for many connections (`prepareMessage`): a server writes its shared
   * bytes. With an extension negotiated (permessage-deflate) the message goes through it like any
   * other, since its bytes depend on this connection; `compress: false` opts this one out.
   */
  sendPrepared(message: PreparedMessage, options?: { compress?: boolean }): boolean {
    return this.session.sendPrepared(message, options?.compress !== false);
  }

  /** Sends a ping; `callback` runs when a pong with the same payload arrives. */
  ping(message: string | Buffer = EMPTY, callback?: () => void): boolean {
    if (this.readyState > 1) return false;
    const payload = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
    return this.session.ping(payload, callback);
  }

  /** Sends an unsolicited pong (a one-way heartbeat, RFC 6455 §5.5.3). */
  pong(message: string | Buffer = EMPTY): boolean {
    if (this.readyState > 1) return false;
    const payload = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
    return this.session.pong(payload);
  }

  /**
   * Starts the closing handshake (websocket-driver's argument order: reason first). Messages sent
   * earlier and still being compressed are written before the close frame.
   */
  close(reason?: string, code?: number): boolean {
    return this.session.close(code ?? CloseCode.Normal, reason ?? '');
  }

  /** @internal The socket we write to is full: a pong owed meanwhile is held. */
  outputBlocked(): void {
    this.session.outputBlocked();
  }

  /** @internal The socket can take more: send the pong held back while it was full. */
  outputDrained(): void {
    this.session.outputDrained();
  }

  /**
   * @internal The transport ended: a connection not yet closed reports 1006 (RFC 6455 §7.1.5). Bytes
   * not yet read are dropped; a message already in the extension pipeline is delivered first.
   */
  transportEnded(): void {
    this.session.transportEnded();
  }

  // --- the session's reports, as websocket-driver's events ---------------------------------------

  /** @internal */
  sessionWrite(chunks: readonly Buffer[]): void {
    this.write(chunks);
  }

  /** @internal */
  sessionOpened(): void {
    this.emit('open', {});
  }

  /** @internal */
  sessionMessage(data: string | Buffer): void {
    this.emit('message', { data });
  }

  /** @internal */
  sessionPing(payload: Buffer): void {
    this.emit('ping', { data: payload.toString('utf8'), payload });
  }

  /** @internal */
  sessionPong(payload: Buffer): void {
    this.emit('pong', { data: payload.toString('utf8'), payload });
  }

  /** @internal */
  sessionError(error: Error): void {
    this.emit('error', error);
  }

  /** @internal */
  sessionClosed(code: number, reason: string): void {
    this.emit('close', { code, reason });
  }

  /** @internal */
  sessionOutgoingIdle(): void {
    this.emit('outgoingIdle');
  }

  /** @internal */
  sessionInputDrained(): void {
    this.io.emit('drain');
  }

  // --- for subclasses ------------------------------------------------------------------------

  /** The `protocols` option as a list: what a client offers, or what a server accepts, in its order. */
  protected get configuredProtocols(): readonly string[] {
    return configuredProtocolsOf(this.options);
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
    return this.session.acceptOffer(offeredProtocols, this.configuredProtocols, extensionOffer);
  }

  /** A client's handshake succeeded: the server's Sec-WebSocket-Extensions is what a WebSocket reports. */
  protected keepResponseExtensions(): void {
    const header = this.headers['sec-websocket-extensions'];
    if (typeof header === 'string') this.session.responseExtensions = header;
  }

  /** Bytes before the connection opened: the handshake's, or early frames to keep for later. */
  protected abstract receiveHandshakeBytes(chunk: Buffer): void;

  protected holdInput(chunk: Buffer): void {
    this.session.holdInput(chunk);
  }

  protected write(chunks: readonly Buffer[]): void {
    const io = this.io;
    if (!io.readable) return;
    for (const chunk of chunks) io.emit('data', chunk);
  }

  /** The handshake succeeded: create the protocol connection, emit 'open', flush what waited. */
  protected open(): void {
    this.session.open();
  }

  /** The handshake failed: report it as websocket-driver does, with 'error' then 'close'. */
  protected failHandshake(error: Error, code: number = CloseCode.ProtocolError): false {
    return this.session.failHandshake(error, code);
  }

  override emit<K extends keyof DriverEvents>(event: K, ...args: DriverEvents[K]): boolean {
    // As in websocket-driver, an 'error' nobody listens for is informational, not a crash.
    if (event === 'error' && this.listenerCount('error') === 0) return false;
    return super.emit(event, ...(args as never));
  }
}

/** The `protocols` option as a list: what a client offers, or what a server accepts, in its order. */
export function configuredProtocolsOf(options: {
  protocols?: string | readonly string[];
}): readonly string[] {
  const protocols = options.protocols;
  if (protocols === undefined) return [];
  return typeof protocols === 'string' ? [protocols] : protocols;
}

function ignoreError(): void {}

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
