// Owns a benchmark server process: starts one library's server, reports its port, then obeys commands
// read from stdin (measure memory, broadcast, count) until stdin ends or its lifetime runs out.

import { createInterface } from 'node:readline';
import { reportResult } from './children.js';
import type { Variant } from './measurement.js';
import { startServer } from './servers.js';

/** Whatever happens to the parent, a server process never outlives this. */
const MAX_LIFETIME_MS = 10 * 60 * 1000;
const BROADCAST_PAYLOAD = Buffer.alloc(100, 'b');

const [variant, compression] = process.argv.slice(2);
if (variant === undefined || compression === undefined)
  throw new Error('usage: server-process.ts <variant> <0|1>');
const server = await startServer(variant as Variant, compression === '1');
setTimeout(() => process.exit(0), MAX_LIFETIME_MS).unref();
reportResult({ port: server.port });

const collectGarbage = (globalThis as { gc?: () => void }).gc;

async function settledMemory(): Promise<NodeJS.MemoryUsage> {
  // Several collections with turns of the event loop between them, so that finalizers and weak
  // callbacks run and the figures stop moving.
  for (let pass = 0; pass < 4; pass++) {
    collectGarbage?.();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return process.memoryUsage();
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const [command] = line.trim().split(' ');
  if (command === 'measure') {
    void settledMemory().then((usage) => reportResult({ ...usage, connections: server.connectionCount() }));
  } else if (command === 'count') {
    reportResult({ connections: server.connectionCount() });
  } else if (command === 'broadcast') {
    const startedAt = process.hrtime.bigint();
    server.broadcast(BROADCAST_PAYLOAD);
    const sentAt = process.hrtime.bigint();
    reportResult({
      startedAt: startedAt.toString(),
      sendMs: Number(sentAt - startedAt) / 1e6,
      connections: server.connectionCount(),
    });
  }
});
lines.on('close', () => {
  server.close();
  process.exit(0);
});
