// Owns a client that stays connected: it dials with connect(), and after an abnormal close or a failed
// dial waits (exponential backoff with full jitter, capped) and dials again; messages sent meanwhile wait
// in a bounded queue, and one `for await` loop reads across every connection.

import { EventEmitter } from 'node:events';
import { validateOptions } from '../driver/index.js';
import { HandshakeError } from '../protocol/errors.js';
import type { WebSocket, WebSocketData } from '../websocket.js';
import { CLIENT_OPTION_KEYS, type ClientOptions } from './client-options.js';
import { connect } from './connect.js';

/** Timers the backoff waits on; injected in tests so that delays are checked without waiting. */
export interface ReconnectClock {
  setTimeout(callback: () => void, milliseconds: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** What `send()` takes while the connection may be down. */
export type ReconnectingSendable = string | ArrayBuffer | ArrayBufferView;

/** Options of {@link ReconnectingWebSocket}: those of `connect()`, and how to reconnect. */
export interface ReconnectingOptions extends ClientOptions {
  /** The ceiling of the first retry's delay, in ms (default 500); each failed dial in a row doubles it. */
  initialDelay?: number;
  /** The largest ceiling, in ms (default 30,000). */
  maxDelay?: number;
  /** How much the ceiling grows per failed dial in a row (default 2). */
  factor?: number;
  /** Dials in a row without an open connection before giving up (default Infinity: never). */
  maxAttempts?: number;
  /**
   * Close codes that bring a reconnect. Default 1001 (a server going away: a restart or a deploy, what
   * hybi's own `WebSocketServer#close()` sends), 1006 (the connection was lost), 1011 (server error),
   * 1012 (service restart), 1013 (try again later), 1014 (bad gateway). A normal close (1000), a policy
   * refusal (1008) or any other code ends the client.
   */
  reconnectCodes?: readonly number[];
  /** Messages `send()` may hold while not connected (default 1,000); see `overflow`. */
  maxQueuedMessages?: number;
  /** Bytes `send()` may hold while not connected (default 1 MiB); see `overflow`. */
  maxQueuedBytes?: number;
  /**
   * What `send()` does when the queue is full: `'drop-oldest'` (the default: the oldest queued messages
   * make room and each is reported as 'drop'), `'drop-newest'` (this message is not queued: `send()`
   * returns false and 'drop' reports it), or `'throw'` (a RangeError).
   */
  overflow?: 'drop-oldest' | 'drop-newest' | 'throw';
  /** Stops for good when aborted: no more dials, the open connection closed with 1000. */
  signal?: AbortSignal;
  /** Timers for the backoff (default the global ones). */
  clock?: ReconnectClock;
  /** A number in [0, 1) for the jitter (default Math.random). */
  random?: () => number;
}

/** Why the client stopped for good. */
export type EndReason = 'closed' | 'refused' | 'gave-up' | 'aborted' | 'closed-by-application';

export interface ReconnectingEvents {
  /** A dial begins; `attempt` counts every dial since construction, from 1. */
  connecting: [event: { attempt: number }];
  /** A connection is open (queued messages went out first). */
  open: [event: { attempt: number; socket: WebSocket }];
  /** A message arrived, on whichever connection. */
  message: [data: WebSocketData];
  /** A connection closed; `willReconnect` says whether a retry follows. */
  close: [event: { code: number; reason: string; wasClean: boolean; willReconnect: boolean }];
  /** A retry is scheduled after `delay` ms; `cause` is the failed dial's error or the close code. */
  retry: [event: { attempt: number; delay: number; cause: Error | number }];
  /** A message left the queue unsent (the queue was full). */
  drop: [data: ReconnectingSendable];
  /** The end: no more connections. `error` is the last failure when there was one. */
  end: [event: { reason: EndReason; code?: number; error?: Error }];
}

const DEFAULT_RECONNECT_CODES = [1001, 1006, 1011, 1012, 1013, 1014];
/** Messages a `for await` loop may hold before reading from the connection waits for it. */
const ITERATOR_HIGH_WATER = 16;

const OWN_OPTION_NAMES = [
  'initialDelay',
  'maxDelay',
  'factor',
  'maxAttempts',
  'reconnectCodes',
  'maxQueuedMessages',
  'maxQueuedBytes',
  'overflow',
  'signal',
  'clock',
  'random',
] as const;

/**
 * A WebSocket client that reconnects. It dials `url` with `connect()` at once; after a close with one of
 * `reconnectCodes`, a network failure, or a handshake answered 408, 429 or 5xx, it waits a random time up
 * to `min(maxDelay, initialDelay × factor^n)` (n: failed dials in a row; "full jitter", so that clients
 * of a restarted server do not return all at once) and dials again. Any other refusal, a normal or
 * policy close, `close()`, `maxAttempts` failures in a row, or `signal` end it ('end').
 *
 * Delivery is at most once: what `send()` queued while disconnected goes out, in order, as soon as a
 * connection opens; a message already handed to a connection that then drops is not sent again.
 *
 * @example
 * ```ts
 * const feed = new ReconnectingWebSocket('wss://example.com/feed', { heartbeat: { interval: 10_000, timeout: 5_000 } });
 * feed.on('retry', ({ attempt, delay }) => console.log(`retry ${attempt} in ${delay} ms`));
 * for await (const message of feed) console.log(message); // goes on across reconnects, ends on 'end'
 * ```
 */
export class ReconnectingWebSocket extends EventEmitter<ReconnectingEvents> {
  readonly url: string;
  private readonly connectOptions: ClientOptions;
  private readonly initialDelay: number;
  private readonly maxDelay: number;
  private readonly factor: number;
  private readonly maxAttempts: number;
  private readonly reconnectCodes: ReadonlySet<number>;
  private readonly maxQueuedMessages: number;
  private readonly maxQueuedBytes: number;
  private readonly overflow: 'drop-oldest' | 'drop-newest' | 'throw';
  private readonly signal: AbortSignal | undefined;
  private readonly clock: ReconnectClock;
  private readonly random: () => number;
  private current: WebSocket | undefined;
  private attempts = 0;
  private failuresInARow = 0;
  private timer: unknown;
  private isEnded = false;
  private endEvent: ReconnectingEvents['end'][0] | undefined;
  /**
   * Bounded by maxQueuedMessages and maxQueuedBytes: filled by send() while no connection is open,
   * emptied into the next connection as it opens, or dropped at the end.
   */
  private readonly queue: { data: ReconnectingSendable; size: number }[] = [];
  private queuedBytes = 0;
  /** Delivery is chained: one connection's messages are all delivered before the next one's. */
  private delivering: Promise<void> = Promise.resolve();
  private readonly readers = new Set<Reader>();

  constructor(url: string | URL, options: ReconnectingOptions = {}) {
    super();
    validateOptions(options, [...CLIENT_OPTION_KEYS, ...OWN_OPTION_NAMES]);
    const connectOptions: Record<string, unknown> = { ...options };
    for (const name of OWN_OPTION_NAMES) delete connectOptions[name];
    this.url = String(url);
    this.connectOptions = connectOptions as ClientOptions;
    this.initialDelay = positive(options.initialDelay ?? 500, 'initialDelay');
    this.maxDelay = positive(options.maxDelay ?? 30_000, 'maxDelay');
    this.factor = positive(options.factor ?? 2, 'factor');
    this.maxAttempts = positive(options.maxAttempts ?? Number.POSITIVE_INFINITY, 'maxAttempts');
    this.reconnectCodes = new Set(options.reconnectCodes ?? DEFAULT_RECONNECT_CODES);
    this.maxQueuedMessages = positive(options.maxQueuedMessages ?? 1000, 'maxQueuedMessages');
    this.maxQueuedBytes = positive(options.maxQueuedBytes ?? 1024 * 1024, 'maxQueuedBytes');
    const overflow = options.overflow ?? 'drop-oldest';
    if (overflow !== 'drop-oldest' && overflow !== 'drop-newest' && overflow !== 'throw') {
      throw new TypeError(
        `overflow is 'drop-oldest', 'drop-newest' or 'throw', not ${JSON.stringify(overflow)}`,
      );
    }
    this.overflow = overflow;
    this.signal = options.signal;
    this.clock = options.clock ?? {
      setTimeout: globalThis.setTimeout,
      clearTimeout: globalThis.clearTimeout,
    };
    this.random = options.random ?? Math.random;
    if (this.signal?.aborted === true) {
      // Listeners are attached after the constructor: tell them on the next turn.
      queueMicrotask(() => this.end({ reason: 'aborted' }));
      return;
    }
    this.signal?.addEventListener('abort', this.onAbort, { once: true });
    // The first dial waits one microtask, so that 'connecting' reaches listeners added after `new`.
    queueMicrotask(() => this.dial());
  }

  /** The open connection, if any. */
  get socket(): WebSocket | undefined {
    return this.current?.readyState === 1 ? this.current : undefined;
  }

  /** Whether the client has stopped for good. */
  get isFinished(): boolean {
    return this.isEnded;
  }

  /** Messages waiting for a connection. */
  get queuedMessages(): number {
    return this.queue.length;
  }

  /**
   * Sends now on an open connection, or queues until the next one opens. Returns false when the message
   * was neither sent nor queued (the client has ended, or the queue is full with `overflow: 'drop-newest'`).
   */
  send(data: ReconnectingSendable): boolean {
    if (this.isEnded) return false;
    const socket = this.socket;
    if (socket !== undefined && this.queue.length === 0) {
      socket.send(data);
      return true;
    }
    const size = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
    while (this.queue.length >= this.maxQueuedMessages || this.queuedBytes + size > this.maxQueuedBytes) {
      if (this.overflow === 'throw') {
        throw new RangeError(
          `The send queue is full (${this.queue.length} messages, ${this.queuedBytes} bytes) while reconnecting`,
        );
      }
      if (this.overflow === 'drop-newest' || this.queue.length === 0) {
        this.emit('drop', data);
        return false;
      }
      const dropped = this.queue.shift()!;
      this.queuedBytes -= dropped.size;
      this.emit('drop', dropped.data);
    }
    this.queue.push({ data, size });
    this.queuedBytes += size;
    return true;
  }

  /** Stops reconnecting and closes the open connection (default 1000). */
  close(code = 1000, reason = ''): void {
    if (this.isEnded) return;
    const socket = this.current;
    this.end({ reason: 'closed-by-application' });
    if (socket !== undefined && socket.readyState < 2) socket.close(code, reason);
  }

  /** Every message, across reconnects, until 'end'. Reading waits while the loop holds 16 unread. */
  [Symbol.asyncIterator](): AsyncIterableIterator<WebSocketData> {
    const reader = new Reader(() => this.readers.delete(reader));
    if (this.isEnded) reader.finish();
    else this.readers.add(reader);
    return reader;
  }

  private dial(): void {
    if (this.isEnded) return;
    this.timer = undefined;
    const attempt = ++this.attempts;
    this.emit('connecting', { attempt });
    connect(this.url, this.connectOptions).then(
      (socket) => this.opened(socket, attempt),
      (error: unknown) => this.dialFailed(error instanceof Error ? error : new Error(String(error))),
    );
  }

  private opened(socket: WebSocket, attempt: number): void {
    if (this.isEnded) {
      socket.close(1000);
      return;
    }
    this.failuresInARow = 0;
    this.current = socket;
    // Made at once: messages that arrive before the previous connection's are delivered wait in it.
    const messages = socket[Symbol.asyncIterator]();
    socket.addEventListener(
      'close',
      (event) => this.closed(socket, event.code, event.reason, event.wasClean),
      {
        once: true,
      },
    );
    for (const queued of this.queue.splice(0)) socket.send(queued.data);
    this.queuedBytes = 0;
    this.delivering = this.delivering.then(() => this.deliver(messages));
    this.emit('open', { attempt, socket });
  }

  private async deliver(messages: AsyncIterableIterator<WebSocketData>): Promise<void> {
    for await (const message of messages) {
      this.emit('message', message);
      for (const reader of this.readers) reader.push(message);
      // Backpressure: the connection's own iterator stops reading while a loop here is behind.
      for (const reader of this.readers) await reader.belowHighWater();
    }
  }

  private closed(socket: WebSocket, code: number, reason: string, wasClean: boolean): void {
    if (this.current === socket) this.current = undefined;
    const willReconnect = !this.isEnded && this.reconnectCodes.has(code);
    this.emit('close', { code, reason, wasClean, willReconnect });
    if (this.isEnded) return;
    if (willReconnect) this.scheduleRetry(code);
    else this.end({ reason: 'closed', code });
  }

  private dialFailed(error: Error): void {
    if (this.isEnded) return;
    this.failuresInARow++;
    // A refusal is the server's decision (401, 403, 404 ...): asking again would get the same answer.
    // 408, 429 and 5xx are about the moment, not the request.
    if (error instanceof HandshakeError && error.status !== 0 && !isTransientStatus(error.status)) {
      this.end({ reason: 'refused', error });
      return;
    }
    if (this.failuresInARow >= this.maxAttempts) {
      this.end({ reason: 'gave-up', error });
      return;
    }
    this.scheduleRetry(error);
  }

  private scheduleRetry(cause: Error | number): void {
    // Full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter"): uniform in [0, ceiling).
    const ceiling = Math.min(this.maxDelay, this.initialDelay * this.factor ** this.failuresInARow);
    const delay = Math.floor(this.random() * ceiling);
    this.emit('retry', { attempt: this.attempts + 1, delay, cause });
    if (this.isEnded) return; // a 'retry' listener closed it
    this.timer = this.clock.setTimeout(() => this.dial(), delay);
  }

  private readonly onAbort = (): void => {
    const socket = this.current;
    this.end({ reason: 'aborted' });
    if (socket !== undefined && socket.readyState < 2) socket.close(1000);
  };

  private end(event: ReconnectingEvents['end'][0]): void {
    if (this.isEnded) return;
    this.isEnded = true;
    this.endEvent = event;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.signal?.removeEventListener('abort', this.onAbort);
    for (const queued of this.queue.splice(0)) this.emit('drop', queued.data);
    this.queuedBytes = 0;
    // Loops end once what was delivered before the end has been read.
    void this.delivering.then(() => {
      for (const reader of this.readers) reader.finish();
      this.readers.clear();
    });
    this.emit('end', event);
  }

  /** How the client ended, once it has. */
  get ending(): ReconnectingEvents['end'][0] | undefined {
    return this.endEvent;
  }
}

function isTransientStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

function positive(value: number, name: string): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value <= 0) {
    throw new RangeError(`${name} is a number > 0, not ${String(value)}`);
  }
  return value;
}

/** One `for await` loop over a ReconnectingWebSocket: a queue of at most ITERATOR_HIGH_WATER (+1) messages. */
class Reader implements AsyncIterableIterator<WebSocketData> {
  private readonly queue: WebSocketData[] = [];
  private waiting: ((result: IteratorResult<WebSocketData>) => void) | undefined;
  private drained: (() => void) | undefined;
  private isDone = false;
  private readonly forget: () => void;

  constructor(forget: () => void) {
    this.forget = forget;
  }

  push(message: WebSocketData): void {
    if (this.isDone) return;
    const waiting = this.waiting;
    if (waiting !== undefined) {
      this.waiting = undefined;
      waiting({ done: false, value: message });
      return;
    }
    this.queue.push(message);
  }

  belowHighWater(): Promise<void> {
    if (this.isDone || this.queue.length < ITERATOR_HIGH_WATER) return Promise.resolve();
    return new Promise((resolve) => {
      this.drained = resolve;
    });
  }

  finish(): void {
    this.isDone = true;
    this.waiting?.({ done: true, value: undefined });
    this.waiting = undefined;
  }

  next(): Promise<IteratorResult<WebSocketData>> {
    const message = this.queue.shift();
    if (message !== undefined) {
      if (this.queue.length < ITERATOR_HIGH_WATER) this.releaseWriter();
      return Promise.resolve({ done: false, value: message });
    }
    if (this.isDone) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }

  return(): Promise<IteratorResult<WebSocketData>> {
    this.isDone = true;
    this.queue.length = 0;
    this.releaseWriter();
    this.forget();
    return Promise.resolve({ done: true, value: undefined });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<WebSocketData> {
    return this;
  }

  private releaseWriter(): void {
    const drained = this.drained;
    this.drained = undefined;
    drained?.();
  }
}
