// Owns the browser-compatible WebSocket (WHATWG "WebSockets" standard) over the Session a transport
// carries (its own, or a Driver's): its states, event dispatch, send and close rules, binaryType conversions.

import type { Driver, MessageEvent as DriverMessageEvent, PingEvent } from './driver/driver.js';
import { MAX_CLOSE_REASON_BYTES } from './protocol/close.js';
import { isToken } from './protocol/http-head.js';
import { CloseCode, MAX_CONTROL_PAYLOAD, Opcode } from './protocol/opcodes.js';
import { PreparedMessage } from './protocol/prepared-message.js';
import type { Session } from './session/session.js';
import { CloseEvent, ErrorEvent, type TypedMessageEvent, type WebSocketData } from './websocket-events.js';
import { MessageIterator } from './websocket-iterator.js';
import type { PublishOptions, TopicData, TopicHost } from './websocket-topics.js';
import {
  type HttpProtocol,
  type SessionTransport,
  type TransportCloseEvent,
  type TransportReport,
  type WebSocketOptions,
  type WebSocketTransport,
  webSocketDialer,
} from './websocket-transport.js';

// The event classes and their init types live in websocket-events.ts; exported here too, as they always were.
export {
  CloseEvent,
  type CloseEventInit,
  ErrorEvent,
  type ErrorEventInit,
  type TypedMessageEvent,
  type WebSocketData,
} from './websocket-events.js';

// The transport and dialer interfaces live in websocket-transport.ts; exported here too, as they always were.
export type {
  HttpProtocol,
  SessionTransport,
  TransportCloseEvent,
  TransportEvents,
  TransportReceiver,
  TransportReport,
  WebSocketOptions,
  WebSocketTransport,
} from './websocket-transport.js';

/** What `binaryType` may be: the two of the standard, and Node's Buffer (zero-copy). */
export type BinaryType = 'blob' | 'arraybuffer' | 'nodebuffer';

/** What `send()` accepts: the standard's types, and a message framed once for many sockets (`prepareMessage`). */
export type SendableData = string | ArrayBuffer | ArrayBufferView | Blob | PreparedMessage;

/** The base listener and option types, as Node's EventTarget declares them. */
type BaseListener = Parameters<EventTarget['addEventListener']>[1];
type AddListenerOptions = Parameters<EventTarget['addEventListener']>[2];
type RemoveListenerOptions = Parameters<EventTarget['removeEventListener']>[2];
/** The events a WebSocket dispatches, for typed `addEventListener`. */
export interface WebSocketEventMap {
  open: Event;
  message: TypedMessageEvent<WebSocketData>;
  error: ErrorEvent;
  close: CloseEvent;
  /** Not in the standard: a ping arrived (hybi already answered it); `data` is its payload. */
  ping: TypedMessageEvent<Buffer>;
  /** Not in the standard: a pong arrived; `data` is its payload. */
  pong: TypedMessageEvent<Buffer>;
  /** Not in the standard: the socket's write buffer went over its high-water mark and has drained. */
  drain: Event;
}

/** A listener for one of the {@link WebSocketEventMap} events: a function or an object with handleEvent. */
export type WebSocketListener<K extends keyof WebSocketEventMap> =
  | ((this: WebSocket, event: WebSocketEventMap[K]) => unknown)
  | { handleEvent(event: WebSocketEventMap[K]): unknown };

type Handler<E extends Event> = ((this: WebSocket, event: E) => unknown) | null;
type HandlerType = 'open' | 'message' | 'error' | 'close';

/**
 * The high-water mark for what waits outside the transport (Blobs being read, messages behind them), and
 * for a transport that does not say whether it is full: node:net's default writableHighWaterMark.
 */
const SEND_HIGH_WATER_BYTES = 16 * 1024;

/**
 * The private parts server helpers may use, set by WebSocket's static block (declared before the class:
 * the block runs when the class is defined).
 */
interface EndpointAccess {
  close(socket: WebSocket, code: number, reason: string): void;
  destroy(socket: WebSocket, error: Error | undefined): void;
  joinTopics(socket: WebSocket, host: TopicHost<WebSocket>): void;
}
let endpointAccess: EndpointAccess;

/** What arrives from the session and the transport, for WebSocket#receive. */
type ReceivedKind = 'message' | 'ping' | 'pong' | 'error' | 'drain' | 'close';

/** The private parts the shared listeners use, set by WebSocket's static block like EndpointAccess. */
interface ListenerAccess {
  report(socket: WebSocket, kind: TransportReport, value: unknown): void;
  settle(socket: WebSocket): void;
}
let listenerAccess: ListenerAccess;

/** The handler attribute of a type, for the shared listener (set by WebSocket's static block). */
let handlerOf: (socket: WebSocket, type: string) => Handler<Event>;

/** The one listener behind every socket's handler attributes: calls the one set for the event's type. */
function callHandler(this: WebSocket, event: Event): void {
  // EventTarget calls a listener with the target as `this` (event.currentTarget is not set for the
  // MessageEvent class Node takes from undici).
  handlerOf(this, event.type)?.call(this, event);
}

/**
 * A WebSocket as browsers have it, for Node: `new WebSocket(url)` opens a client connection; servers
 * (`WebSocketServer`, `acceptUpgrade`, `acceptSocket`) hand out the same class. Beyond the standard:
 * `binaryType` 'nodebuffer' (the default), `ping()`, `pong()`, 'ping'/'pong'/'drain' events, and
 * `for await (const message of socket)`.
 *
 * @example
 * ```ts
 * const socket = new WebSocket('wss://echo.example/chat', ['chat']);
 * socket.onopen = () => socket.send('hello');
 * socket.onmessage = (event) => console.log(event.data);
 * socket.onclose = (event) => console.log(event.code, event.reason, event.wasClean);
 * ```
 */
export class WebSocket extends EventTarget {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;

  /** The URL: the one given on the client; on the server, the one the request asked for. */
  readonly url: string;

  private readonly transport: WebSocketTransport | SessionTransport;
  /** The connection this WebSocket drives: the transport's own, or its Driver's. */
  private readonly session: Session;
  /** Set when the transport carries a Driver (`new WebSocket(linkSocket(driver, socket))`): its events are heard. */
  private readonly driver: Driver | undefined;
  private readonly isServerSide: boolean;
  private readonly origin: string;
  private binaryTypeValue: BinaryType = 'nodebuffer';
  private isClosing = false;
  private isClosed = false;
  private hasOpened = false;
  /** A client that offered subprotocols: the server must select one of them. */
  private isOfferingProtocols = false;
  /**
   * Why the connection failed, held until it is closed: the standard dispatches 'error' then, with
   * readyState CLOSED, right before 'close' (WHATWG WebSockets §"Feedback from the protocol").
   */
  private failure: Error | undefined;
  /** Set from a handshake's start until the application has had a turn to add listeners. */
  private heldEvents: (() => void)[] | undefined;
  // Collections only some sockets need are made on first use: an idle server holds thousands of these.
  /** Sends waiting for a Blob ahead of them to be read, so that order is kept. */
  private sendQueue: { data: SendableData; compress: boolean }[] | undefined;
  private sendQueueBytes = 0;
  private isSendQueueRunning = false;
  /** The standard counts bytes passed to send() after closing began and never sent. */
  private bytesAfterClose = 0;
  /**
   * Bytes of application data passed to send() while open and not yet known to have left: what
   * bufferedAmount reports, frame headers and control frames not included (WHATWG WebSockets
   * §bufferedAmount). Set back to 0 once the transport holds nothing, on the first tick after a send.
   */
  private unsentBytes = 0;
  /** A send happened this tick: bufferedAmount counts all of it until the tick is over. */
  private isSettleScheduled = false;
  /** send() returned false: a 'drain' is owed once everything buffered went to the network. */
  private owesDrain = false;
  private readingPauses = 0;
  private iterators: Set<MessageIterator> | undefined;
  private pendingPings: Set<(wasAnswered: boolean) => void> | undefined;
  // The event handler attributes (onopen ...): one field each, called by one listener shared by every
  // socket, so that setting onmessage costs no Map, entry or closure per connection.
  private openHandler: Handler<Event> = null;
  private messageHandler: Handler<Event> = null;
  private errorHandler: Handler<Event> = null;
  private closeHandler: Handler<Event> = null;
  /** The topics of the WebSocketServer that accepted this socket: one pointer, the state lives there. */
  private topicHost: TopicHost<WebSocket> | undefined;

  /**
   * Opens a client connection to `url` (ws:, wss:, or http:/https: mapped to them), offering `protocols`.
   * Throws a `SyntaxError` DOMException for a bad URL or protocol list, as browsers do. With
   * `{ http2: 'require' }` the WebSocket is a stream of an HTTP/2 session (RFC 8441) instead; `'prefer'`
   * throws a TypeError (use `connect()`). Given a {@link WebSocketTransport} instead of a URL, wraps a
   * connection that is already linked (what servers do), or a client's still connecting (`isClientSide`).
   *
   * @example
   * ```ts
   * const socket = new WebSocket('wss://example.com/chat', ['chat'], { http2: 'require' });
   * socket.onopen = () => console.log('open over', socket.httpProtocol); // 'h2'
   * ```
   */
  constructor(
    target: string | URL | WebSocketTransport | SessionTransport,
    protocols?: string | readonly string[],
    options: WebSocketOptions = {},
  ) {
    super();
    if (typeof target === 'string' || target instanceof URL) {
      // The dialer comes from the floor above (src/node registers it): the face imports no transport.
      const dialer = webSocketDialer();
      // Before the try below: an unknown option is a TypeError, not the SyntaxError of a bad URL.
      dialer.validate(options);
      const offered = protocols ?? options.protocols;
      assertProtocolList(offered);
      this.isOfferingProtocols = offered !== undefined && offered.length > 0;
      const http2 = options.http2 ?? 'off';
      if (http2 !== 'off' && http2 !== 'require') {
        // Choosing HTTP/2 or HTTP/1.1 takes the server's SETTINGS, which a synchronous constructor
        // cannot wait for; connect() can.
        throw new TypeError(
          http2 === 'prefer'
            ? "http2: 'prefer' is for connect(url, { http2: 'prefer' }); new WebSocket() takes 'require' or 'off'"
            : `http2 is 'require' or 'off' in new WebSocket(), not ${JSON.stringify(http2)}`,
        );
      }
      const clientOptions = { ...options, ...(offered === undefined ? {} : { protocols: offered }) };
      try {
        this.transport = dialer.open(target, clientOptions);
      } catch (error) {
        if (error instanceof TypeError) throw new DOMException(error.message, 'SyntaxError');
        throw error;
      }
      this.isServerSide = false;
    } else {
      this.transport = target;
      this.isServerSide = target.isClientSide !== true;
    }
    const transport = this.transport;
    if ('driver' in transport && transport.driver !== undefined) {
      this.driver = transport.driver;
      this.session = transport.driver.session;
      this.url = transport.driver.absoluteUrl;
    } else {
      const own = transport as SessionTransport;
      this.driver = undefined;
      this.session = own.session;
      this.url = own.url;
    }
    this.origin = originOf(this.url);
    // The server hands this socket to the application after its handshake: events (early frames
    // included) wait until the application had the socket for one turn of the event loop.
    if (this.isServerSide) this.hold();
    this.listen();
  }

  get CONNECTING(): 0 {
    return 0;
  }
  get OPEN(): 1 {
    return 1;
  }
  get CLOSING(): 2 {
    return 2;
  }
  get CLOSED(): 3 {
    return 3;
  }

  /** 0 connecting, 1 open, 2 closing, 3 closed (after the 'close' event). */
  get readyState(): 0 | 1 | 2 | 3 {
    if (this.isClosed) return 3;
    if (this.isClosing) return 2;
    const state = this.session.readyState;
    return state === 3 ? 2 : state;
  }

  /**
   * Not in the standard: the HTTP the WebSocket's handshake went over: `'http/1.1'` (the Upgrade of RFC
   * 6455), or `'h2'` / `'h2c'` (an extended CONNECT stream of an HTTP/2 session over TLS or cleartext, RFC
   * 8441).
   *
   * @example
   * ```ts
   * wss.on('connection', (socket) => metrics.count(`websocket.${socket.httpProtocol}`));
   * ```
   */
  get httpProtocol(): HttpProtocol {
    return this.transport.httpProtocol ?? 'http/1.1';
  }

  /** The subprotocol the server selected, or ''. */
  get protocol(): string {
    return this.session.protocol ?? '';
  }

  /** The extensions in use: the server's Sec-WebSocket-Extensions (client), or their names (server). */
  get extensions(): string {
    if (!this.hasOpened && !this.isServerSide) return '';
    const header = this.isServerSide ? undefined : this.session.responseExtensions;
    if (header !== undefined) return header;
    return this.session.negotiatedExtensions.join(', ');
  }

  /**
   * How binary messages are delivered: 'nodebuffer' (default: a Buffer, no copy), 'arraybuffer' (a copy
   * of exactly the message's bytes) or 'blob'. Browsers default to 'blob'; Node code mostly reads bytes
   * at once, and ws defaults to Buffers too. Other values are ignored, as for any WebIDL enum.
   */
  get binaryType(): BinaryType {
    return this.binaryTypeValue;
  }
  set binaryType(value: BinaryType) {
    if (value === 'blob' || value === 'arraybuffer' || value === 'nodebuffer') this.binaryTypeValue = value;
  }

  /**
   * Bytes of application data passed to send() and not yet handed to the network (frame headers and
   * control frames not counted), plus everything passed to send() after closing began, which is never
   * sent (WHATWG WebSockets §bufferedAmount). Data sent in the current tick counts in full, even when
   * the socket took it at once. After that tick it counts only while the transport holds 16 KiB or
   * more (node:net's default high-water mark), bounded by what it holds: below that the socket is taking
   * data as fast as it is given, and bufferedAmount reads 0.
   */
  get bufferedAmount(): number {
    // Before 'open' the socket holds only the handshake request, which is not application data.
    if (!this.hasOpened || this.isClosed) return this.bytesAfterClose;
    return this.unsentApplicationBytes() + this.bytesAfterClose;
  }

  get onopen(): Handler<Event> {
    return this.getHandler('open');
  }
  set onopen(handler: Handler<Event>) {
    this.setHandler('open', handler);
  }
  get onmessage(): Handler<TypedMessageEvent<WebSocketData>> {
    return this.getHandler('message') as Handler<TypedMessageEvent<WebSocketData>>;
  }
  set onmessage(handler: Handler<TypedMessageEvent<WebSocketData>>) {
    this.setHandler('message', handler as Handler<Event>);
  }
  get onerror(): Handler<ErrorEvent> {
    return this.getHandler('error') as Handler<ErrorEvent>;
  }
  set onerror(handler: Handler<ErrorEvent>) {
    this.setHandler('error', handler as Handler<Event>);
  }
  get onclose(): Handler<CloseEvent> {
    return this.getHandler('close') as Handler<CloseEvent>;
  }
  set onclose(handler: Handler<CloseEvent>) {
    this.setHandler('close', handler as Handler<Event>);
  }

  /**
   * Sends a message: a string as text, anything else as binary. Throws `InvalidStateError` while
   * connecting; after closing began, only counts the bytes (as the standard says). A Blob is read first;
   * messages sent after it wait for it, so order is kept. ArrayBuffers and views are not copied: do not
   * change them until `bufferedAmount` says they left. `compress: false` skips permessage-deflate.
   * A `PreparedMessage` (`prepareMessage(data)`) is framed once for all the sockets it is sent to.
   *
   * Not in the standard (which returns nothing): returns `true` while the socket's write buffer is below
   * its high-water mark, `false` once it is past it (then a 'drain' event follows when it has emptied)
   * or when closing began (nothing was sent). A sender that waits for 'drain' after `false` keeps its
   * memory bounded however slowly the peer reads. With permessage-deflate, messages still waiting for
   * the compressor count too (at their uncompressed size), so a fast sender is held back by zlib as well.
   *
   * @example
   * ```ts
   * for (const chunk of chunks) {
   *   if (!socket.send(chunk)) await once(socket, 'drain');
   * }
   * ```
   */
  send(data: SendableData, options: { compress?: boolean } = {}): boolean {
    const state = this.readyState;
    if (state === 0) throw new DOMException('The WebSocket is still connecting', 'InvalidStateError');
    const message =
      typeof data === 'string' || isBinary(data) || data instanceof PreparedMessage ? data : String(data);
    if (state !== 1) {
      this.bytesAfterClose += byteLengthOf(message);
      return false;
    }
    const compress = options.compress !== false;
    this.unsentBytes += byteLengthOf(message);
    if (!this.isSettleScheduled) {
      this.isSettleScheduled = true;
      process.nextTick(settleUnsentBytes, this);
    }
    if (this.sendQueue !== undefined || message instanceof Blob) {
      this.sendQueue ??= [];
      this.sendQueue.push({ data: message, compress });
      this.sendQueueBytes += byteLengthOf(message);
      if (!this.isSendQueueRunning) void this.runSendQueue();
    } else {
      this.sendNow(message, compress);
    }
    if (!this.isBufferFull()) return true;
    this.owesDrain = true;
    return false;
  }

  /**
   * Subscribes this socket to `topic`, so that `wss.publish(topic, ...)` and other sockets' `publish`
   * reach it (sockets accepted by a `WebSocketServer` only; others throw TypeError). Returns `true` when
   * the socket is subscribed afterwards (already was, or is now); `false` when it was refused: the socket
   * is closing, or it holds `maxTopicsPerSocket` topics already. Closing unsubscribes from every topic.
   *
   * @example
   * ```ts
   * wss.on('connection', (socket) => {
   *   socket.subscribe('room:lobby');
   *   socket.onmessage = (event) => socket.publish('room:lobby', event.data);
   * });
   * ```
   */
  subscribe(topic: string): boolean {
    return this.requireTopicHost().subscribe(this, topic);
  }

  /** Leaves `topic`; returns whether the socket was subscribed to it. */
  unsubscribe(topic: string): boolean {
    return this.requireTopicHost().unsubscribe(this, topic);
  }

  /** Whether this socket is subscribed to `topic` (always `false` for a socket without a server). */
  isSubscribed(topic: string): boolean {
    return this.topicHost?.isSubscribed(this, topic) ?? false;
  }

  /** The topics this socket is subscribed to, in subscription order (a new array each time). */
  get topics(): readonly string[] {
    return this.topicHost?.topicsOf(this) ?? [];
  }

  /**
   * Sends `data` to every open subscriber of `topic` on this socket's server except this socket (which
   * need not be subscribed itself); returns how many sockets it was sent to. Framed once for all of them.
   */
  publish(topic: string, data: TopicData, options: PublishOptions = {}): number {
    return this.requireTopicHost().publish(topic, data, options, this);
  }

  /**
   * Starts the closing handshake. `code` must be 1000 or 3000-4999 (else `InvalidAccessError`), `reason`
   * at most 123 bytes of UTF-8 (else `SyntaxError`). Without a code, 1000 is sent with a reason, and a
   * close frame without a body when there is no reason either (the peer hears 1005). While connecting, the
   * attempt is abandoned: 'error' then 'close' with 1006, as the standard says.
   *
   * @example
   * ```ts
   * socket.close(4000, 'session expired');
   * ```
   */
  close(code?: number, reason?: string): void {
    let closeCode: number | undefined;
    if (code !== undefined) {
      closeCode = clampUnsignedShort(code);
      if (closeCode !== CloseCode.Normal && (closeCode < 3000 || closeCode > 4999)) {
        throw new DOMException(
          `The close code must be 1000 or in 3000-4999; ${closeCode} is neither`,
          'InvalidAccessError',
        );
      }
    }
    const closeReason = reason === undefined ? '' : String(reason);
    const reasonLength = Buffer.byteLength(closeReason, 'utf8');
    if (reasonLength > MAX_CLOSE_REASON_BYTES) {
      throw new DOMException(
        `The close reason is ${reasonLength} bytes of UTF-8; at most ${MAX_CLOSE_REASON_BYTES} fit`,
        'SyntaxError',
      );
    }
    // WHATWG WebSockets §close(): without a code, a reason comes with 1000; without either, the close
    // frame has no body (the peer hears 1005, RFC 6455 §7.1.5).
    const defaultCode = reason === undefined ? CloseCode.NoStatusReceived : CloseCode.Normal;
    this.startClosing(closeCode ?? defaultCode, closeReason);
  }

  /**
   * Not in the standard: sends a ping (at most 125 bytes). Resolves true when the matching pong arrives,
   * false if the connection closes first; never rejects.
   *
   * @example
   * ```ts
   * const isAlive = await Promise.race([socket.ping(), timeout(10_000).then(() => false)]);
   * ```
   */
  ping(data: string | ArrayBuffer | ArrayBufferView = ''): Promise<boolean> {
    const state = this.readyState;
    if (state === 0) throw new DOMException('The WebSocket is still connecting', 'InvalidStateError');
    const payload = controlPayload(data);
    if (state !== 1) return Promise.resolve(false);
    return new Promise((resolve) => {
      this.pendingPings ??= new Set();
      const pendingPings = this.pendingPings;
      pendingPings.add(resolve);
      this.session.ping(payload, () => {
        pendingPings.delete(resolve);
        resolve(true);
      });
    });
  }

  /** Not in the standard: sends an unsolicited pong, a one-way heartbeat (RFC 6455 §5.5.3). */
  pong(data: string | ArrayBuffer | ArrayBufferView = ''): void {
    const state = this.readyState;
    if (state === 0) throw new DOMException('The WebSocket is still connecting', 'InvalidStateError');
    const payload = controlPayload(data);
    if (state === 1) this.session.pong(payload);
  }

  /**
   * Not in the standard: drops the connection at once, with no closing handshake (ws's `terminate()`),
   * for a peer that is misbehaving or gone. 'close' follows with 1006 (RFC 6455 §7.1.5: closed without a
   * close frame); messages not yet written are lost.
   *
   * @example
   * ```ts
   * if (floodCount > 1000) socket.terminate();
   * ```
   */
  terminate(): void {
    if (this.readyState === 3) return;
    this.transport.destroy();
  }

  /**
   * Iterates over received messages until the connection closes. Reading from the network pauses while
   * the iterator holds more than 16 messages or 1 MiB, so a slow consumer is not flooded. Breaking out of
   * the loop stops iterating; the socket stays open.
   *
   * @example
   * ```ts
   * for await (const message of socket) socket.send(message); // echo
   * ```
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<WebSocketData> {
    const iterator = new MessageIterator(
      {
        pauseReading: () => this.pauseReading(),
        resumeReading: () => this.resumeReading(),
        forget: (done) => this.iterators?.delete(done),
      },
      this.isClosed,
    );
    if (!this.isClosed) {
      this.iterators ??= new Set();
      this.iterators.add(iterator);
    }
    return iterator;
  }

  override addEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: WebSocketListener<K> | null,
    options?: AddListenerOptions,
  ): void;
  override addEventListener(type: string, listener: BaseListener | null, options?: AddListenerOptions): void;
  override addEventListener(type: string, listener: BaseListener | null, options?: AddListenerOptions): void {
    if (listener !== null) super.addEventListener(type, listener, options);
  }

  override removeEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: WebSocketListener<K> | null,
    options?: RemoveListenerOptions,
  ): void;
  override removeEventListener(
    type: string,
    listener: BaseListener | null,
    options?: RemoveListenerOptions,
  ): void;
  override removeEventListener(
    type: string,
    listener: BaseListener | null,
    options?: RemoveListenerOptions,
  ): void {
    if (listener !== null) super.removeEventListener(type, listener, options);
  }

  // --- internals -----------------------------------------------------------------------------

  private requireTopicHost(): TopicHost<WebSocket> {
    if (this.topicHost === undefined) {
      throw new TypeError(
        'Topics belong to a WebSocketServer: this socket was not accepted by one (use wss.clients or your own sets)',
      );
    }
    return this.topicHost;
  }

  static {
    // Server helpers may close with codes the standard API forbids (1001 on shutdown) and abort a
    // connection; they reach these private methods through the module's friend functions.
    endpointAccess = {
      close: (socket, code, reason) => socket.startClosing(code, reason),
      destroy: (socket, error) => socket.transport.destroy(error),
      joinTopics: (socket, host) => {
        socket.topicHost = host;
      },
    };
    listenerAccess = {
      report: (socket, kind, value) => socket.report(kind, value),
      settle: (socket) => socket.settleUnsentBytes(),
    };
  }

  /** close() after its argument checks, and the friend closeAsEndpoint() with any valid code. */
  private startClosing(code: number, reason: string): void {
    const state = this.readyState;
    if (state === 2 || state === 3) return;
    this.isClosing = true;
    if (state === 0) {
      this.transport.destroy(new Error('The WebSocket was closed before the connection was established'));
      return;
    }
    // Messages still waiting for a Blob are dropped: the close frame must be the last frame sent.
    this.dropSendQueue();
    this.session.close(code, reason);
  }

  /** Moves the messages waiting behind a Blob to the bytes that will never be sent. */
  private dropSendQueue(): void {
    this.bytesAfterClose += this.sendQueueBytes;
    this.unsentBytes -= this.sendQueueBytes;
    this.sendQueue = undefined;
    this.sendQueueBytes = 0;
  }

  /**
   * The application bytes sent while open that have not left: all of this tick's; after it, while the
   * socket's buffer is over its high-water mark, at most what the transport and the Blob queue still hold.
   */
  private unsentApplicationBytes(): number {
    if (this.isSettleScheduled) return this.unsentBytes;
    if (this.unsentBytes === 0) return 0;
    const held = this.transport.bufferedAmount + this.sendQueueBytes;
    // Not isBufferFull(): asking the transport whether it is full makes it owe a 'drain' (a getter must
    // not change what the application will be told).
    if (held < SEND_HIGH_WATER_BYTES) {
      // The socket takes what it is given: what is left in its buffer may be pongs and close frames as
      // much as our data (which the standard does not count).
      this.unsentBytes = 0;
      return 0;
    }
    return Math.min(this.unsentBytes, held);
  }

  /** The tick of a send is over: forget what has left already. */
  private settleUnsentBytes(): void {
    this.isSettleScheduled = false;
    this.unsentApplicationBytes();
  }

  /** Whether send() should tell the application to wait for 'drain'. */
  private isBufferFull(): boolean {
    if (this.sendQueueBytes >= SEND_HIGH_WATER_BYTES) return true;
    const transport = this.transport;
    const isFull = transport.isWriteBufferFull;
    return isFull === undefined ? transport.bufferedAmount >= SEND_HIGH_WATER_BYTES : isFull;
  }

  /** The transport drained, or the Blob queue emptied into a transport that is not full. */
  private drained(): void {
    if (this.isClosed) return;
    this.owesDrain = false;
    this.dispatchEvent(new Event('drain'));
  }

  /**
   * Counted: the hold, each full iterator and each iterator whose loop has yet to run pause reading; it
   * resumes when none does. The driver then also stops acting on events already received, so a frame
   * that came in the same chunk as a message (a close, a protocol error) waits for the application's
   * answer to the message instead of closing the connection under it.
   */
  private pauseReading(): void {
    if (this.readingPauses++ === 0) this.session.pauseInput();
  }

  private resumeReading(): void {
    if (--this.readingPauses === 0) this.session.resumeInput();
  }

  /**
   * A transport of its own session reports to one shared function. A Driver's events are heard through
   * listeners shared by every socket (below the class), which find theirs through a symbol on the
   * driver: eight closures per connection cost ~0.5 KiB on an idle server.
   */
  private listen(): void {
    const driver = this.driver;
    if (driver === undefined) {
      (this.transport as SessionTransport).attach(this, receiveReport);
      return;
    }
    (driver as unknown as OwnedDriver)[OWNER] = this;
    driver.on('open', onDriverOpen);
    driver.on('message', onDriverMessage);
    driver.on('ping', onDriverPing);
    driver.on('pong', onDriverPong);
    driver.on('error', onDriverError);
    driver.on('close', onDriverClose);
    const transport = this.transport as WebSocketTransport;
    transport.on('drain', onTransportDrain);
    transport.on('close', onTransportClose);
  }

  private opened(): void {
    if (this.isOfferingProtocols && !this.session.protocol) {
      // WHATWG WebSockets, "establish a WebSocket connection": protocols were offered and the server
      // selected none, so the connection fails ('error', then 'close' 1006) instead of opening.
      this.transport.destroy(new Error('The server selected none of the subprotocols offered'));
      return;
    }
    this.hasOpened = true;
    if (this.isServerSide) return; // server sockets are handed out open
    this.dispatchEvent(new Event('open'));
    // connect() resolves on 'open': frames that came with the 101 wait until its awaiter has run.
    this.hold();
  }

  /** What the transport (or the Driver's events) report. */
  private report(kind: TransportReport, value: unknown): void {
    if (kind === 'open') this.opened();
    // The closing handshake is over (or failed): pings can no longer be answered.
    else if (kind === 'closed') this.failPendingPings();
    else this.receive(kind, value);
  }

  /** Acts on an event now, or, while events are held, queues it (only then is a closure made). */
  private receive(kind: ReceivedKind, value: unknown): void {
    if (this.heldEvents === undefined) this.act(kind, value);
    else this.heldEvents.push(() => this.act(kind, value));
  }

  private act(kind: ReceivedKind, value: unknown): void {
    switch (kind) {
      case 'message':
        this.deliverMessage(value as string | Buffer);
        return;
      case 'ping':
      case 'pong':
        this.deliverControl(kind, value as Buffer);
        return;
      case 'error':
        this.reportError(value as Error);
        return;
      case 'drain':
        this.drained();
        return;
      case 'close':
        this.finish(value as TransportCloseEvent);
        return;
    }
  }

  private failPendingPings(): void {
    const pendingPings = this.pendingPings;
    if (pendingPings === undefined) return;
    this.pendingPings = undefined;
    for (const resolve of pendingPings) resolve(false);
  }

  /** Holds events until the application had a turn; reading pauses meanwhile, so the hold is bounded. */
  private hold(): void {
    if (this.heldEvents !== undefined) return;
    this.heldEvents = [];
    this.pauseReading();
    setImmediate(() => {
      const events = this.heldEvents ?? [];
      // Events that arrive while these run join the end of the list, so the order holds.
      for (let index = 0; index < events.length; index++) events[index]!();
      this.heldEvents = undefined;
      this.resumeReading();
    });
  }

  private deliverMessage(raw: string | Buffer): void {
    // WHATWG WebSockets §"Feedback from the protocol": a message received once close() was called (ready
    // state no longer OPEN) is not delivered. The peer's data may still arrive until it answers our close.
    if (this.isClosed || this.isClosing) return;
    const data = typeof raw === 'string' ? raw : this.convertBinary(raw);
    if (this.iterators !== undefined) for (const iterator of this.iterators) iterator.push(data, raw.length);
    this.dispatchEvent(new MessageEvent('message', { data, origin: this.origin }));
  }

  private deliverControl(type: 'ping' | 'pong', payload: Buffer): void {
    if (!this.isClosed) this.dispatchEvent(new MessageEvent(type, { data: payload, origin: this.origin }));
  }

  private convertBinary(data: Buffer): Buffer | ArrayBuffer | Blob {
    switch (this.binaryTypeValue) {
      case 'nodebuffer':
        return data;
      case 'arraybuffer':
        return toArrayBuffer(data);
      default:
        return new Blob([data]);
    }
  }

  private finish(event: TransportCloseEvent): void {
    if (this.isClosed) return;
    this.failPendingPings();
    const iterators = this.iterators;
    this.iterators = undefined;
    if (iterators !== undefined) for (const iterator of iterators) iterator.end();
    this.dropSendQueue();
    // What had not left by now never will: the standard keeps counting it (bufferedAmount never falls
    // back to 0 once the connection is closed).
    if (this.hasOpened) this.bytesAfterClose += this.unsentApplicationBytes();
    this.unsentBytes = 0;
    this.isClosed = true;
    // WHATWG: a connection that could not be established is failed: 'error', then close with 1006,
    // whatever the handshake said.
    const failure =
      this.failure ??
      (this.hasOpened
        ? undefined
        : new Error('The connection closed before the WebSocket handshake completed'));
    this.failure = undefined;
    if (failure !== undefined) {
      this.dispatchEvent(new ErrorEvent('error', { error: failure, message: failure.message }));
    }
    const closeEvent = this.hasOpened ? event : { code: CloseCode.Abnormal, reason: '', wasClean: false };
    this.dispatchEvent(new CloseEvent('close', closeEvent));
  }

  /** The first reason the connection failed is kept for the 'error' that comes with 'close'. */
  private reportError(error: Error): void {
    if (this.isClosed) return;
    this.failure ??= error;
  }

  private sendNow(data: string | ArrayBuffer | ArrayBufferView | PreparedMessage, compress: boolean): void {
    const session = this.session;
    if (data instanceof PreparedMessage) {
      session.sendPrepared(data, compress);
      return;
    }
    if (typeof data === 'string') session.send(Opcode.Text, data, compress);
    else session.send(Opcode.Binary, toBuffer(data), compress);
  }

  private async runSendQueue(): Promise<void> {
    this.isSendQueueRunning = true;
    try {
      for (let queue = this.sendQueue; queue !== undefined && queue.length > 0; queue = this.sendQueue) {
        const item = queue[0]!;
        let data: string | ArrayBuffer | ArrayBufferView | PreparedMessage;
        if (item.data instanceof Blob) {
          try {
            data = await item.data.arrayBuffer();
          } catch (error) {
            // The standard fails the connection when a Blob cannot be read; 1011 says it was our side.
            const failure = error instanceof Error ? error : new Error(String(error));
            if (this.driver === undefined) (this.transport as SessionTransport).fail(failure);
            else this.driver.emit('error', failure);
            this.isClosing = true;
            this.session.close(CloseCode.InternalError, 'Could not read a Blob to send');
            return;
          }
        } else {
          data = item.data;
        }
        // close() or the connection's end drop the queue; what it held is no longer ours to send.
        if (this.sendQueue !== queue) return;
        queue.shift();
        if (queue.length === 0) this.sendQueue = undefined;
        this.sendQueueBytes -= byteLengthOf(item.data);
        this.sendNow(data, item.compress);
      }
      // A full transport owes its own 'drain'; an empty queue into one that is not full owes it now.
      if (this.owesDrain && this.readyState === 1 && this.transport.isWriteBufferFull === false) {
        this.drained();
      }
    } finally {
      this.isSendQueueRunning = false;
    }
  }

  private getHandler(type: HandlerType): Handler<Event> {
    switch (type) {
      case 'open':
        return this.openHandler;
      case 'message':
        return this.messageHandler;
      case 'error':
        return this.errorHandler;
      default:
        return this.closeHandler;
    }
  }

  /**
   * Event handler attributes (HTML §8.1.8.1): the shared listener is added when a handler is first set
   * (its place among the listeners is then fixed), removed when the handler is set to null.
   */
  private setHandler(type: HandlerType, handler: Handler<Event>): void {
    const previous = this.getHandler(type);
    const value = typeof handler === 'function' ? handler : null;
    switch (type) {
      case 'open':
        this.openHandler = value;
        break;
      case 'message':
        this.messageHandler = value;
        break;
      case 'error':
        this.errorHandler = value;
        break;
      default:
        this.closeHandler = value;
    }
    if (previous === null && value !== null) super.addEventListener(type, callHandler);
    else if (previous !== null && value === null) super.removeEventListener(type, callHandler);
  }

  static {
    // The shared listener reads the handler attribute through this friend function.
    handlerOf = (socket, type) => socket.getHandler(type as HandlerType);
  }
}

/**
 * @internal For hybi's server helpers (`shutdown`, `WebSocketServer#close`): starts the
 * closing handshake with any code valid on the wire (RFC 6455 §7.4.1), such as 1001 Going Away, which
 * the standard `close()` does not accept. A socket still connecting is abandoned.
 */
export function closeAsEndpoint(socket: WebSocket, code: number, reason = ''): void {
  endpointAccess.close(socket, code, reason);
}

/** @internal Ends the connection without a closing handshake: 'error' (if given), then close 1006. */
export function destroyConnection(socket: WebSocket, error?: Error): void {
  endpointAccess.destroy(socket, error);
}

/** @internal For WebSocketServer: gives a socket it accepted the server's topics (see `subscribe`). */
export function joinTopics(socket: WebSocket, host: TopicHost<WebSocket>): void {
  endpointAccess.joinTopics(socket, host);
}

// --- helpers -----------------------------------------------------------------------------------

function isBinary(data: unknown): data is ArrayBuffer | ArrayBufferView | Blob {
  return data instanceof ArrayBuffer || ArrayBuffer.isView(data) || data instanceof Blob;
}

function byteLengthOf(data: SendableData): number {
  if (typeof data === 'string') return Buffer.byteLength(data, 'utf8');
  if (data instanceof Blob) return data.size;
  if (data instanceof PreparedMessage) return data.data.length;
  return data.byteLength;
}

function toBuffer(data: ArrayBuffer | ArrayBufferView): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

/** An ArrayBuffer holding exactly the message: received Buffers are often views into a larger chunk. */
function toArrayBuffer(data: Buffer): ArrayBuffer {
  const copy = new ArrayBuffer(data.length);
  new Uint8Array(copy).set(data);
  return copy;
}

function controlPayload(data: string | ArrayBuffer | ArrayBufferView): Buffer {
  const payload = typeof data === 'string' ? Buffer.from(data, 'utf8') : toBuffer(data);
  // RFC 6455 §5.5: control frame payloads are at most 125 bytes.
  if (payload.length > MAX_CONTROL_PAYLOAD) {
    throw new RangeError(`A ping or pong carries at most 125 bytes; got ${payload.length}`);
  }
  return payload;
}

/** WebIDL `[Clamp] unsigned short`: what close(code) does with a number outside the type. */
function clampUnsignedShort(value: number): number {
  const number = Number(value);
  if (Number.isNaN(number)) return 0;
  const clamped = Math.min(Math.max(number, 0), 0xffff);
  // Round half to even, as WebIDL says.
  const floor = Math.floor(clamped);
  const fraction = clamped - floor;
  if (fraction > 0.5) return floor + 1;
  if (fraction < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** WHATWG WebSocket constructor, step 8: protocols are unique tokens, else SyntaxError. */
function assertProtocolList(protocols: string | readonly string[] | undefined): void {
  if (protocols === undefined) return;
  const list = typeof protocols === 'string' ? [protocols] : protocols;
  const seen = new Set<string>();
  for (const protocol of list) {
    if (typeof protocol !== 'string' || !isToken(protocol)) {
      throw new DOMException(`The subprotocol ${JSON.stringify(protocol)} is not a token`, 'SyntaxError');
    }
    if (seen.has(protocol)) {
      throw new DOMException(`The subprotocol ${JSON.stringify(protocol)} is listed twice`, 'SyntaxError');
    }
    seen.add(protocol);
  }
}

function originOf(url: string): string {
  try {
    // MessageEvent.origin: the serialization of the URL's origin (WHATWG WebSockets, "feedback from the protocol").
    return new URL(url).origin;
  } catch {
    return '';
  }
}

/** Where the shared listeners find their WebSocket: set on its driver. */
const OWNER = Symbol('hybi.webSocket');
type OwnedDriver = { [OWNER]?: WebSocket };

function ownerOf(driver: Driver): WebSocket {
  return (driver as unknown as OwnedDriver)[OWNER]!;
}

function onDriverOpen(this: Driver): void {
  listenerAccess.report(ownerOf(this), 'open', undefined);
}
function onDriverMessage(this: Driver, event: DriverMessageEvent): void {
  listenerAccess.report(ownerOf(this), 'message', event.data);
}
function onDriverPing(this: Driver, event: PingEvent): void {
  listenerAccess.report(ownerOf(this), 'ping', event.payload);
}
function onDriverPong(this: Driver, event: PingEvent): void {
  listenerAccess.report(ownerOf(this), 'pong', event.payload);
}
function onDriverError(this: Driver, error: Error): void {
  listenerAccess.report(ownerOf(this), 'error', error);
}
function onDriverClose(this: Driver): void {
  listenerAccess.report(ownerOf(this), 'closed', undefined);
}
function onTransportDrain(this: WebSocketTransport): void {
  listenerAccess.report(ownerOf(this.driver), 'drain', undefined);
}
function onTransportClose(this: WebSocketTransport, event: TransportCloseEvent): void {
  listenerAccess.report(ownerOf(this.driver), 'close', event);
}
/** The one receiver of every SessionTransport's reports. */
function receiveReport(owner: object, kind: TransportReport, value: unknown): void {
  listenerAccess.report(owner as WebSocket, kind, value);
}
function settleUnsentBytes(socket: WebSocket): void {
  listenerAccess.settle(socket);
}
