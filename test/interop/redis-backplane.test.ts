// The Redis backplane with real parts: a redis-server started here, server processes of their own
// (child processes) with node-redis or ioredis clients, and WebSocket clients on each. A publish on
// one process reaches every subscriber on every process exactly once, in order per publisher; the
// channels follow the topics that have local subscribers; a Redis restart is survived, and what was
// missed meanwhile is reported.

import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type WebSocket } from '../../src/index.js';
import { freePort, hasRedisServer, REDIS_SERVER, RedisServer } from '../support/redis-server.js';

if (!hasRedisServer) {
  console.warn(`Redis backplane tests skipped: ${REDIS_SERVER} is absent (apt-get install redis-server)`);
}

const SERVER_SCRIPT = fileURLToPath(new URL('../support/redis-topic-server.ts', import.meta.url));
/** Each process's bound on unacknowledged publishes: small, so the outage burst overflows it. */
const MAX_QUEUED_BYTES = 64 * 1024;

interface ProcessEvent {
  type: string;
  topic?: string;
  topics?: string[];
  since?: number;
  until?: number;
  reason?: string;
  port?: number;
}

/** One server process and the backplane events it reported, in order. */
class ServerProcess {
  readonly events: ProcessEvent[] = [];
  private readonly waiters = new Set<() => void>();
  port = 0;

  constructor(readonly child: ChildProcess) {
    child.on('message', (message: ProcessEvent) => {
      this.events.push(message);
      for (const waiter of this.waiters) waiter();
    });
  }

  static async start(library: string, redisPort: number): Promise<ServerProcess> {
    const child = fork(SERVER_SCRIPT, {
      execArgv: ['--import', 'tsx'],
      env: {
        ...process.env,
        REDIS_PORT: String(redisPort),
        REDIS_CLIENT: library,
        HYBI_TEST_MAX_QUEUED_BYTES: String(MAX_QUEUED_BYTES),
      },
    });
    const started = new ServerProcess(child);
    started.port = (await started.next((event) => event.type === 'ready', 0)).port ?? 0;
    return started;
  }

  /** The first event from index `from` on that `accepts` takes (already reported, or still to come). */
  next(accepts: (event: ProcessEvent) => boolean, from: number): Promise<ProcessEvent> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = this.events.slice(from).find(accepts);
        if (found === undefined) return false;
        this.waiters.delete(waiter);
        this.child.off('exit', onExit);
        resolve(found);
        return true;
      };
      const waiter = (): void => {
        check();
      };
      const onExit = (): void => {
        this.waiters.delete(waiter);
        reject(new Error(`server process exited; its events: ${JSON.stringify(this.events)}`));
      };
      if (check()) return;
      this.waiters.add(waiter);
      this.child.once('exit', onExit);
    });
  }

  url(topic: string): string {
    return `ws://127.0.0.1:${this.port}/?topic=${topic}`;
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = once(this.child, 'exit');
    const from = this.events.length;
    this.child.send({ type: 'close' });
    // A close that takes this long is stuck: say where, before the hook's timeout says only that.
    const slow = setTimeout(() => {
      console.warn(`server process on port ${this.port} still closing; last events:`, this.events.slice(-6));
    }, 8000);
    void exited.then(() => clearTimeout(slow));
    await this.next((event) => event.type === 'backplane-close', from);
    await exited;
  }
}

/** Collects a client's text messages until `isLast` accepts one (inclusive). */
function collectUntil(
  socket: WebSocket,
  isLast: (text: string, seen: string[]) => boolean,
): Promise<string[]> {
  const seen: string[] = [];
  return new Promise((resolve) => {
    const onMessage = (event: MessageEvent): void => {
      const text = String(event.data);
      seen.push(text);
      if (!isLast(text, seen)) return;
      socket.removeEventListener('message', onMessage);
      resolve(seen);
    };
    socket.addEventListener('message', onMessage);
  });
}

const countOf = (count: number) => (_text: string, seen: string[]) => seen.length === count;
const until = (last: string) => (text: string) => text === last;

async function closeAll(clients: WebSocket[]): Promise<void> {
  await Promise.all(
    clients.map((client) => {
      if (client.readyState === 3) return undefined;
      const closed = once(client, 'close');
      client.close();
      return closed;
    }),
  );
}

/** Connects clients to `topic` on `servers` and resolves once every server's channel is subscribed. */
async function join(servers: ServerProcess[], topic: string, perServer: number): Promise<WebSocket[][]> {
  const marks = servers.map((server) => server.events.length);
  const clients = await Promise.all(
    servers.map((server) => Promise.all(Array.from({ length: perServer }, () => connect(server.url(topic))))),
  );
  await Promise.all(
    servers.map((server, index) =>
      server.next((event) => event.type === 'subscribe' && event.topic === topic, marks[index]!),
    ),
  );
  return clients;
}

describe.skipIf(!hasRedisServer).each(['ioredis', 'redis'])('Redis backplane over %s', (library) => {
  let redis: RedisServer;
  let inspector: Redis;
  const servers: ServerProcess[] = [];

  const channelsOf = async (): Promise<string[]> =>
    ((await inspector.pubsub('CHANNELS', 'hybi:topic:*')) as string[]).sort();
  const subscribersOf = async (topic: string): Promise<number> => {
    const [, count] = (await inspector.pubsub('NUMSUB', `hybi:topic:${topic}`)) as [string, number];
    return Number(count);
  };

  beforeAll(async () => {
    redis = new RedisServer(await freePort());
    await redis.start();
    inspector = new Redis({ port: redis.port, host: '127.0.0.1' });
    inspector.on('error', () => {});
    servers.push(...(await Promise.all([0, 1, 2].map(() => ServerProcess.start(library, redis.port)))));
  });

  afterAll(async () => {
    await Promise.all(servers.map((server) => server.close()));
    // Every process closed its server: no channel of the fleet is left subscribed.
    expect(await channelsOf()).toEqual([]);
    inspector.disconnect();
    await redis.stop();
  });

  it('two processes: a publish on each reaches every subscriber on both once, in order per publisher, never its sender', async () => {
    const [[publisherA, listenerA], [publisherB, listenerB]] = (await join(
      servers.slice(0, 2),
      'duo',
      2,
    )) as [[WebSocket, WebSocket], [WebSocket, WebSocket]];
    const clients = [publisherA, listenerA, publisherB, listenerB];
    try {
      // Only the two processes with subscribers subscribed the channel.
      expect(await subscribersOf('duo')).toBe(2);
      const fromA = Array.from({ length: 30 }, (_, index) => `a${index}`);
      const fromB = Array.from({ length: 30 }, (_, index) => `b${index}`);
      const atListenerA = collectUntil(listenerA, countOf(60));
      const atListenerB = collectUntil(listenerB, countOf(60));
      const atPublisherA = collectUntil(publisherA, countOf(30));
      const atPublisherB = collectUntil(publisherB, countOf(30));
      for (let index = 0; index < 30; index++) {
        publisherA.send(fromA[index]!);
        publisherB.send(fromB[index]!);
      }
      for (const seen of [await atListenerA, await atListenerB]) {
        expect(seen.filter((text) => text.startsWith('a'))).toEqual(fromA);
        expect(seen.filter((text) => text.startsWith('b'))).toEqual(fromB);
      }
      expect(await atPublisherA).toEqual(fromB);
      expect(await atPublisherB).toEqual(fromA);
      // Nothing more of either stream comes: the next message everyone gets is this one.
      const next = [listenerA, listenerB, publisherA].map((client) => collectUntil(client, until('end')));
      publisherB.send('end');
      for (const seen of await Promise.all(next)) expect(seen).toEqual(['end']);
    } finally {
      await closeAll(clients);
    }
  });

  it('three processes: a publish on one reaches every subscriber on all three exactly once, in order', async () => {
    const groups = await join(servers, 'trio', 2);
    const clients = groups.flat();
    try {
      expect(await subscribersOf('trio')).toBe(3);
      const sent = Array.from({ length: 50 }, (_, index) => `m${index}`);
      const [publisher, ...others] = clients as [WebSocket, ...WebSocket[]];
      const received = others.map((client) => collectUntil(client, until('m49')));
      for (const text of sent) publisher.send(text);
      for (const seen of await Promise.all(received)) expect(seen).toEqual(sent);
      const last = publisher === clients[0] ? clients[5]! : clients[0]!;
      const next = clients
        .filter((client) => client !== last)
        .map((client) => collectUntil(client, until('end')));
      last.send('end');
      for (const seen of await Promise.all(next)) expect(seen).toEqual(['end']);
    } finally {
      await closeAll(clients);
    }
  });

  it('the channel is subscribed while a topic has local subscribers, and unsubscribed when the last leaves', async () => {
    const marks = servers.map((server) => server.events.length);
    const [[firstA, secondA], [firstB, secondB]] = (await join(servers.slice(0, 2), 'fleeting', 2)) as [
      [WebSocket, WebSocket],
      [WebSocket, WebSocket],
    ];
    const clients = [firstA, secondA, firstB, secondB];
    try {
      expect(await channelsOf()).toContain('hybi:topic:fleeting');
      expect(await subscribersOf('fleeting')).toBe(2);
      // Process A keeps a subscriber after one leaves: its channel stays.
      await closeAll([firstA]);
      expect(await subscribersOf('fleeting')).toBe(2);
      await closeAll([secondA]);
      await servers[0]!.next(
        (event) => event.type === 'unsubscribe' && event.topic === 'fleeting',
        marks[0]!,
      );
      expect(await subscribersOf('fleeting')).toBe(1);
      await closeAll([firstB, secondB]);
      await servers[1]!.next(
        (event) => event.type === 'unsubscribe' && event.topic === 'fleeting',
        marks[1]!,
      );
      expect(await subscribersOf('fleeting')).toBe(0);
      expect(await channelsOf()).not.toContain('hybi:topic:fleeting');
      // The third process never had a subscriber: it never subscribed.
      expect(servers[2]!.events.slice(marks[2]).some((event) => event.topic === 'fleeting')).toBe(false);
    } finally {
      await closeAll(clients);
    }
  });

  it('a Redis restart: every process reconnects, subscribes again, reports the window, and delivery resumes', async () => {
    const groups = await join(servers, 'restart', 2);
    const clients = groups.flat();
    try {
      const marks = servers.map((server) => server.events.length);
      await redis.stop();
      await Promise.all(
        servers.map((server, index) => server.next((event) => event.type === 'disconnect', marks[index]!)),
      );
      // While Redis is down: local subscribers still get a publish, and the other processes' copies
      // wait in the publisher client's queue, bounded: a burst past MAX_QUEUED_BYTES is dropped, counted.
      const [publisherA, listenerA] = groups[0] as [WebSocket, WebSocket];
      const localDuring = collectUntil(listenerA, until('during'));
      publisherA.send('during');
      expect(await localDuring).toEqual(['during']);
      const [burstSender, burstListener] = groups[2] as [WebSocket, WebSocket];
      const burstDone = collectUntil(burstSender, (text) => text.startsWith('burst-done:'));
      const burstLocal = collectUntil(burstListener, countOf(40));
      burstSender.send('burst:40:4096');
      const dropped = Number((await burstDone).at(-1)?.slice('burst-done:'.length));
      expect(await burstLocal).toHaveLength(40);
      await redis.start();
      const losses = await Promise.all(
        servers.map((server, index) => server.next((event) => event.type === 'loss', marks[index]!)),
      );
      for (const loss of losses) {
        expect(loss.topics).toEqual(['restart']);
        expect(loss.since).toBeLessThanOrEqual(loss.until!);
      }
      // 40 publishes of ~4.2 KiB against 64 KiB: the first ones wait in the queue, the rest are dropped.
      const dropsC = servers[2]!.events.slice(marks[2]).filter((event) => event.type === 'drop');
      expect(dropped).toBeGreaterThan(0);
      expect(dropped).toBeLessThan(40);
      expect(dropsC).toHaveLength(dropped);
      expect(dropsC.every((event) => event.reason === 'queue-full')).toBe(true);
      expect(await subscribersOf('restart')).toBe(3);
      // After the reconnect, a publish reaches every subscriber on all three processes again.
      const others = clients.filter((client) => client !== publisherA);
      const received = others.map((client) => collectUntil(client, until('after')));
      publisherA.send('after');
      const isBurst = (text: string) => /^\d+:/.test(text);
      for (const [index, seen] of (await Promise.all(received)).entries()) {
        const client = others[index]!;
        // 'during' reached process A's listener at once. A remote process gets it, and process C's
        // queued burst, once the publisher's queue reaches Redis, if it had subscribed again by then
        // (Redis pub/sub keeps nothing): so at most once each, in the publisher's order, before 'after'.
        const rest = seen.filter((text) => !isBurst(text));
        if (client === listenerA) expect(rest).toEqual(['after']);
        else expect([['after'], ['during', 'after']]).toContainEqual(rest);
        const burst = seen.filter(isBurst).map((text) => Number(text.slice(0, text.indexOf(':'))));
        expect(burst).toEqual([...burst].sort((left, right) => left - right));
        expect(new Set(burst).size).toBe(burst.length);
        if (client !== burstListener) expect(burst.length).toBeLessThanOrEqual(40 - dropped);
      }
    } finally {
      await closeAll(clients);
    }
  });
});
