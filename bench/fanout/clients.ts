// Owns a client process of the fan-out benchmark: <count> real clients of one server, ws 8 for hybi
// (plain RFC 6455) or socket.io-client 4 (websocket transport only, which runs on ws), each noting
// the newest round it received; reports when every client has round <n> after a `watch <n>` command.
// Run by fanout.ts: node --import tsx clients.ts <hybi|socket.io> <port> <count>

import { createInterface } from 'node:readline';
import { io as connectSocketIo } from 'socket.io-client';
import { WebSocket } from 'ws';
import { reportResult } from '../support/children.js';

const MAX_LIFETIME_MS = 10 * 60 * 1000;
setTimeout(() => process.exit(0), MAX_LIFETIME_MS).unref();
/** Handshakes in flight at once: more would overflow the server's accept backlog. */
const CONCURRENT_OPENS = 100;

const [implementation, portText, countText] = process.argv.slice(2);
const port = Number(portText);
const count = Number(countText);

const newest: number[] = [];
const closers: (() => void)[] = [];
let watched = 0;
let done = 0;

/** When the latest copy of each recent round arrived: a round may be complete before its `watch` is read. */
const arrivals = new Map<number, bigint>();

function report(): void {
  reportResult({ round: watched, lastArrival: String(arrivals.get(watched)) });
}

function onMessage(index: number, text: string): void {
  const round = Number(text.slice(0, text.indexOf(':')));
  const before = newest[index]!;
  newest[index] = round;
  arrivals.set(round, process.hrtime.bigint());
  if (watched > 0 && before < watched && round >= watched && ++done === count) report();
}

function open(index: number): Promise<void> {
  newest[index] = 0;
  return new Promise((resolve, reject) => {
    if (implementation === 'hybi') {
      const socket = new WebSocket(`ws://127.0.0.1:${port}/`);
      socket.on('open', () => resolve());
      socket.on('error', reject);
      socket.on('message', (data) => onMessage(index, String(data)));
      closers.push(() => socket.terminate());
    } else {
      const socket = connectSocketIo(`http://127.0.0.1:${port}`, {
        transports: ['websocket'],
        reconnection: false,
      });
      socket.on('connect', () => resolve());
      socket.on('connect_error', reject);
      socket.on('m', (text: string) => onMessage(index, text));
      closers.push(() => socket.disconnect());
    }
  });
}

const started = Date.now();
let next = 0;
await Promise.all(
  Array.from({ length: Math.min(CONCURRENT_OPENS, count) }, async () => {
    while (next < count) await open(next++);
  }),
);
reportResult({ ready: true, opened: count, openMs: Date.now() - started });

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const [command, argument] = line.trim().split(' ');
  if (command !== 'watch') return;
  watched = Number(argument);
  arrivals.delete(watched - 2);
  done = newest.filter((round) => round >= watched).length;
  if (done === count) report();
});
lines.on('close', () => {
  for (const close of closers) close();
  process.exit(0);
});
