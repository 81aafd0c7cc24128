// Measures a hostile permessage-deflate flood: one raw client writes the same 13-byte compressed frame as
// fast as the server accepts it, for a fixed window or byte budget, then disconnects. Per server: bytes
// accepted per second, server RSS growth (peak and after the flood), and the work the server still does
// in the second after the peer is gone (it resets the connection, as a vanished peer does). hybi and ws in one run, each server in its own process.
// Run: npm run bench:flood, or npx tsx bench/memory/deflate-flood.ts [windowMs] [runs] [variants...]

import { once } from 'node:events';
import net from 'node:net';
import { startChild } from '../support/children.js';
import type { FloodVariant } from './flood-server.js';

/** Text, FIN + RSV1, mask key 0, "hello" deflated without its 00 00 ff ff tail (RFC 7692 §7.2.1). */
const FLOOD_FRAME = Buffer.from([
  0xc1, 0x87, 0x00, 0x00, 0x00, 0x00, 0xca, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00,
]);
/** 5,000 frames per write (65,000 bytes), as the reproduction wrote them. */
const FLOOD_BATCH = Buffer.concat(Array.from({ length: 5000 }, () => FLOOD_FRAME));
/** The flood stops at whichever comes first: this many bytes accepted, or the window. */
const FLOOD_BUDGET = 256 * 1024 * 1024;
/** After the disconnect, the server's work is measured over this long. */
const AFTER_MS = 1000;

export interface FloodFigures {
  variant: FloodVariant;
  acceptedBytes: number;
  acceptedBytesPerSecond: number;
  /** Server RSS growth from before the flood to its highest sample during it (and the after-disconnect second). */
  peakRssGrowth: number;
  rssGrowthAfter: number;
  messagesDuringFlood: number;
  messagesAfterDisconnect: number;
  cpuMsAfterDisconnect: number;
}

interface Mark {
  rss: number;
  heapUsed: number;
  peakRss: number;
  messages: number;
  cpuMicros: number;
}

const REQUEST =
  'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
  'Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_max_window_bits\r\n\r\n';

function delay(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}

/** Connects, upgrades, and resolves once the 101 arrived (anything else is an error). */
async function attacker(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.write(REQUEST);
  const [first] = (await once(socket, 'data')) as [Buffer];
  if (!first.toString('latin1').startsWith('HTTP/1.1 101')) {
    throw new Error(`no 101: ${first.toString('latin1').split('\r\n')[0]}`);
  }
  if (!/permessage-deflate/i.test(first.toString('latin1')))
    throw new Error('permessage-deflate not negotiated');
  // What the server sends from now on is not read: the attacker only writes.
  socket.pause();
  return socket;
}

/** Writes the flood while the socket takes it; returns the bytes the kernel accepted and how long it took. */
async function flood(socket: net.Socket, windowMs: number): Promise<{ bytes: number; milliseconds: number }> {
  const startBytes = socket.bytesWritten;
  const startedAt = performance.now();
  const deadline = startedAt + windowMs;
  while (performance.now() < deadline && socket.bytesWritten - startBytes < FLOOD_BUDGET) {
    if (socket.write(FLOOD_BATCH)) continue;
    const remaining = deadline - performance.now();
    if (remaining <= 0) break;
    // A server that stopped reading never drains us: the window ends the wait.
    await Promise.race([once(socket, 'drain'), delay(remaining)]);
  }
  // bytesWritten counts what reached the kernel, not what still sits in our own write buffer.
  return { bytes: socket.bytesWritten - startBytes, milliseconds: performance.now() - startedAt };
}

export async function measureFlood(variant: FloodVariant, windowMs: number): Promise<FloodFigures> {
  const server = startChild(new URL('./flood-server.ts', import.meta.url), [variant], { timeoutMs: 120_000 });
  try {
    const { port } = (await server.nextResult(20_000)) as { port: number };
    const mark = async (): Promise<Mark> => {
      server.send('mark');
      return (await server.nextResult(20_000)) as Mark;
    };
    const socket = await attacker(port);
    const before = await mark();
    const { bytes, milliseconds } = await flood(socket, windowMs);
    const atEnd = await mark();
    // A peer that vanishes: RST, so that the server's kernel drops what it still holds and what is
    // left is whatever the library itself buffered (a FIN would have the kernel's buffers read first).
    socket.resetAndDestroy();
    const atDisconnect = await mark();
    await delay(AFTER_MS);
    const after = await mark();
    return {
      variant,
      acceptedBytes: bytes,
      acceptedBytesPerSecond: (bytes * 1000) / milliseconds,
      peakRssGrowth: Math.max(atEnd.peakRss, atDisconnect.peakRss, after.peakRss) - before.rss,
      rssGrowthAfter: after.rss - before.rss,
      messagesDuringFlood: atDisconnect.messages - before.messages,
      messagesAfterDisconnect: after.messages - atDisconnect.messages,
      cpuMsAfterDisconnect: (after.cpuMicros - atDisconnect.cpuMicros) / 1000,
    };
  } finally {
    await server.stop();
  }
}

const MiB = 1024 * 1024;

export function floodTable(figures: readonly FloodFigures[]): string {
  const ws = figures.find((figure) => figure.variant === 'ws');
  const lines = [
    '| Server | Accepted | Accepted/s | Peak RSS growth | RSS growth after | Messages (flood) | Messages after disconnect | CPU ms in the second after | RSS growth ÷ ws | Accepted/s ÷ ws |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const figure of figures) {
    const rssRatio = ws === undefined ? '' : (figure.peakRssGrowth / ws.peakRssGrowth).toFixed(2);
    const rateRatio =
      ws === undefined ? '' : (figure.acceptedBytesPerSecond / ws.acceptedBytesPerSecond).toFixed(2);
    lines.push(
      `| ${figure.variant} | ${(figure.acceptedBytes / MiB).toFixed(1)} MiB | ${(figure.acceptedBytesPerSecond / MiB).toFixed(1)} MiB/s | ${(figure.peakRssGrowth / MiB).toFixed(1)} MiB | ${(figure.rssGrowthAfter / MiB).toFixed(1)} MiB | ${figure.messagesDuringFlood.toLocaleString('en')} | ${figure.messagesAfterDisconnect.toLocaleString('en')} | ${figure.cpuMsAfterDisconnect.toFixed(0)} | ${rssRatio} | ${rateRatio} |`,
    );
  }
  return lines.join('\n');
}

/** The median run of several (by peak RSS growth), all its figures together. */
function medianRun(runs: readonly FloodFigures[]): FloodFigures {
  const sorted = [...runs].sort((left, right) => left.peakRssGrowth - right.peakRssGrowth);
  return sorted[sorted.length >> 1]!;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const windowMs = Number(process.argv[2] ?? 3000);
  const runs = Number(process.argv[3] ?? 3);
  const requested = process.argv.slice(4) as FloodVariant[];
  const variants: FloodVariant[] =
    requested.length > 0 ? requested : ['hybi', 'hybi-iterator', 'hybi-driver', 'ws'];
  // Rounds interleave the servers, so that a busy minute on the machine does not land on one of them.
  const byVariant = new Map<FloodVariant, FloodFigures[]>(variants.map((variant) => [variant, []]));
  for (let round = 0; round < runs; round++) {
    for (const variant of variants) {
      byVariant.get(variant)!.push(await measureFlood(variant, windowMs));
      process.stderr.write(`  round ${round + 1}: ${variant} done\n`);
    }
  }
  const figures = variants.map((variant) => medianRun(byVariant.get(variant)!));
  process.stdout.write(`${floodTable(figures)}\n`);
}
