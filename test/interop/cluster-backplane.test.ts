// Topics across a real node:cluster of 3 workers: a publish on one worker reaches the subscribers on
// the others exactly once, in the publisher's order, and never its sender; and both directions of the
// IPC channel are bounded: a publisher that outruns its channel, and a worker too slow (stopped) to read
// the primary's relay, lose envelopes past the bound, counted, while the rest arrive in order.

import cluster, { type Worker } from 'node:cluster';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, relayClusterBackplane, type WebSocket } from '../../src/index.js';

/** The relay's bound per worker channel, and worker C's bound on its own channel to the primary. */
const RELAY_MAX_QUEUED_BYTES = 256 * 1024;
const WORKER_C_MAX_QUEUED_BYTES = 64 * 1024;

const workers: Worker[] = [];
const ports: number[] = [];
const relayDrops = new Map<Worker, number>();
let stopRelay: (() => void) | undefined;

beforeAll(async () => {
  cluster.setupPrimary({
    exec: fileURLToPath(new URL('../support/cluster-topic-worker.ts', import.meta.url)),
    execArgv: ['--import', 'tsx'],
  });
  stopRelay = relayClusterBackplane({
    maxQueuedBytes: RELAY_MAX_QUEUED_BYTES,
    onDrop: (worker, drop) => relayDrops.set(worker, drop.dropped),
  });
  const environments = [{}, {}, { HYBI_TEST_MAX_QUEUED_BYTES: String(WORKER_C_MAX_QUEUED_BYTES) }];
  for (const environment of environments) {
    const worker = cluster.fork(environment);
    workers.push(worker);
    const [message] = (await once(worker, 'message')) as [{ port: number }];
    ports.push(message.port);
  }
});

afterAll(async () => {
  await Promise.all(
    workers.map((worker) => {
      if (worker.isDead()) return undefined;
      const exited = once(worker, 'exit');
      worker.disconnect();
      return exited;
    }),
  );
  stopRelay?.();
});

/** Collects a client's text messages until `isLast` accepts one (inclusive). */
function collectUntil(
  socket: WebSocket,
  isLast: (text: string, seen: string[]) => boolean,
): Promise<string[]> {
  const seen: string[] = [];
  return new Promise((resolve) => {
    socket.addEventListener('message', (event) => {
      const text = String(event.data);
      seen.push(text);
      if (isLast(text, seen)) resolve(seen);
    });
  });
}

const until = (last: string) => (text: string) => text === last;

/** The index of a burst message (`<index>:xxx…`). */
const burstIndex = (text: string): number => Number(text.slice(0, text.indexOf(':')));

function connectAll(urls: string[]): Promise<WebSocket[]> {
  return Promise.all(urls.map((url) => connect(url)));
}

async function closeAll(clients: WebSocket[]): Promise<void> {
  await Promise.all(
    clients.map((client) => {
      const closed = once(client, 'close');
      client.close();
      return closed;
    }),
  );
}

const url = (worker: number, topic: string) => `ws://127.0.0.1:${ports[worker]}/?topic=${topic}`;

describe('cluster backplane', () => {
  it('a publish on one worker reaches subscribers on both, once each, in order, never the sender', async () => {
    const clients = await connectAll([url(0, 'room'), url(0, 'room'), url(1, 'room'), url(1, 'room')]);
    const [publisherA, listenerA, publisherB, listenerB] = clients as [
      WebSocket,
      WebSocket,
      WebSocket,
      WebSocket,
    ];
    try {
      const sent = Array.from({ length: 50 }, (_, index) => `a${index}`);
      const atListenerA = collectUntil(listenerA, until('b-end'));
      const atListenerB = collectUntil(listenerB, until('b-end'));
      const atPublisherA = collectUntil(publisherA, until('b-end'));
      const atPublisherB = collectUntil(publisherB, until('a49'));
      for (const text of sent) publisherA.send(text);
      // Worker B's publisher answers once it has A's whole stream, so B's 'b-end' comes after it.
      expect(await atPublisherB).toEqual(sent);
      publisherB.send('b-end');
      expect(await atListenerA).toEqual([...sent, 'b-end']);
      expect(await atListenerB).toEqual([...sent, 'b-end']);
      expect(await atPublisherA).toEqual(['b-end']);
    } finally {
      await closeAll(clients);
    }
  });

  it('a worker publishing past its maxQueuedBytes in one turn drops the rest, counted, and sends a prefix', async () => {
    const clients = await connectAll([url(2, 'bound'), url(0, 'bound')]);
    const [publisherC, listenerA] = clients as [WebSocket, WebSocket];
    try {
      const count = 100;
      const done = collectUntil(publisherC, (text) => text.startsWith('burst-done:'));
      const received = collectUntil(listenerA, until('after'));
      // 100 publishes of 4 KiB in one turn: no write can complete meanwhile, so C's queue only grows.
      publisherC.send(`burst:${count}:4096`);
      const answers = await done;
      const dropped = Number(answers.at(-1)?.slice('burst-done:'.length));
      expect(dropped).toBeGreaterThan(0);
      expect(dropped).toBeLessThan(count);
      // 100 envelopes of ~5.5 KiB against a 64 KiB bound: only the first few fit.
      expect(count - dropped).toBeLessThanOrEqual(Math.ceil(WORKER_C_MAX_QUEUED_BYTES / 4096));
      // Once the channel drained, publishing works again.
      publisherC.send('after');
      const texts = await received;
      expect(texts.length).toBe(count - dropped + 1);
      expect(texts.slice(0, -1).map(burstIndex)).toEqual(
        Array.from({ length: count - dropped }, (_, i) => i),
      );
    } finally {
      await closeAll(clients);
    }
  });

  it('the relay drops envelopes past maxQueuedBytes for a stopped worker, and what it accepted arrives once, in order', async () => {
    const clients = await connectAll([url(0, 'flood'), url(1, 'flood')]);
    const [publisherA, listenerB] = clients as [WebSocket, WebSocket];
    const stopped = workers[1]!;
    const publisher = workers[0]!;
    const count = 200;
    // The relay's listener was added first, so once this one saw the burst's last envelope the relay
    // has handled them all.
    let seen = 0;
    let relayed: () => void = () => {};
    const allRelayed = new Promise<void>((resolve) => {
      relayed = resolve;
    });
    const onMessage = (sender: Worker, message: { tag?: unknown }): void => {
      if (sender === publisher && message.tag === 'hybi:topics:1' && ++seen === count) relayed();
    };
    cluster.on('message', onMessage);
    let resumed = false;
    try {
      const dropsBefore = relayDrops.get(stopped) ?? 0;
      // SIGSTOP: worker B reads nothing, so the relay's writes to it stay queued in the primary.
      process.kill(stopped.process.pid!, 'SIGSTOP');
      publisherA.send(`burst:${count}:8192`);
      await allRelayed;
      const dropped = (relayDrops.get(stopped) ?? 0) - dropsBefore;
      // 200 envelopes of ~11 KiB (2.2 MB) against 256 KiB queued plus what the kernel's socket buffer took.
      expect(dropped).toBeGreaterThan(0);
      expect(dropped).toBeLessThan(count);
      const delivered = collectUntil(listenerB, (_text, texts) => texts.length === count - dropped);
      process.kill(stopped.process.pid!, 'SIGCONT');
      resumed = true;
      const texts = await delivered;
      const indexes = texts.map(burstIndex);
      // What the relay accepted arrives once and in the publisher's order.
      expect(indexes).toEqual([...indexes].sort((left, right) => left - right));
      expect(new Set(indexes).size).toBe(indexes.length);
      expect(indexes[0]).toBe(0);
      const afterward = collectUntil(listenerB, until('after'));
      publisherA.send('after');
      // Nothing more of the burst came meanwhile: the next message is the one published after it.
      expect(await afterward).toEqual(['after']);
    } finally {
      if (!resumed) process.kill(stopped.process.pid!, 'SIGCONT');
      cluster.off('message', onMessage);
      await closeAll(clients);
    }
  });
});
