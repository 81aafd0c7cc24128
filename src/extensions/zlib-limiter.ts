// Owns the process-wide cap on how many zlib jobs (one message's deflate or inflate) run at once.

/**
 * A job holds one slot from the moment it starts until it calls `release` (extra calls are ignored).
 * A job must not throw: it reports failures through its own callbacks and still releases.
 */
export type ZlibJob = (release: () => void) => void;

/**
 * A FIFO counting semaphore for zlib work.
 *
 * Why a cap at all: node:zlib runs every asynchronous write on the libuv thread pool (4 threads by
 * default), so jobs beyond that only wait there anyway, and each started job pins its input, its
 * output chunks and its zlib context while it waits. Thousands of jobs started at once (a broadcast,
 * a burst of compressed frames) fragment the native heap badly (nodejs/node#8871, websockets/ws#1202).
 * Jobs queued here cost one closure each instead.
 *
 * Why FIFO is fair: each permessage-deflate session direction runs its messages one at a time (its
 * SerialQueue hands the next one here only after the previous one released), and the driver gives the
 * session one received message at a time. So a connection holds at most one place in this queue per
 * direction, and a peer flooding compressed frames gets one job in turn with everyone else's: a new
 * job waits behind at most one job of each other connection (round-robin), never behind a backlog.
 * Bound: the queue's length is at most twice the number of connections using the cap.
 *
 * @example
 * ```ts
 * const limiter = new ZlibLimiter(10);
 * limiter.run((release) => {
 *   deflater.write(data, () => {
 *     release();
 *     callback(null, output);
 *   });
 * });
 * ```
 */
export class ZlibLimiter {
  /** How many jobs may hold a slot at once. */
  readonly concurrency: number;
  private runningCount = 0;
  /**
   * Waiting jobs from index `head` on; a moving head keeps taking the next job O(1) (shift() is O(n)).
   * Bound: one per session direction (see above), whatever a peer sends.
   */
  private waiting: (ZlibJob | undefined)[] = [];
  private head = 0;
  private isPumping = false;

  constructor(concurrency: number) {
    if (typeof concurrency !== 'number') {
      throw new TypeError(`ZlibLimiter: concurrency must be a number, got ${typeof concurrency}`);
    }
    if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
      throw new RangeError(`ZlibLimiter: concurrency must be a positive integer, got ${concurrency}`);
    }
    this.concurrency = concurrency;
  }

  /** Jobs holding a slot now. */
  get running(): number {
    return this.runningCount;
  }

  /** Jobs waiting for a slot, in the order they will start. */
  get pending(): number {
    return this.waiting.length - this.head;
  }

  /** Start `job` now if a slot is free, otherwise after every job queued before it has started. */
  run(job: ZlibJob): void {
    this.waiting.push(job);
    this.pump();
  }

  private pump(): void {
    // A job that releases synchronously re-enters here; the loop below picks up its freed slot
    // instead of recursing, so a long queue of instant jobs cannot overflow the stack.
    if (this.isPumping) return;
    this.isPumping = true;
    try {
      while (this.runningCount < this.concurrency) {
        const job = this.takeNext();
        if (job === undefined) break;
        this.runningCount += 1;
        let isReleased = false;
        job(() => {
          if (isReleased) return;
          isReleased = true;
          this.runningCount -= 1;
          this.pump();
        });
      }
    } finally {
      this.isPumping = false;
    }
  }

  private takeNext(): ZlibJob | undefined {
    if (this.head === this.waiting.length) return undefined;
    const job = this.waiting[this.head];
    this.waiting[this.head] = undefined;
    this.head += 1;
    if (this.head === this.waiting.length) {
      this.waiting = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.waiting.length) {
      this.waiting = this.waiting.slice(this.head);
      this.head = 0;
    }
    return job;
  }
}

const sharedLimiters = new Map<number, ZlibLimiter>();

/**
 * The process-wide limiter for a given cap: every caller asking for the same `concurrency` shares one
 * queue, so all connections of all servers using the default cap together run at most that many jobs.
 */
export function sharedZlibLimiter(concurrency: number): ZlibLimiter {
  let limiter = sharedLimiters.get(concurrency);
  if (limiter === undefined) {
    limiter = new ZlibLimiter(concurrency);
    sharedLimiters.set(concurrency, limiter);
  }
  return limiter;
}
