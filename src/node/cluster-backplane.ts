// Owns the node:cluster backplane: workers send topic envelopes to the primary over their IPC channel,
// and the primary relays each to every other worker, each direction under a bound of queued bytes.

import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Backplane } from './backplane.js';

/** Marks hybi's IPC messages among the application's own; the suffix is the envelope version. */
const MESSAGE_TAG = 'hybi:topics:1';

/**
 * Default of `maxQueuedBytes`: bytes of envelopes handed to one IPC channel and not yet written to it.
 * Node queues IPC messages in the sender without a limit of its own when the reader is slow
 * (`process.send()` returns false past 128 KiB, and keeps the message anyway).
 */
export const DEFAULT_MAX_IPC_QUEUED_BYTES = 8 * 1024 * 1024;

/**
 * One IPC message. node:cluster serializes messages as JSON by default, so the envelope travels as
 * base64 (a third larger than its bytes, but valid under either `serialization` setting).
 */
interface IpcMessage {
  tag: typeof MESSAGE_TAG;
  envelope: string;
}

/** What an envelope costs in a channel's queue: its base64 text plus the JSON around it. */
const MESSAGE_OVERHEAD_BYTES = 32;

function isIpcMessage(message: unknown): message is IpcMessage {
  return (
    typeof message === 'object' &&
    message !== null &&
    (message as { tag?: unknown }).tag === MESSAGE_TAG &&
    typeof (message as { envelope?: unknown }).envelope === 'string'
  );
}

/** An envelope refused because its channel's queue was full; it is dropped, not retried. */
export interface BackplaneDrop {
  /** The bytes the refused message would have queued. */
  readonly bytes: number;
  /** Envelopes dropped on this channel so far, this one included. */
  readonly dropped: number;
}

export interface ClusterBackplaneOptions {
  /**
   * Most bytes of envelopes queued on the IPC channel to the primary and not yet written (default
   * 8 MiB). A publish beyond it is dropped for the other processes (the local subscribers still get
   * it) and reported as `'drop'`. Set by this process: nothing the other side does raises it.
   */
  maxQueuedBytes?: number;
}

export interface ClusterBackplaneEvents {
  drop: [drop: BackplaneDrop];
}

/**
 * The backplane of a node:cluster worker: `new WebSocketServer({ port, backplane: clusterBackplane() })`
 * in each worker, and `relayClusterBackplane()` once in the primary. See `clusterBackplane()`.
 */
export class ClusterBackplane extends EventEmitter<ClusterBackplaneEvents> implements Backplane {
  readonly origin = `${process.pid}:${randomBytes(4).toString('hex')}`;
  /** Envelopes this process dropped because its channel to the primary was full. */
  dropped = 0;
  private readonly maxQueuedBytes: number;
  /**
   * Bytes handed to `process.send()` whose write callback has not come yet: what a slow primary makes
   * this process hold. Bounded by `maxQueuedBytes`; emptied as the channel drains, forgotten with it.
   */
  private queuedBytes = 0;

  constructor(options: ClusterBackplaneOptions = {}) {
    super();
    if (!cluster.isWorker || process.send === undefined) {
      throw new TypeError(
        'clusterBackplane() runs in a node:cluster worker; call relayClusterBackplane() in the primary',
      );
    }
    this.maxQueuedBytes = checkMaxQueuedBytes(options.maxQueuedBytes);
  }

  /** Bytes queued on the channel to the primary and not yet written. */
  get queued(): number {
    return this.queuedBytes;
  }

  send(envelope: Buffer): void {
    // A closed channel (the primary is gone) drops the message: the process is being torn down.
    if (!process.connected) return;
    const text = envelope.toString('base64');
    const bytes = text.length + MESSAGE_OVERHEAD_BYTES;
    if (this.queuedBytes + bytes > this.maxQueuedBytes) {
      this.dropped++;
      this.emit('drop', { bytes, dropped: this.dropped });
      return;
    }
    this.queuedBytes += bytes;
    const message: IpcMessage = { tag: MESSAGE_TAG, envelope: text };
    // The callback comes once the message is written to the channel (or the channel failed).
    process.send?.(message, undefined, undefined, () => {
      this.queuedBytes -= bytes;
    });
  }

  open(receive: (envelope: Buffer) => void): () => void {
    const onMessage = (message: unknown): void => {
      if (isIpcMessage(message)) receive(Buffer.from(message.envelope, 'base64'));
    };
    process.on('message', onMessage);
    return () => {
      process.off('message', onMessage);
    };
  }
}

/**
 * The backplane of a node:cluster worker: `new WebSocketServer({ port, backplane: clusterBackplane() })`
 * in each worker, and `relayClusterBackplane()` once in the primary. Throws TypeError in a process
 * that is not a cluster worker.
 *
 * Order: one worker's publishes reach every other worker in the order it made them (each IPC channel
 * is ordered, and the primary relays a worker's messages in the order they arrive). Loss: none while
 * the processes live and keep up; a worker that dies loses what was still in its channel, and a worker
 * that starts later receives only what is published after it opened its server.
 * Bound: at most `maxQueuedBytes` (default 8 MiB) wait in this worker's channel to the primary; a
 * publish past it is dropped for the other processes and emitted as `'drop'` (see also the relay's).
 *
 * @example
 * ```ts
 * if (cluster.isPrimary) {
 *   relayClusterBackplane();
 *   for (let index = 0; index < 2; index++) cluster.fork();
 * } else {
 *   const backplane = clusterBackplane();
 *   backplane.on('drop', ({ dropped }) => console.warn(`${dropped} publishes dropped: primary too slow`));
 *   const wss = new WebSocketServer({ port: 8080, backplane });
 *   wss.on('connection', (socket) => socket.subscribe('chat'));
 * }
 * ```
 */
export function clusterBackplane(options: ClusterBackplaneOptions = {}): ClusterBackplane {
  return new ClusterBackplane(options);
}

export interface ClusterRelayOptions {
  /**
   * Most bytes of envelopes queued on the IPC channel to any one worker and not yet written (default
   * 8 MiB): a worker that reads slowly (busy, stopped) loses envelopes past it, the others do not wait.
   */
  maxQueuedBytes?: number;
  /** Called for each envelope dropped because `worker`'s channel was full. */
  onDrop?: (worker: Worker, drop: BackplaneDrop) => void;
}

/**
 * In the primary: relays every worker's topic envelopes to the other workers (not back to the sender).
 * Other IPC messages are left to the application. Returns the function that stops relaying.
 * Bound: per worker, at most `maxQueuedBytes` of envelopes wait to be written to its channel; past it
 * an envelope is dropped for that worker only and reported to `onDrop`.
 */
export function relayClusterBackplane(options: ClusterRelayOptions = {}): () => void {
  if (!cluster.isPrimary) {
    throw new TypeError('relayClusterBackplane() runs in the node:cluster primary');
  }
  const maxQueuedBytes = checkMaxQueuedBytes(options.maxQueuedBytes);
  const onDrop = options.onDrop;
  /**
   * Per worker: bytes handed to `worker.send()` and not yet written, and its drops so far. An entry
   * is made on the first relay to a worker and removed when it disconnects, so the map holds at most
   * one entry per live worker.
   */
  const channels = new Map<Worker, { queuedBytes: number; dropped: number }>();
  const forget = (worker: Worker): void => {
    channels.delete(worker);
  };
  const relayTo = (worker: Worker, message: IpcMessage, bytes: number): void => {
    let channel = channels.get(worker);
    if (channel === undefined) {
      channel = { queuedBytes: 0, dropped: 0 };
      channels.set(worker, channel);
      worker.once('disconnect', () => forget(worker));
    }
    if (channel.queuedBytes + bytes > maxQueuedBytes) {
      channel.dropped++;
      onDrop?.(worker, { bytes, dropped: channel.dropped });
      return;
    }
    channel.queuedBytes += bytes;
    const counted = channel;
    worker.send(message, undefined, () => {
      counted.queuedBytes -= bytes;
    });
  };
  const onMessage = (sender: Worker, message: unknown): void => {
    if (!isIpcMessage(message)) return;
    const bytes = message.envelope.length + MESSAGE_OVERHEAD_BYTES;
    for (const worker of Object.values(cluster.workers ?? {})) {
      if (worker !== undefined && worker !== sender && worker.isConnected()) relayTo(worker, message, bytes);
    }
  };
  cluster.on('message', onMessage);
  return () => {
    cluster.off('message', onMessage);
  };
}

function checkMaxQueuedBytes(value: number | undefined): number {
  if (value === undefined) return DEFAULT_MAX_IPC_QUEUED_BYTES;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`maxQueuedBytes must be a positive integer, got ${String(value)}`);
  }
  return value;
}
