// Owns the soak test: a WebSocketServer in this process, 10,000 connections from child processes for 60 s
// with random traffic and abrupt resets, then a count of what was left: sockets, timers, heap.
//
// Run with `npm run soak` (node --expose-gc --import tsx soak/run.ts). Environment: SOAK_CONNECTIONS
// (default 10000), SOAK_SECONDS (60), SOAK_CHILDREN (4), SOAK_SEED. Exits 1 if anything leaked.

import { fork } from 'node:child_process';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { type WebSocket, WebSocketServer } from '../src/index.js';
import type { ClientsConfig, ClientsReport } from './clients.js';

// --- count every timer hybi arms through the global setTimeout, to find the ones left pending ----------
const liveTimers = new Set<NodeJS.Timeout>();
const originalSetTimeout = globalThis.setTimeout;
const originalClearTimeout = globalThis.clearTimeout;
globalThis.setTimeout = ((callback: (...args: unknown[]) => void, delay?: number, ...args: unknown[]) => {
  const timer: NodeJS.Timeout = originalSetTimeout(
    (...callbackArgs: unknown[]) => {
      liveTimers.delete(timer);
      callback(...callbackArgs);
    },
    delay,
    ...args,
  );
  liveTimers.add(timer);
  return timer;
}) as typeof setTimeout;
globalThis.clearTimeout = ((timer: NodeJS.Timeout | string | number | undefined) => {
  if (typeof timer === 'object') liveTimers.delete(timer);
  originalClearTimeout(timer);
}) as typeof clearTimeout;

const CONNECTIONS = Number(process.env.SOAK_CONNECTIONS ?? 10_000);
const DURATION_MS = Number(process.env.SOAK_SECONDS ?? 60) * 1000;
const CHILDREN = Number(process.env.SOAK_CHILDREN ?? 4);
const SEED = Number(process.env.SOAK_SEED ?? Date.now() % 1_000_000);
/** The ramp-up may take this long at most (the hold starts then, however many are open). */
const RAMP_LIMIT_MS = 90_000;
/** The whole run, children included, must end by then. */
const HARD_DEADLINE_MS = RAMP_LIMIT_MS + DURATION_MS + 60_000;
/** Leftover heap over the baseline that counts as a leak (JIT code and caches grow a little). */
const HEAP_GROWTH_LIMIT = 32 * 1024 * 1024;

const gc = (globalThis as { gc?: () => void }).gc;

function collect(): void {
  if (gc === undefined) return;
  gc();
  gc();
}

function megabytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function openHandles(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const resource of process.getActiveResourcesInfo()) counts[resource] = (counts[resource] ?? 0) + 1;
  return counts;
}

async function main(): Promise<void> {
  if (gc === undefined) console.warn('soak: run with --expose-gc for meaningful heap figures');
  const hardDeadline = originalSetTimeout(() => {
    console.error(`soak: did not finish within ${HARD_DEADLINE_MS} ms`);
    process.exit(2);
  }, HARD_DEADLINE_MS);
  hardDeadline.unref();
  let uncaught = 0;
  process.on('uncaughtException', (error) => {
    uncaught++;
    console.error('soak: uncaught', error);
  });

  collect();
  const baseline = process.memoryUsage();
  const baselineHandles = openHandles();

  const server = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    perMessageDeflate: true,
    maxLength: 1024 * 1024,
    closeTimeout: 2_000,
    handshakeTimeout: 5_000,
    // Short enough to fire many times in a minute: silent clients are cut off after about ten seconds.
    heartbeat: { interval: 5_000, timeout: 5_000 },
  });
  server.on('error', (error) => console.error('soak: server error', error));
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  let accepted = 0;
  let peakClients = 0;
  let serverErrors = 0;
  let serverCloses = 0;
  const closeCodes: Record<string, number> = {};
  server.on('connection', (socket: WebSocket) => {
    accepted++;
    peakClients = Math.max(peakClients, server.clients.size);
    socket.addEventListener('error', () => serverErrors++);
    socket.addEventListener('close', (event) => {
      // Clients close with random application codes: one bucket for 3000-4999 but the server's own.
      const key = event.code >= 3000 && event.code !== 4001 ? '3000-4999' : String(event.code);
      closeCodes[key] = (closeCodes[key] ?? 0) + 1;
    });
    socket.addEventListener('message', (event) => {
      // Echo, unless the socket is past its mark: a server that respects backpressure drops, not buffers.
      if (socket.bufferedAmount < 256 * 1024) socket.send(event.data as string | Buffer);
      if (Math.random() < 0.002) {
        serverCloses++;
        socket.close(4001, 'server decided');
      }
    });
  });

  const started = Date.now();
  let peakHeap = 0;
  let peakRss = 0;
  const progress = setInterval(() => {
    const memory = process.memoryUsage();
    peakHeap = Math.max(peakHeap, memory.heapUsed);
    peakRss = Math.max(peakRss, memory.rss);
    console.log(
      `soak: ${Math.round((Date.now() - started) / 1000)} s, ${server.clients.size} open, ${accepted} accepted, ` +
        `heap ${megabytes(memory.heapUsed)}, rss ${megabytes(memory.rss)}, ${liveTimers.size} timers`,
    );
  }, 5_000);

  const clientsScript = fileURLToPath(new URL('./clients.ts', import.meta.url));
  const perChild = Math.ceil(CONNECTIONS / CHILDREN);
  const reports = await Promise.all(
    Array.from({ length: CHILDREN }, (_, index) => {
      const config: ClientsConfig = {
        port,
        connections: perChild,
        durationMs: DURATION_MS,
        rampLimitMs: RAMP_LIMIT_MS,
        maxConnections: perChild * 8,
        // Each child dials from its own loopback address: its own 28,000 ephemeral ports.
        localAddress: `127.0.0.${index + 2}`,
        seed: SEED + index,
      };
      const child = fork(clientsScript, [], {
        execArgv: ['--import', 'tsx'],
        env: { ...process.env, SOAK_CLIENTS_CONFIG: JSON.stringify(config) },
      });
      return new Promise<ClientsReport>((resolve, reject) => {
        child.on('message', (message: { type: string; report: ClientsReport }) => {
          if (message.type === 'report') resolve(message.report);
        });
        child.on('exit', (code) => {
          if (code !== 0) reject(new Error(`soak client ${index} exited with ${code}`));
        });
      });
    }),
  );
  clearInterval(progress);
  const clientsEnded = Date.now();

  // Every client is gone: the server's side of each connection must close on its own (FIN, close
  // timeout, heartbeat), within the close timeout.
  while (server.clients.size > 0 && Date.now() - clientsEnded < 15_000) {
    await new Promise((resolve) => originalSetTimeout(resolve, 100));
  }
  const openAfterClients = server.clients.size;
  await server.close();
  // Let sockets finish closing and their callbacks run, then collect.
  await new Promise((resolve) => originalSetTimeout(resolve, 500));
  collect();
  const after = process.memoryUsage();
  const handles = openHandles();
  const leftoverSockets = (handles.TCPSocketWrap ?? 0) - (baselineHandles.TCPSocketWrap ?? 0);
  const leftoverServers = (handles.TCPServerWrap ?? 0) - (baselineHandles.TCPServerWrap ?? 0);
  const heapGrowth = after.heapUsed - baseline.heapUsed;

  const totals = reports.reduce(
    (sum, report) => {
      sum.opened += report.opened;
      sum.handshakeFailures += report.handshakeFailures;
      for (const [key, value] of Object.entries(report.failureReasons)) {
        sum.failureReasons[key] = (sum.failureReasons[key] ?? 0) + value;
      }
      sum.messagesSent += report.messagesSent;
      sum.echoesReceived += report.echoesReceived;
      sum.resets += report.resets;
      sum.rampSeconds = Math.max(sum.rampSeconds, report.rampSeconds);
      sum.peakOpen += report.peakOpen;
      for (const [key, value] of Object.entries(report.behaviours)) {
        sum.behaviours[key] = (sum.behaviours[key] ?? 0) + value;
      }
      return sum;
    },
    {
      opened: 0,
      handshakeFailures: 0,
      failureReasons: {},
      messagesSent: 0,
      echoesReceived: 0,
      resets: 0,
      rampSeconds: 0,
      peakOpen: 0,
      behaviours: {},
    } as Omit<ClientsReport, 'closeCodes'>,
  );

  const result = {
    seed: SEED,
    durationSeconds: Math.round((clientsEnded - started) / 1000),
    clients: totals,
    server: {
      accepted,
      peakClients,
      serverInitiatedCloses: serverCloses,
      errorsReported: serverErrors,
      closeCodes,
      openAfterClientsLeft: openAfterClients,
      peakHeap: megabytes(peakHeap),
      peakRss: megabytes(peakRss),
    },
    leftover: {
      sockets: leftoverSockets,
      listeningServers: leftoverServers,
      pendingTimers: liveTimers.size,
      heapGrowth: megabytes(heapGrowth),
      heapUsed: megabytes(after.heapUsed),
      heapBaseline: megabytes(baseline.heapUsed),
      arrayBuffers: megabytes(after.arrayBuffers),
      rss: megabytes(after.rss),
      uncaughtExceptions: uncaught,
    },
  };
  console.log(JSON.stringify(result, null, 2));
  const isClean =
    openAfterClients === 0 &&
    leftoverSockets <= 0 &&
    leftoverServers <= 0 &&
    liveTimers.size === 0 &&
    uncaught === 0 &&
    heapGrowth < HEAP_GROWTH_LIMIT;
  console.log(isClean ? 'soak: clean' : 'soak: LEAKED (see leftover)');
  process.exitCode = isClean ? 0 : 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
