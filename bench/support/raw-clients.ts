// Owns a process of many lean WebSocket clients on raw node:net sockets, the same for every server: each
// sends a valid upgrade request (optionally offering permessage-deflate), waits for the 101, then only
// counts the bytes that arrive, to time broadcasts. Used by the idle-memory and broadcast benchmarks.

import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { reportResult } from './children.js';

const MAX_LIFETIME_MS = 10 * 60 * 1000;
/** Connections opened at once: more would overflow the server's accept backlog (511) and cost SYN retries. */
const CONCURRENT_OPENS = 200;
/** Each broadcast is one 100-byte binary message: a 2-byte header and the payload. */
const BROADCAST_FRAME_LENGTH = 102;

const [portText, countText, compressionText, addressText] = process.argv.slice(2);
if (portText === undefined || countText === undefined) {
  throw new Error('usage: raw-clients.ts <port> <count> [compression 0|1] [local address]');
}
const port = Number(portText);
const count = Number(countText);
const isCompressing = compressionText === '1';
/** Binding a source address makes the kernel search its bind table per connect: only when asked. */
const localAddress = addressText === undefined || addressText === '' ? undefined : addressText;
setTimeout(() => process.exit(0), MAX_LIFETIME_MS).unref();

function upgradeRequest(): Buffer {
  const extension = isCompressing
    ? 'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n'
    : '';
  return Buffer.from(
    `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n${extension}\r\n`,
    'latin1',
  );
}

/** Bytes received after the handshake, per socket. */
const received: number[] = [];
const sockets: net.Socket[] = [];
/** Broadcast round being watched: sockets done with it, and when the last of them got it. */
let round = 0;
let doneThisRound = 0;
let lastArrival = 0n;

function onFrameBytes(index: number, length: number): void {
  const before = received[index]!;
  const after = before + length;
  received[index] = after;
  if (round > 0 && before < round * BROADCAST_FRAME_LENGTH && after >= round * BROADCAST_FRAME_LENGTH) {
    lastArrival = process.hrtime.bigint();
    if (++doneThisRound === sockets.length)
      reportResult({ round, lastArrival: lastArrival.toString(), sockets: doneThisRound });
  }
}

function open(index: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({
      port,
      host: '127.0.0.1',
      ...(localAddress === undefined ? {} : { localAddress }),
    });
    let head = Buffer.alloc(0);
    let isOpen = false;
    received[index] = 0;
    socket.setNoDelay(true);
    socket.on('error', reject);
    socket.on('connect', () => socket.write(upgradeRequest()));
    socket.on('data', (chunk: Buffer) => {
      if (isOpen) {
        onFrameBytes(index, chunk.length);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      if (!head.subarray(0, 12).toString('latin1').startsWith('HTTP/1.1 101')) {
        reject(new Error(`handshake refused: ${head.subarray(0, end).toString('latin1')}`));
        return;
      }
      isOpen = true;
      sockets.push(socket);
      resolve();
      if (head.length > end + 4) onFrameBytes(index, head.length - end - 4);
    });
  });
}

const started = Date.now();
let next = 0;
await Promise.all(
  Array.from({ length: Math.min(CONCURRENT_OPENS, count) }, async () => {
    while (next < count) await open(next++);
  }),
);
reportResult({ ready: true, opened: sockets.length, openMs: Date.now() - started });

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const [command, argument] = line.trim().split(' ');
  if (command === 'watch') {
    // The next broadcast is round `argument`: report when every socket has its bytes.
    round = Number(argument);
    doneThisRound = 0;
    for (let index = 0; index < sockets.length; index++) {
      if (received[index]! >= round * BROADCAST_FRAME_LENGTH) doneThisRound++;
    }
  }
});
lines.on('close', () => {
  for (const socket of sockets) socket.destroy();
  process.exit(0);
});
