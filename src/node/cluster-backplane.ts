// Owns the node:cluster backplane: workers send topic envelopes to the primary over their IPC channel,
// and the primary relays each to every other worker.

import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import type { Backplane } from './backplane.js';

/** Marks hybi's IPC messages among the application's own; the suffix is the envelope version. */
const MESSAGE_TAG = 'hybi:topics:1';

/**
 * One IPC message. node:cluster serializes messages as JSON by default, so the envelope travels as
 * base64 (a third larger than its bytes, but valid under either `serialization` setting).
 */
interface IpcMessage {
  tag: typeof MESSAGE_TAG;
  envelope: string;
}

function isIpcMessage(message: unknown): message is IpcMessage {
  return (
    typeof message === 'object' &&
    message !== null &&
    (message as { tag?: unknown }).tag === MESSAGE_TAG &&
    typeof (message as { envelope?: unknown }).envelope === 'string'
  );
}

/**
 * The backplane of a node:cluster worker: `new WebSocketServer({ port, backplane: clusterBackplane() })`
 * in each worker, and `relayClusterBackplane()` once in the primary. Throws TypeError in a process
 * that is not a cluster worker.
 *
 * Order: one worker's publishes reach every other worker in the order it made them (each IPC channel
 * is ordered, and the primary relays a worker's messages in the order they arrive). Loss: none while
 * the processes live; a worker that dies loses what was still in its channel, and a worker that starts
 * later receives only what is published after it opened its server.
 * Bound: Node queues IPC messages without limit when the peer reads slowly (`process.send()` returns
 * false then, and keeps the message); a publisher that outruns the primary grows that queue.
 *
 * @example
 * ```ts
 * if (cluster.isPrimary) {
 *   relayClusterBackplane();
 *   for (let index = 0; index < 2; index++) cluster.fork();
 * } else {
 *   const wss = new WebSocketServer({ port: 8080, backplane: clusterBackplane() });
 *   wss.on('connection', (socket) => socket.subscribe('chat'));
 * }
 * ```
 */
export function clusterBackplane(): Backplane {
  if (!cluster.isWorker || process.send === undefined) {
    throw new TypeError(
      'clusterBackplane() runs in a node:cluster worker; call relayClusterBackplane() in the primary',
    );
  }
  const origin = `${process.pid}:${randomBytes(4).toString('hex')}`;
  return {
    origin,
    send(envelope) {
      // A closed channel (the primary is gone) drops the message: the process is being torn down.
      if (process.connected) process.send?.({ tag: MESSAGE_TAG, envelope: envelope.toString('base64') });
    },
    open(receive) {
      const onMessage = (message: unknown): void => {
        if (isIpcMessage(message)) receive(Buffer.from(message.envelope, 'base64'));
      };
      process.on('message', onMessage);
      return () => {
        process.off('message', onMessage);
      };
    },
  };
}

/**
 * In the primary: relays every worker's topic envelopes to the other workers (not back to the sender).
 * Other IPC messages are left to the application. Returns the function that stops relaying.
 */
export function relayClusterBackplane(): () => void {
  if (!cluster.isPrimary) {
    throw new TypeError('relayClusterBackplane() runs in the node:cluster primary');
  }
  const onMessage = (sender: Worker, message: unknown): void => {
    if (!isIpcMessage(message)) return;
    for (const worker of Object.values(cluster.workers ?? {})) {
      if (worker !== undefined && worker !== sender && worker.isConnected()) worker.send(message);
    }
  };
  cluster.on('message', onMessage);
  return () => {
    cluster.off('message', onMessage);
  };
}
