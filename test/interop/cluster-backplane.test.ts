// Topics across a real node:cluster of 2 workers: a publish on one worker reaches the subscribers on
// both exactly once, in the publisher's order, and never its sender.

import cluster, { type Worker } from 'node:cluster';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, relayClusterBackplane, type WebSocket } from '../../src/index.js';

const workers: Worker[] = [];
const ports: number[] = [];
let stopRelay: (() => void) | undefined;

beforeAll(async () => {
  cluster.setupPrimary({
    exec: fileURLToPath(new URL('../support/cluster-topic-worker.ts', import.meta.url)),
    execArgv: ['--import', 'tsx'],
  });
  stopRelay = relayClusterBackplane();
  for (let index = 0; index < 2; index++) {
    const worker = cluster.fork();
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

/** Collects a client's text messages until `last` arrives (inclusive). */
function collectUntil(socket: WebSocket, last: string): Promise<string[]> {
  const seen: string[] = [];
  return new Promise((resolve) => {
    socket.addEventListener('message', (event) => {
      seen.push(String(event.data));
      if (event.data === last) resolve(seen);
    });
  });
}

describe('cluster backplane', () => {
  it('a publish on one worker reaches subscribers on both, once each, in order, never the sender', async () => {
    const url = (port: number | undefined) => `ws://127.0.0.1:${port}/?topic=room`;
    const [publisherA, listenerA, publisherB, listenerB] = await Promise.all([
      connect(url(ports[0])),
      connect(url(ports[0])),
      connect(url(ports[1])),
      connect(url(ports[1])),
    ]);
    const clients = [publisherA!, listenerA!, publisherB!, listenerB!];
    try {
      const sent = Array.from({ length: 50 }, (_, index) => `a${index}`);
      const atListenerA = collectUntil(listenerA!, 'b-end');
      const atListenerB = collectUntil(listenerB!, 'b-end');
      const atPublisherA = collectUntil(publisherA!, 'b-end');
      const atPublisherB = collectUntil(publisherB!, 'a49');
      for (const text of sent) publisherA!.send(text);
      // Worker B's publisher answers once it has A's whole stream, so B's 'b-end' comes after it.
      expect(await atPublisherB).toEqual(sent);
      publisherB!.send('b-end');
      expect(await atListenerA).toEqual([...sent, 'b-end']);
      expect(await atListenerB).toEqual([...sent, 'b-end']);
      expect(await atPublisherA).toEqual(['b-end']);
    } finally {
      await Promise.all(
        clients.map((client) => {
          const closed = once(client, 'close');
          client.close();
          return closed;
        }),
      );
    }
  });
});
