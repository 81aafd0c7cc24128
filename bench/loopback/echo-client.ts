// Owns one loopback load generator: connects to an echo server with the same library as the server (or
// raw node:net for the reference), keeps a window of messages in flight, and reports how many came back
// per second in each of several measurement windows after a warmup.

import { createRequire } from 'node:module';
import net from 'node:net';
import { reportResult } from '../support/children.js';
import { client as hybiClient, connect as hybiConnect } from '../support/hybi.js';
import type { Variant } from '../support/measurement.js';
import { jsonMessages } from '../support/payloads.js';
import { loadFayeDeflate, loadWebSocketDriver } from '../support/peers.js';

const MAX_MESSAGE = 100 * 1024 * 1024;
const MAX_LIFETIME_MS = 5 * 60 * 1000;

/** A client connection, reduced to what the load loop needs. */
interface EchoConnection {
  send(payload: Buffer): void;
  /** Called once per message echoed back. */
  onEcho: () => void;
  close(): void;
}

function whenOpen(emitter: NodeJS.EventEmitter): Promise<void> {
  return new Promise((resolve, reject) => {
    emitter.once('open', () => resolve());
    emitter.once('error', reject);
  });
}

async function openConnection(
  variant: Variant,
  port: number,
  compression: boolean,
  messageSize: number,
): Promise<EchoConnection> {
  const url = `ws://127.0.0.1:${port}/`;
  const connection: EchoConnection = { send: () => {}, onEcho: () => {}, close: () => {} };
  switch (variant) {
    case 'hybi': {
      const socket = await hybiConnect(url, { perMessageDeflate: compression, maxLength: MAX_MESSAGE });
      socket.onmessage = () => connection.onEcho();
      connection.send = (payload) => socket.send(payload);
      connection.close = () => socket.close();
      return connection;
    }
    case 'hybi-driver':
    case 'websocket-driver': {
      const socket = net.connect(port, '127.0.0.1');
      socket.setNoDelay(true);
      let driver:
        | ReturnType<typeof hybiClient>
        | ReturnType<ReturnType<typeof loadWebSocketDriver>['client']>;
      if (variant === 'hybi-driver') {
        driver = hybiClient(url, { perMessageDeflate: compression, maxLength: MAX_MESSAGE });
      } else {
        driver = loadWebSocketDriver().client(url, { maxLength: MAX_MESSAGE });
        if (compression) driver.addExtension(loadFayeDeflate());
      }
      (socket.pipe(driver.io as unknown as NodeJS.WritableStream) as unknown as NodeJS.ReadableStream).pipe(
        socket,
      );
      driver.on('message', () => connection.onEcho());
      const opened = whenOpen(driver);
      driver.start();
      await opened;
      connection.send = (payload) => void driver.binary(payload);
      connection.close = () => socket.destroy();
      return connection;
    }
    case 'ws':
    case 'ws-no-addons': {
      const { WebSocket } = createRequire(import.meta.url)('ws') as {
        WebSocket: new (
          url: string,
          options: Record<string, unknown>,
        ) => NodeJS.EventEmitter & { send(data: Buffer): void; close(): void };
      };
      const socket = new WebSocket(url, { perMessageDeflate: compression, maxPayload: MAX_MESSAGE });
      socket.on('message', () => connection.onEcho());
      await whenOpen(socket);
      connection.send = (payload) => socket.send(payload);
      connection.close = () => socket.close();
      return connection;
    }
    case 'reference': {
      const socket = net.connect(port, '127.0.0.1');
      socket.setNoDelay(true);
      await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
      // The same bytes as a message's payload, back and forth; a "message" is every `messageSize` bytes.
      let pendingBytes = 0;
      socket.on('data', (chunk: Buffer) => {
        pendingBytes += chunk.length;
        while (pendingBytes >= messageSize) {
          pendingBytes -= messageSize;
          connection.onEcho();
        }
      });
      connection.send = (payload) => void socket.write(payload);
      connection.close = () => socket.destroy();
      return connection;
    }
  }
}

const [variant, portText, sizeText, compressionText, windowText, warmupText, measureText, windowsText] =
  process.argv.slice(2);
if (windowsText === undefined) {
  throw new Error(
    'usage: echo-client.ts <variant> <port> <size> <0|1> <in flight> <warmup ms> <window ms> <windows>',
  );
}
setTimeout(() => process.exit(1), MAX_LIFETIME_MS).unref();
const messageSize = Number(sizeText);
const inFlight = Number(windowText);
const measurementWindows = Number(windowsText);
// JSON-like bytes, so that compression has something to do; sent as binary messages.
const payload = Buffer.concat(
  jsonMessages(Math.ceil(messageSize / 1024), Math.min(1024, messageSize)),
).subarray(0, messageSize);
const connection = await openConnection(
  variant as Variant,
  Number(portText),
  compressionText === '1',
  messageSize,
);

let received = 0;
let isSending = true;
let outstanding = 0;
let onDrained: (() => void) | undefined;
connection.onEcho = () => {
  received++;
  outstanding--;
  if (isSending) {
    outstanding++;
    connection.send(payload);
  } else if (outstanding === 0) {
    onDrained?.();
  }
};
for (let index = 0; index < inFlight; index++) {
  outstanding++;
  connection.send(payload);
}

const sleep = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));
await sleep(Number(warmupText));
const rates: number[] = [];
for (let window = 0; window < measurementWindows; window++) {
  const startCount = received;
  const started = process.hrtime.bigint();
  await sleep(Number(measureText));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  rates.push((received - startCount) / seconds);
}
isSending = false;
// Every message sent must come back: a lost echo would mean a broken benchmark, not a fast one.
const drained = new Promise<void>((resolve) => {
  if (outstanding === 0) resolve();
  else onDrained = resolve;
});
await Promise.race([drained, sleep(10_000)]);
if (outstanding !== 0) throw new Error(`${variant}: ${outstanding} messages never came back`);
reportResult({ rates });
connection.close();
setTimeout(() => process.exit(0), 100);
