// Owns a fleet: one library's server process with thousands of lean raw-socket clients connected from
// other processes, for the benchmarks that need many connections (idle memory, broadcast). One fleet
// serves both, so 10,000 connections are opened once per run.

import { type RunningChild, startChild } from './children.js';
import type { Variant } from './measurement.js';
import { WS_WITHOUT_ADDONS_ENV } from './peers.js';

const CLIENT_PROCESSES = 2;
const PAUSE_MS = 100;

interface MemoryReport {
  rss: number;
  heapUsed: number;
  external: number;
  connections: number;
}

/** Memory growth per connection, bytes. */
export interface Growth {
  rss: number;
  heap: number;
  external: number;
}

export interface Fleet {
  variant: Variant;
  connections: number;
  server: RunningChild;
  clients: RunningChild[];
  /** Server memory after start, before any client connected. */
  baseline: MemoryReport;
  /** Broadcasts made so far (the raw clients count rounds). */
  rounds: number;
}

/**
 * 10,000 connections fit the ephemeral port range (28,000 ports) of one source address; past 20,000,
 * each client process binds its own 127.0.0.x (binding costs the kernel a search per connect).
 */
const sourceAddress = (index: number, connections: number): string =>
  connections > 20_000 ? `127.0.0.${index + 1}` : '';

/** Starts the server, measures its baseline, connects `connections` clients and waits until the server counts them all. */
export async function openFleet(variant: Variant, compression: boolean, connections: number): Promise<Fleet> {
  const env = variant === 'ws-no-addons' ? WS_WITHOUT_ADDONS_ENV : {};
  const server = startChild(
    new URL('./server-process.ts', import.meta.url),
    [variant, compression ? '1' : '0'],
    {
      env,
      nodeArguments: ['--expose-gc'],
      timeoutMs: 5 * 60 * 1000,
    },
  );
  const fleet: Fleet = {
    variant,
    connections,
    server,
    clients: [],
    baseline: { rss: 0, heapUsed: 0, external: 0, connections: 0 },
    rounds: 0,
  };
  try {
    const { port } = (await server.nextResult(30_000)) as { port: number };
    server.send('measure');
    fleet.baseline = (await server.nextResult(30_000)) as MemoryReport;
    const perProcess = Math.ceil(connections / CLIENT_PROCESSES);
    for (let index = 0; index < CLIENT_PROCESSES; index++) {
      const count = Math.min(perProcess, connections - index * perProcess);
      fleet.clients.push(
        startChild(
          new URL('./raw-clients.ts', import.meta.url),
          [String(port), String(count), compression ? '1' : '0', sourceAddress(index, connections)],
          { timeoutMs: 5 * 60 * 1000 },
        ),
      );
    }
    for (const client of fleet.clients) await client.nextResult(120_000);
    // The clients count a connection once its 101 arrives; the server may still be finishing its side.
    for (let attempt = 0; attempt < 100; attempt++) {
      server.send('count');
      const { connections: open } = (await server.nextResult(10_000)) as { connections: number };
      if (open >= connections) return fleet;
      await new Promise((resolve) => setTimeout(resolve, PAUSE_MS));
    }
    throw new Error(`${variant}: the server never counted ${connections} connections`);
  } catch (error) {
    await closeFleet(fleet);
    throw error;
  }
}

/** Server memory growth per connection since the baseline, after garbage collection. */
export async function measureGrowth(fleet: Fleet): Promise<Growth> {
  fleet.server.send('measure');
  const after = (await fleet.server.nextResult(60_000)) as MemoryReport;
  if (after.connections !== fleet.connections) {
    throw new Error(`${fleet.variant}: ${after.connections} of ${fleet.connections} connections open`);
  }
  return {
    rss: (after.rss - fleet.baseline.rss) / fleet.connections,
    heap: (after.heapUsed - fleet.baseline.heapUsed) / fleet.connections,
    external: (after.external - fleet.baseline.external) / fleet.connections,
  };
}

/**
 * One 100-byte broadcast: milliseconds from the start of the server's send loop until the last client
 * has it, and how long the send loop itself took.
 */
export async function timeBroadcast(fleet: Fleet): Promise<{ total: number; sendLoop: number }> {
  const round = ++fleet.rounds;
  for (const client of fleet.clients) client.send(`watch ${round}`);
  // Let the clients read their command before the bytes come.
  await new Promise((resolve) => setTimeout(resolve, PAUSE_MS));
  fleet.server.send('broadcast');
  const sent = (await fleet.server.nextResult(30_000)) as {
    startedAt: string;
    sendMs: number;
    connections: number;
  };
  if (sent.connections !== fleet.connections) {
    throw new Error(`${fleet.variant}: broadcast to ${sent.connections} of ${fleet.connections}`);
  }
  const arrivals = (await Promise.all(fleet.clients.map((client) => client.nextResult(30_000)))) as {
    lastArrival: string;
  }[];
  let last = 0n;
  for (const arrival of arrivals) if (BigInt(arrival.lastArrival) > last) last = BigInt(arrival.lastArrival);
  return { total: Number(last - BigInt(sent.startedAt)) / 1e6, sendLoop: sent.sendMs };
}

export async function closeFleet(fleet: Fleet): Promise<void> {
  await Promise.all(fleet.clients.map((client) => client.stop()));
  await fleet.server.stop();
}
