// Owns the Redis pub/sub backplane: a channel per topic that has local subscribers, over Redis clients
// the application already has (node-redis v4+ or ioredis), so hybi itself depends on neither.

import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import type { Backplane } from './backplane.js';
import type { BackplaneDrop } from './cluster-backplane.js';

/** Default of `prefix`: the channel of topic `t` is `hybi:topic:t`. */
export const DEFAULT_REDIS_CHANNEL_PREFIX = 'hybi:topic:';
/** Default of `maxQueuedBytes`: envelopes handed to the publisher client and not yet acknowledged. */
export const DEFAULT_REDIS_MAX_QUEUED_BYTES = 8 * 1024 * 1024;
/** Channels per SUBSCRIBE or UNSUBSCRIBE command when many are sent at once (a resubscribe, close). */
const CHANNELS_PER_COMMAND = 1024;

/**
 * The publishing client: anything with `publish(channel, message)` returning a promise, as node-redis
 * v4+ (`createClient()`) and ioredis (`new Redis()`) both have. Typed loosely on purpose: the two
 * libraries' own types differ, and the shape is checked when the backplane is made.
 */
export interface RedisPublisherLike {
  publish(...args: never[]): unknown;
}

/**
 * The subscribing client: a connection of its own (Redis puts a connection that subscribes into
 * subscriber mode, where it may run nothing else), e.g. node-redis `client.duplicate()` (connected) or
 * a second ioredis `new Redis()`. The backplane owns its subscriptions: do not share it.
 */
export interface RedisSubscriberLike {
  subscribe(...args: never[]): unknown;
  unsubscribe(...args: never[]): unknown;
  on(...args: never[]): unknown;
  off(...args: never[]): unknown;
}

export interface RedisBackplaneOptions {
  /** The client publishes go through. */
  publisher: RedisPublisherLike;
  /** The client the backplane subscribes with; not the publisher (see `RedisSubscriberLike`). */
  subscriber: RedisSubscriberLike;
  /** Channel name prefix (default `'hybi:topic:'`): processes that share it form one fleet. */
  prefix?: string;
  /**
   * Most bytes of envelopes handed to the publisher and not yet acknowledged by Redis (default 8 MiB):
   * what a slow or unreachable Redis makes this process hold (the clients queue commands while
   * disconnected, without a limit of their own). A publish past it is dropped for the other processes
   * (local subscribers still get it) and emitted as `'drop'`.
   */
  maxQueuedBytes?: number;
}

/** A stretch of time in which this process's subscriber connection was down. */
export interface RedisBackplaneLoss {
  /**
   * The topics that had local subscribers while the connection was down: anything published on them
   * between `since` and `until` may not have reached this process (Redis pub/sub keeps nothing).
   */
  readonly topics: readonly string[];
  /** When the connection was seen down (`Date.now()`). */
  readonly since: number;
  /** When every channel was subscribed again. */
  readonly until: number;
}

/** A publish that did not reach Redis: its queue was full, or the publisher client rejected it. */
export interface RedisBackplaneDrop extends BackplaneDrop {
  /** `'queue-full'` or the publisher's error message. */
  readonly reason: string;
}

export interface RedisBackplaneEvents {
  /** Redis confirmed the subscription of `topic`'s channel: publishes from now on reach this process. */
  subscribe: [topic: string];
  /** Redis confirmed `topic`'s channel is unsubscribed (its last local subscriber left). */
  unsubscribe: [topic: string];
  /** The subscriber connection went down: publishes of the other processes are missed until `'loss'`. */
  disconnect: [since: number];
  /** The subscriber connection is back and subscribed again: what may have been missed meanwhile. */
  loss: [loss: RedisBackplaneLoss];
  /** A publish of this process that the other processes will not get. */
  drop: [drop: RedisBackplaneDrop];
  /** The backplane was closed and Redis confirmed its channels unsubscribed. */
  close: [];
}

type BufferListener = (message: Buffer, channel: Buffer) => void;

/** The calls the backplane makes, whichever library the clients come from. */
interface SubscriberCalls {
  subscribe(channels: string[]): Promise<unknown>;
  unsubscribe(channels: string[]): Promise<unknown>;
  /** Removes the message listener the backplane added. */
  detach(): void;
}

/**
 * A backplane over Redis pub/sub, for the servers of several processes or machines: `publish` on any
 * of them reaches the subscribers of all. Each topic with local subscribers is one Redis channel
 * (`prefix` + topic) this process subscribes to while the topic has them; a publish is one PUBLISH of
 * the topic's envelope (src/node/backplane-envelope.ts) to the topic's channel.
 *
 * Order: one process's publishes reach each other process in the order it made them (one publisher
 * connection, and Redis delivers to each subscriber connection in the order it ran the PUBLISHes).
 * Loss: Redis pub/sub is at-most-once. What is published while a process's subscriber connection is
 * down is lost for it; the backplane subscribes again when the connection is back and then emits
 * `'loss'` with the topics and the time window. A publish past `maxQueuedBytes`, or one the publisher
 * client rejects, is emitted as `'drop'`.
 *
 * @example
 * ```ts
 * import { createClient } from 'redis';
 * const publisher = await createClient({ url: process.env.REDIS_URL }).on('error', console.error).connect();
 * const subscriber = await publisher.duplicate().on('error', console.error).connect();
 * const backplane = redisBackplane({ publisher, subscriber });
 * backplane.on('loss', ({ topics, since, until }) => console.warn('missed', topics, until - since, 'ms'));
 * const wss = new WebSocketServer({ port: 8080, backplane });
 * ```
 */
export class RedisBackplane extends EventEmitter<RedisBackplaneEvents> implements Backplane {
  /** Unique in the fleet: host, pid and random bytes (processes of several machines share channels). */
  readonly origin = `${hostname().slice(0, 64)}:${process.pid}:${randomBytes(6).toString('hex')}`;
  /** Publishes dropped so far (`'drop'`). */
  dropped = 0;
  private readonly publisher: { publish(channel: string, message: Buffer): unknown };
  private readonly subscriberClient: RedisSubscriberLike;
  private readonly calls: SubscriberCalls;
  private readonly prefix: string;
  private readonly prefixBytes: Buffer;
  private readonly maxQueuedBytes: number;
  /**
   * Bytes of publishes not yet acknowledged (or rejected) by Redis. Bounded by `maxQueuedBytes`;
   * emptied as Redis answers, or as the client rejects what it held when its connection failed.
   */
  private queuedBytes = 0;
  /**
   * The topics with local subscribers, whose channels the backplane keeps subscribed. Bounded by the
   * server's subscriptions (`maxTopicsPerSocket` per connection): a topic is here only while it is in
   * the server's registry.
   */
  private readonly topics = new Set<string>();
  private receive: ((envelope: Buffer) => void) | undefined;
  private fail: (error: Error) => void = () => {};
  private state: 'idle' | 'open' | 'closed' = 'idle';
  /** When the subscriber connection was seen down, until it is subscribed again. */
  private downSince: number | undefined;
  /** Counts reconnections, so a resubscribe that a newer disconnect overtook does not report. */
  private connectionEpoch = 0;

  constructor(options: RedisBackplaneOptions) {
    super();
    const { publisher, subscriber } = options;
    if (typeof (publisher as { publish?: unknown } | undefined)?.publish !== 'function') {
      throw new TypeError('redisBackplane: publisher is a node-redis or ioredis client (it has publish())');
    }
    if (
      typeof subscriber?.subscribe !== 'function' ||
      typeof subscriber.unsubscribe !== 'function' ||
      typeof subscriber.on !== 'function'
    ) {
      throw new TypeError(
        'redisBackplane: subscriber is a node-redis or ioredis client of its own (subscribe, unsubscribe, on)',
      );
    }
    if ((subscriber as unknown) === (publisher as unknown)) {
      throw new TypeError(
        'redisBackplane: the subscriber must be a connection of its own (node-redis: client.duplicate(); ioredis: a second new Redis())',
      );
    }
    this.publisher = publisher as unknown as { publish(channel: string, message: Buffer): unknown };
    this.subscriberClient = subscriber;
    this.prefix = options.prefix ?? DEFAULT_REDIS_CHANNEL_PREFIX;
    if (typeof this.prefix !== 'string') throw new TypeError('redisBackplane: prefix is a string');
    this.prefixBytes = Buffer.from(this.prefix, 'utf8');
    const maxQueuedBytes = options.maxQueuedBytes ?? DEFAULT_REDIS_MAX_QUEUED_BYTES;
    if (!Number.isSafeInteger(maxQueuedBytes) || maxQueuedBytes < 1) {
      throw new RangeError(`maxQueuedBytes must be a positive integer, got ${String(maxQueuedBytes)}`);
    }
    this.maxQueuedBytes = maxQueuedBytes;
    this.calls = subscriberCalls(subscriber, this.onMessage);
  }

  /** Bytes of publishes handed to the publisher and not yet answered by Redis. */
  get queued(): number {
    return this.queuedBytes;
  }

  /** The topics whose channels this process keeps subscribed (those with local subscribers). */
  get subscribedTopics(): readonly string[] {
    return [...this.topics];
  }

  open(receive: (envelope: Buffer) => void, fail?: (error: Error) => void): () => void {
    if (this.state !== 'idle') {
      throw new TypeError('A RedisBackplane serves one WebSocketServer: make one per server');
    }
    this.state = 'open';
    this.receive = receive;
    if (fail !== undefined) this.fail = fail;
    const client = this.subscriberClient as unknown as EventEmitter;
    // Both libraries: 'reconnecting' once the connection was lost; ioredis also 'close' and 'end'.
    client.on('reconnecting', this.onDown);
    client.on('close', this.onDown);
    client.on('end', this.onDown);
    client.on('ready', this.onReady);
    return () => this.close();
  }

  send(envelope: Buffer, topic: string): void {
    if (this.state !== 'open') return;
    const bytes = envelope.length;
    if (this.queuedBytes + bytes > this.maxQueuedBytes) {
      this.drop(bytes, 'queue-full');
      return;
    }
    this.queuedBytes += bytes;
    let answer: unknown;
    try {
      answer = this.publisher.publish(this.prefix + topic, envelope);
    } catch (error) {
      this.queuedBytes -= bytes;
      this.drop(bytes, errorMessage(error));
      return;
    }
    Promise.resolve(answer).then(
      () => {
        this.queuedBytes -= bytes;
      },
      (error: unknown) => {
        this.queuedBytes -= bytes;
        this.drop(bytes, errorMessage(error));
      },
    );
  }

  topicAdded(topic: string): void {
    if (this.state !== 'open' || this.topics.has(topic)) return;
    this.topics.add(topic);
    this.calls.subscribe([this.prefix + topic]).then(
      () => {
        if (this.topics.has(topic)) this.emit('subscribe', topic);
      },
      // A connection that is down rejects or holds the command; 'ready' subscribes every topic again.
      (error: unknown) => {
        if (this.downSince === undefined && this.state === 'open') {
          this.fail(new Error(`Redis refused to subscribe to topic ${topic}: ${errorMessage(error)}`));
        }
      },
    );
  }

  topicRemoved(topic: string): void {
    if (this.state !== 'open' || !this.topics.delete(topic)) return;
    this.calls.unsubscribe([this.prefix + topic]).then(
      () => {
        if (!this.topics.has(topic)) this.emit('unsubscribe', topic);
      },
      // A connection that is down forgets its subscriptions with it; Redis keeps none for a closed one.
      () => {},
    );
  }

  /** Stops delivering, unsubscribes every channel; `'close'` follows once Redis confirmed it. */
  private close(): void {
    if (this.state !== 'open') return;
    this.state = 'closed';
    this.receive = undefined;
    const client = this.subscriberClient as unknown as EventEmitter;
    client.off('reconnecting', this.onDown);
    client.off('close', this.onDown);
    client.off('end', this.onDown);
    client.off('ready', this.onReady);
    const channels = [...this.topics].map((topic) => this.prefix + topic);
    this.topics.clear();
    const detach = (): void => {
      this.calls.detach();
      this.emit('close');
    };
    Promise.allSettled(inChunks(channels).map((chunk) => this.calls.unsubscribe(chunk))).then(detach, detach);
  }

  private drop(bytes: number, reason: string): void {
    this.dropped++;
    this.emit('drop', { bytes, dropped: this.dropped, reason });
  }

  private readonly onMessage: BufferListener = (message, channel) => {
    const receive = this.receive;
    if (receive === undefined) return;
    // ioredis hands every message of the connection to one listener: keep those of our channels.
    if (
      channel.length < this.prefixBytes.length ||
      !this.prefixBytes.equals(channel.subarray(0, this.prefixBytes.length))
    ) {
      return;
    }
    receive(message);
  };

  private readonly onDown = (): void => {
    if (this.state !== 'open' || this.downSince !== undefined) return;
    this.downSince = Date.now();
    this.connectionEpoch++;
    this.emit('disconnect', this.downSince);
  };

  /**
   * The connection is (back) up. Both libraries resubscribe by themselves (ioredis unless
   * `autoResubscribe: false`); subscribing again here makes it so whatever the client's settings, and
   * tells us when it is done. Subscribing to a channel twice on one connection changes nothing.
   */
  private readonly onReady = (): void => {
    const since = this.downSince;
    if (this.state !== 'open' || since === undefined) return;
    const epoch = this.connectionEpoch;
    const topics = [...this.topics];
    const channels = topics.map((topic) => this.prefix + topic);
    Promise.all(inChunks(channels).map((chunk) => this.calls.subscribe(chunk))).then(
      () => {
        // Down again meanwhile: the next 'ready' reports, with the earlier `since`.
        if (this.state !== 'open' || epoch !== this.connectionEpoch) return;
        this.downSince = undefined;
        this.emit('loss', { topics, since, until: Date.now() });
      },
      (error: unknown) => {
        if (this.state === 'open' && epoch === this.connectionEpoch) {
          this.fail(new Error(`Redis refused to subscribe again after a reconnect: ${errorMessage(error)}`));
        }
      },
    );
  };
}

/** Makes a Redis backplane; see `RedisBackplane`. */
export function redisBackplane(options: RedisBackplaneOptions): RedisBackplane {
  return new RedisBackplane(options);
}

/**
 * The two client shapes, told apart as @socket.io/redis-adapter does: node-redis v4+ has camelCase
 * pattern methods (`pSubscribe`) and takes a listener per SUBSCRIBE (with `true`: Buffers); ioredis
 * emits every message of the connection as `'messageBuffer'` (channel, message).
 */
function subscriberCalls(subscriber: RedisSubscriberLike, listener: BufferListener): SubscriberCalls {
  if (typeof (subscriber as { pSubscribe?: unknown }).pSubscribe === 'function') {
    const client = subscriber as unknown as {
      subscribe(channels: string[], listener: BufferListener, bufferMode: true): Promise<unknown>;
      unsubscribe(channels: string[], listener: BufferListener, bufferMode: true): Promise<unknown>;
    };
    return {
      subscribe: (channels) => attempt(() => client.subscribe(channels, listener, true)),
      unsubscribe: (channels) => attempt(() => client.unsubscribe(channels, listener, true)),
      detach: () => {},
    };
  }
  const client = subscriber as unknown as {
    subscribe(...channels: string[]): Promise<unknown>;
    unsubscribe(...channels: string[]): Promise<unknown>;
    on(event: 'messageBuffer', listener: (channel: Buffer, message: Buffer) => void): unknown;
    off(event: 'messageBuffer', listener: (channel: Buffer, message: Buffer) => void): unknown;
  };
  const onMessageBuffer = (channel: Buffer, message: Buffer): void => listener(message, channel);
  client.on('messageBuffer', onMessageBuffer);
  return {
    subscribe: (channels) => attempt(() => client.subscribe(...channels)),
    unsubscribe: (channels) =>
      // ioredis: UNSUBSCRIBE without channels would drop every subscription of the connection.
      channels.length === 0 ? Promise.resolve() : attempt(() => client.unsubscribe(...channels)),
    detach: () => {
      client.off('messageBuffer', onMessageBuffer);
    },
  };
}

/** A client call as a promise, whether it returns one, a value, or throws (a closed client may). */
function attempt(call: () => unknown): Promise<unknown> {
  try {
    return Promise.resolve(call());
  } catch (error) {
    return Promise.reject(error);
  }
}

function inChunks(channels: string[]): string[][] {
  const chunks: string[][] = [];
  for (let start = 0; start < channels.length; start += CHANNELS_PER_COMMAND) {
    chunks.push(channels.slice(start, start + CHANNELS_PER_COMMAND));
  }
  return chunks;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
