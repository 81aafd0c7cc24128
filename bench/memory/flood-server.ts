// Owns the server side of the deflate-flood benchmark: one library's permessage-deflate server whose
// application only counts messages, reporting its memory, CPU and message count on each `mark` command.
// Run by bench/memory/deflate-flood.ts: node --import tsx bench/memory/flood-server.ts <variant>

import http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { reportResult } from '../support/children.js';
import { WebSocketServer as HybiWebSocketServer, http as hybiHttp } from '../support/hybi.js';

/** Whatever happens to the parent, a server process never outlives this. */
const MAX_LIFETIME_MS = 5 * 60 * 1000;
/** Messages up to 1 MiB, as the reproduction configured every server. */
const MAX_MESSAGE = 1024 * 1024;

export type FloodVariant = 'hybi' | 'hybi-iterator' | 'hybi-driver' | 'ws';

const variant = process.argv[2] as FloodVariant | undefined;
if (variant === undefined) throw new Error('usage: flood-server.ts <hybi|hybi-iterator|hybi-driver|ws>');
setTimeout(() => process.exit(0), MAX_LIFETIME_MS).unref();

let messages = 0;
let peakRss = 0;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
}, 20);
sampler.unref();

function listening(server: http.Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}

async function start(): Promise<number> {
  const server = http.createServer();
  if (variant === 'ws') {
    const { WebSocketServer } = createRequire(import.meta.url)('ws') as {
      WebSocketServer: new (
        options: Record<string, unknown>,
      ) => {
        on(
          event: 'connection',
          listener: (socket: { on(event: string, listener: () => void): void }) => void,
        ): void;
      };
    };
    const wss = new WebSocketServer({ server, perMessageDeflate: true, maxPayload: MAX_MESSAGE });
    wss.on('connection', (socket) => {
      socket.on('message', () => {
        messages++;
      });
      socket.on('error', () => {});
    });
  } else if (variant === 'hybi-driver') {
    server.on('upgrade', (request, socket, head) => {
      const driver = hybiHttp(request as never, { perMessageDeflate: true, maxLength: MAX_MESSAGE });
      socket.on('error', () => {});
      driver.on('error', () => {});
      driver.on('close', () => socket.destroy());
      driver.on('message', () => {
        messages++;
      });
      driver.io.write(head);
      (socket.pipe(driver.io as unknown as NodeJS.WritableStream) as unknown as NodeJS.ReadableStream).pipe(
        socket,
      );
      driver.start();
    });
  } else {
    const wss = new HybiWebSocketServer({ server, perMessageDeflate: true, maxLength: MAX_MESSAGE });
    wss.on('connection', (socket) => {
      if (variant === 'hybi-iterator') {
        void (async () => {
          for await (const _message of socket) messages++;
        })();
      } else {
        socket.addEventListener('message', () => {
          messages++;
        });
      }
    });
  }
  return listening(server);
}

const port = await start();
reportResult({ port });

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line.trim() !== 'mark') return;
  const usage = process.memoryUsage();
  const cpu = process.cpuUsage();
  reportResult({
    rss: usage.rss,
    heapUsed: usage.heapUsed,
    external: usage.external,
    peakRss: Math.max(peakRss, usage.rss),
    messages,
    cpuMicros: cpu.user + cpu.system,
  });
  peakRss = 0;
});
lines.on('close', () => process.exit(0));
