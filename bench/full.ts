// `npm run bench:full`: everything bench/ measures, each figure a median of several runs — the in-process
// suites, loopback echo, idle memory and broadcast — written to bench/results/<date>.json and latest.md.
// Bounded: every child process has a time limit and is killed if this process exits.

import { BROADCAST_ROUNDS } from './broadcast/broadcast.js';
import { measureEcho } from './loopback/echo.js';
import { measureIdleMemory } from './memory/idle.js';
import { runInProcessSuites, tableNotes } from './run.js';
import { describeMachine, machineLine } from './support/machine.js';
import type { Measurement, Variant } from './support/measurement.js';
import { writeResults } from './support/results-file.js';
import { FULL_OPTIONS } from './support/suite.js';
import { markdownTable } from './support/table.js';

const CONNECTIONS = 10_000;

const started = Date.now();
const machine = describeMachine();
console.error(`bench:full: ${machineLine(machine)}`);
// Without bufferutil installed, "ws (no addons)" runs exactly the code "ws" does: the socket benchmarks,
// which cost minutes each, skip it then (the in-process suites still run both, as a check).
const socketVariants: Variant[] = ['hybi', 'hybi-driver', 'ws', 'websocket-driver', 'reference'];
if (machine.wsAddons.bufferutil) socketVariants.splice(3, 0, 'ws-no-addons');

const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0)} s`;
const measurements: Measurement[] = [];
measurements.push(...(await runInProcessSuites(FULL_OPTIONS)));
console.error(`bench:full: in-process suites done at ${elapsed()}`);
measurements.push(
  ...(await measureEcho({ warmupMs: 500, windowMs: 800, windows: 3, runs: 2 }, socketVariants)),
);
console.error(`bench:full: loopback echo done at ${elapsed()}`);
// Broadcasts are timed on the idle-memory connections (uncompressed runs), so 10,000 are opened once per run.
measurements.push(...(await measureIdleMemory(CONNECTIONS, 2, socketVariants, BROADCAST_ROUNDS, 1)));
console.error(`bench:full: idle memory and broadcast done at ${elapsed()}`);

const notes = tableNotes(machine);
if (!machine.wsAddons.bufferutil) {
  notes.push(
    'Socket benchmarks (loopback, memory, broadcast) skip "ws (no addons)" while bufferutil is not installed: it would run the same code as "ws".',
  );
}
notes.push(
  'Loopback: server and client of the same library in two processes (hybi: WebSocketServer and connect(); driver API: http() and client() over node:net), binary JSON-like payloads; the reference is node:net echoing the same payload bytes without framing.',
  "permessage-deflate uses each library's defaults: hybi level 1 with a 1 KiB threshold; ws level 6, and it compresses every message under context takeover (its threshold applies only with no_context_takeover); faye's level 6.",
  "Idle memory: growth of the server process's RSS (heap in brackets) per connection after GC, clients are raw sockets in two other processes. Broadcast: from the start of the server's send loop to the last client receiving, over 5 broadcasts per run (send loop: how long the server's loop itself took).",
);
console.log(markdownTable(measurements));
for (const note of notes) console.log(`- ${note}`);
const file = writeResults('full', machine, measurements, notes);
console.error(`bench:full: ${elapsed()}; written to ${file} and bench/results/latest.md`);
