// Owns the async iterator of `for await (const message of socket)`: a bounded queue between a WebSocket and
// one loop, which pauses the socket's reading while the loop falls behind.

import type { WebSocketData } from './websocket-events.js';

/** Messages the async iterator may hold before reading pauses; either limit pauses. */
const ITERATOR_HIGH_WATER_MESSAGES = 16;
const ITERATOR_HIGH_WATER_BYTES = 1024 * 1024;

/** @internal What an iterator may ask of its WebSocket. */
export interface IteratorControls {
  pauseReading(): void;
  resumeReading(): void;
  forget(iterator: MessageIterator): void;
}

/**
 * @internal The async iterator of one `for await` loop: a bounded queue between the socket and the loop.
 * `WebSocket[Symbol.asyncIterator]()` makes one; applications only ever see it as an AsyncIterableIterator.
 */
export class MessageIterator implements AsyncIterableIterator<WebSocketData> {
  private readonly controls: IteratorControls;
  private readonly queue: { data: WebSocketData; size: number }[] = [];
  private queuedBytes = 0;
  private isDone: boolean;
  private isPausing = false;
  private waiting: ((result: IteratorResult<WebSocketData>) => void) | undefined;
  /** Set while reading waits for the loop to take its turn with the message it was just given. */
  private yieldTimer: NodeJS.Immediate | undefined;

  constructor(controls: IteratorControls, isDone: boolean) {
    this.controls = controls;
    this.isDone = isDone;
  }

  push(data: WebSocketData, size: number): void {
    const waiting = this.waiting;
    if (waiting !== undefined) {
      this.waiting = undefined;
      this.yieldToLoop();
      waiting({ done: false, value: data });
      return;
    }
    this.queue.push({ data, size });
    this.queuedBytes += size;
    if (
      !this.isPausing &&
      (this.queue.length >= ITERATOR_HIGH_WATER_MESSAGES || this.queuedBytes >= ITERATOR_HIGH_WATER_BYTES)
    ) {
      this.isPausing = true;
      this.controls.pauseReading();
    }
  }

  end(): void {
    this.isDone = true;
    this.endYield();
    this.stopPausing();
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.({ done: true, value: undefined });
  }

  next(): Promise<IteratorResult<WebSocketData>> {
    // The loop is back for more: it has answered the last message, if it was going to.
    this.endYield();
    const item = this.queue.shift();
    if (item !== undefined) {
      this.queuedBytes -= item.size;
      // Resume below half of both limits, so reading does not stop and start on every message.
      if (
        this.isPausing &&
        this.queue.length < ITERATOR_HIGH_WATER_MESSAGES / 2 &&
        this.queuedBytes < ITERATOR_HIGH_WATER_BYTES / 2
      ) {
        this.stopPausing();
      }
      return Promise.resolve({ done: false, value: item.data });
    }
    if (this.isDone) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }

  return(): Promise<IteratorResult<WebSocketData>> {
    this.controls.forget(this);
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.end();
    return Promise.resolve({ done: true, value: undefined });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<WebSocketData> {
    return this;
  }

  /**
   * A waiting loop runs its body in a later microtask, not within the 'message' dispatch: reading pauses
   * until the loop asks for the next message or has had its turn (setImmediate runs after microtasks),
   * so what the body sends in reply goes out before what the next frames bring (a close, a failure).
   * One message at a time while the loop keeps up; a body that awaits longer lets reading go on.
   */
  private yieldToLoop(): void {
    if (this.yieldTimer !== undefined) return;
    this.controls.pauseReading();
    this.yieldTimer = setImmediate(endIteratorYield, this);
  }

  /** @internal */
  endYield(): void {
    const timer = this.yieldTimer;
    if (timer === undefined) return;
    clearImmediate(timer);
    this.yieldTimer = undefined;
    this.controls.resumeReading();
  }

  private stopPausing(): void {
    if (!this.isPausing) return;
    this.isPausing = false;
    this.controls.resumeReading();
  }
}

function endIteratorYield(iterator: MessageIterator): void {
  iterator.endYield();
}
