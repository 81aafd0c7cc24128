// Measures fan-out through Redis: <clients> clients spread over 2 server processes, one message
// published on the first, timed until the last client of both has it (p50/p99 over repeated
// publishes), hybi's Redis backplane beside socket.io 4 with @socket.io/redis-adapter, on the same
// machine and the same redis-server, both over ioredis. Bounded: every child is killed after its
// timeout, and the whole run stops after its rounds. Not part of npm test.
// Run: npm run bench:fanout [-- <clients, default 4000> <rounds, default 50>]

import { availableParallelism, loadavg } from 'node:os';
import { freePort, hasRedisServer, REDIS_SERVER, RedisServer } from '../../test/support/redis-server.js';
import { type RunningChild, startChild } from '../support/children.js';
import { hybiSource } from '../support/hybi.js';

const CLIENTS = Number(process.argv[2] ?? 4_000);
const ROUNDS = Number(process.argv[3] ?? 50);
const WARMUP_ROUNDS = 5;
const CHILD_TIMEOUT_MS = 8 * 60 * 1000;
const STEP_TIMEOUT_MS = 120_000;
/** Between publishes: lets both processes' write buffers drain, so each round is timed alone. */
const GAP_MS = 50;
const IMPLEMENTATIONS = ['hybi', 'socket.io'] as const;

if (!hasRedisServer) throw new Error(`bench:fanout needs ${REDIS_SERVER} (apt-get install redis-server)`);

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Figures {
  implementation: string;
  openMs: number;
  /** p50 until the last client of the publishing process, and of the other (through Redis). */
  localP50: number;
  remoteP50: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)]!;
}

async function measure(implementation: string, redisPort: number): Promise<Figures> {
  const servers: RunningChild[] = [0, 1].map(() =>
    startChild(new URL('./server.ts', import.meta.url), [implementation, String(redisPort)], {
      timeoutMs: CHILD_TIMEOUT_MS,
    }),
  );
  const ports = (await Promise.all(servers.map((server) => server.nextResult(STEP_TIMEOUT_MS)))) as {
    port: number;
  }[];
  const perServer = Math.ceil(CLIENTS / 2);
  const clients = ports.map(({ port }, index) =>
    startChild(
      new URL('./clients.ts', import.meta.url),
      [implementation, String(port), String(index === 0 ? perServer : CLIENTS - perServer)],
      { timeoutMs: CHILD_TIMEOUT_MS },
    ),
  );
  try {
    const ready = (await Promise.all(clients.map((client) => client.nextResult(STEP_TIMEOUT_MS)))) as {
      openMs: number;
    }[];
    // Every connection has joined its topic on its server before the first publish.
    for (const server of servers) {
      server.send('count');
      await server.nextResult(STEP_TIMEOUT_MS);
    }
    const timings: number[] = [];
    const localTimings: number[] = [];
    const remoteTimings: number[] = [];
    for (let round = 1; round <= WARMUP_ROUNDS + ROUNDS; round++) {
      for (const client of clients) client.send(`watch ${round}`);
      const arrivals = Promise.all(clients.map((client) => client.nextResult(STEP_TIMEOUT_MS)));
      servers[0]!.send(`publish ${round}`);
      const published = (await servers[0]!.nextResult(STEP_TIMEOUT_MS)) as { publishedAt: string };
      const [local, remote] = ((await arrivals) as { lastArrival: string }[]).map(
        (arrival) => Number(BigInt(arrival.lastArrival) - BigInt(published.publishedAt)) / 1e6,
      ) as [number, number];
      if (round > WARMUP_ROUNDS) {
        timings.push(Math.max(local, remote));
        localTimings.push(local);
        remoteTimings.push(remote);
      }
      await pause(GAP_MS);
    }
    const sorted = [...timings].sort((left, right) => left - right);
    return {
      implementation,
      openMs: Math.max(...ready.map((entry) => entry.openMs)),
      localP50: percentile(
        [...localTimings].sort((left, right) => left - right),
        0.5,
      ),
      remoteP50: percentile(
        [...remoteTimings].sort((left, right) => left - right),
        0.5,
      ),
      p50: percentile(sorted, 0.5),
      p99: percentile(sorted, 0.99),
      max: sorted.at(-1)!,
      mean: timings.reduce((sum, value) => sum + value, 0) / timings.length,
    };
  } finally {
    await Promise.all([...clients, ...servers].map((child) => child.stop()));
  }
}

const redis = new RedisServer(await freePort());
await redis.start();
const results: Figures[] = [];
try {
  for (const implementation of IMPLEMENTATIONS) {
    console.log(`${implementation}: ${CLIENTS} clients over 2 processes, ${ROUNDS} publishes...`);
    results.push(await measure(implementation, redis.port));
  }
} finally {
  await redis.stop();
}
const format = (ms: number): string => `${ms.toFixed(1)} ms`;
console.log(
  `\nFan-out through Redis, ${CLIENTS} clients over 2 processes, ${ROUNDS} publishes (hybi from ${hybiSource()})`,
);
console.log(
  '| server | connect all | p50 until the last client | p99 | max | mean | p50, publishing process only | p50, other process only |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const result of results) {
  console.log(
    `| ${result.implementation} | ${(result.openMs / 1000).toFixed(1)} s | ${format(result.p50)} | ${format(result.p99)} | ` +
      `${format(result.max)} | ${format(result.mean)} | ${format(result.localP50)} | ${format(result.remoteP50)} |`,
  );
}
console.log(
  `\nload average when done: ${loadavg()
    .map((load) => load.toFixed(1))
    .join(', ')} on ${availableParallelism()} cores`,
);
const [hybi, socketIo] = results;
if (hybi !== undefined && socketIo !== undefined) {
  console.log(
    `\nsocket.io / hybi, p50: ${(socketIo.p50 / hybi.p50).toFixed(2)}; p99: ${(socketIo.p99 / hybi.p99).toFixed(2)}`,
  );
}
