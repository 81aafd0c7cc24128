// Owns the keepalive heartbeat of one connection: a ping every `interval` and a verdict when no pong
// answers it within `timeout` (RFC 6455 §5.5.2-§5.5.3), on a single unref'd timer.

/**
 * How often to ping and how long to wait for the pong, in milliseconds.
 *
 * @example
 * ```ts
 * const server = new WebSocketServer({ port: 8080, heartbeat: { interval: 15_000, timeout: 10_000 } });
 * ```
 */
export interface HeartbeatOptions {
  /** Milliseconds from the last pong (or from the opening) to the next ping. */
  interval: number;
  /** Milliseconds a ping may wait for its pong before the peer is declared unresponsive. */
  timeout: number;
}

/**
 * The servers' default: a ping after 30 s of no pong, and 30 s for the answer. Pinging every 30 s keeps
 * NAT mappings and proxies whose idle timeout is 60 s (common load balancer default) from dropping an
 * idle connection; 30 s for the pong leaves room for a congested mobile link, and bounds the life of a
 * vanished peer (no FIN: power loss, NAT expiry) to about a minute instead of TCP keepalive's two hours.
 */
export const DEFAULT_HEARTBEAT: Readonly<HeartbeatOptions> = { interval: 30_000, timeout: 30_000 };

/** What a heartbeat needs from its connection. */
export interface HeartbeatHost {
  /** Sends a ping. */
  ping(): void;
  /** No pong arrived within the timeout: end the connection. */
  expire(timeout: number): void;
  /**
   * Whether the socket is being read. While the application pauses reading, the peer's pong may sit
   * unread in the socket: the deadline then waits, so backpressure is not mistaken for a dead peer.
   */
  isReading(): boolean;
}

/** Node timers overflow (and fire at once) past 2^31 - 1 ms. */
const MAX_TIMER_DELAY = 0x7fffffff;

/** Throws a RangeError unless both durations are whole milliseconds a Node timer can wait. */
export function validateHeartbeat(options: HeartbeatOptions): HeartbeatOptions {
  for (const key of ['interval', 'timeout'] as const) {
    const value = options[key];
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > MAX_TIMER_DELAY) {
      throw new RangeError(
        `heartbeat.${key} is a number of milliseconds in 1-${MAX_TIMER_DELAY}, not ${value}`,
      );
    }
  }
  return { interval: options.interval, timeout: options.timeout };
}

/**
 * The heartbeat of one connection. `start()` once it is open, `pong()` for every pong received,
 * `stop()` when it closes. Any pong counts, solicited or not: RFC 6455 §5.5.3 lets a peer answer only
 * the latest of several pings, and an unsolicited pong is a heartbeat in its own right.
 *
 * @example
 * ```ts
 * const heartbeat = new Heartbeat({ interval: 30_000, timeout: 30_000 }, {
 *   ping: () => driver.ping(),
 *   expire: () => socket.destroy(),
 *   isReading: () => !socket.isPaused(),
 * });
 * driver.on('open', () => heartbeat.start());
 * driver.on('pong', () => heartbeat.pong());
 * driver.on('close', () => heartbeat.stop());
 * ```
 */
export class Heartbeat {
  private readonly interval: number;
  private readonly timeout: number;
  private readonly host: HeartbeatHost;
  private timer: NodeJS.Timeout | undefined;
  private isAwaitingPong = false;

  constructor(options: HeartbeatOptions, host: HeartbeatHost) {
    const valid = validateHeartbeat(options);
    this.interval = valid.interval;
    this.timeout = valid.timeout;
    this.host = host;
  }

  /** Whether a timer is pending (at most one ever is). */
  get isRunning(): boolean {
    return this.timer !== undefined;
  }

  /** Schedules the first ping. Calling it again while running does nothing. */
  start(): void {
    if (this.timer !== undefined) return;
    this.isAwaitingPong = false;
    this.schedule(this.interval);
  }

  /** A pong arrived: the peer is alive; the next ping is `interval` from now. */
  pong(): void {
    if (this.timer === undefined || !this.isAwaitingPong) return;
    this.isAwaitingPong = false;
    this.schedule(this.interval);
  }

  /** Clears the timer. */
  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.isAwaitingPong = false;
  }

  private schedule(delay: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    // A shared function and this as its argument: no closure per connection.
    this.timer = setTimeout(fireHeartbeat, delay, this);
    // A heartbeat watches a connection; it is no reason to keep the process alive.
    this.timer.unref();
  }

  /** @internal The timer fired: ping, or judge the peer when its pong is overdue. */
  fire(): void {
    this.timer = undefined;
    if (!this.isAwaitingPong) {
      this.isAwaitingPong = true;
      this.schedule(this.timeout);
      this.host.ping();
      return;
    }
    if (!this.host.isReading()) {
      // The pong may be waiting behind bytes the application has not consumed yet: wait again.
      this.schedule(this.timeout);
      return;
    }
    this.isAwaitingPong = false;
    this.host.expire(this.timeout);
  }
}

function fireHeartbeat(heartbeat: Heartbeat): void {
  heartbeat.fire();
}
