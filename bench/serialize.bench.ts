// Measures serializing one message into frame bytes: text and binary, masked (a client's) and unmasked
// (a server's), by hybi's core, hybi's driver, ws's Sender and websocket-driver.

import { Connection } from './support/hybi.js';
import {
  openHybiClient,
  openHybiServer,
  openWebSocketDriverClient,
  openWebSocketDriverServer,
  type Sink,
} from './support/in-memory-drivers.js';
import type { Variant } from './support/measurement.js';
import { binaryPayload, MESSAGE_SIZES, textPayload } from './support/payloads.js';
import { loadWs, type WsSocketLike } from './support/peers.js';
import { type BenchCase, runIfMain, type Suite, wsLabel } from './support/suite.js';

type Role = 'client' | 'server';

/** Payload bytes per timed call, at most: small messages are batched up to this. */
const BATCH_BYTES = 64 * 1024;

/**
 * Where ws's Sender writes. node:net encodes a string it is given while writing, and ws hands server
 * text frames to the socket as strings, so this socket encodes strings too: otherwise ws would skip a
 * cost every other library here pays inside its serializer.
 */
function fakeSocket(sink: Sink): WsSocketLike {
  return {
    cork() {},
    uncork() {},
    write(chunk: Buffer | string) {
      sink.bytes += typeof chunk === 'string' ? Buffer.from(chunk, 'utf8').length : chunk.length;
      return true;
    },
  };
}

/** Returns a function that serializes one message (a string for text, bytes for binary) and counts the bytes. */
function createSerializer(
  variant: Variant,
  role: Role,
): { send(message: string | Buffer): void; sink: Sink } {
  switch (variant) {
    case 'hybi': {
      const connection = new Connection({ role });
      const sink = { bytes: 0 };
      return {
        sink,
        send(message) {
          const frames =
            typeof message === 'string' ? connection.sendText(message) : connection.sendBinary(message);
          for (const frame of frames) sink.bytes += frame.length;
        },
      };
    }
    case 'hybi-driver': {
      const { driver, sink } = role === 'client' ? openHybiClient() : openHybiServer();
      return {
        sink,
        send: (message) => void (typeof message === 'string' ? driver.text(message) : driver.binary(message)),
      };
    }
    case 'ws':
    case 'ws-no-addons': {
      const { Sender } = loadWs();
      const sink = { bytes: 0 };
      const sender = new Sender(fakeSocket(sink));
      const mask = role === 'client';
      return {
        sink,
        send: (message) => sender.send(message, { binary: typeof message !== 'string', fin: true, mask }),
      };
    }
    case 'websocket-driver': {
      const { driver, sink } = role === 'client' ? openWebSocketDriverClient() : openWebSocketDriverServer();
      return {
        sink,
        send: (message) => void (typeof message === 'string' ? driver.text(message) : driver.binary(message)),
      };
    }
    case 'reference':
      throw new Error('serialize has no reference variant');
  }
}

function cases(variant: Variant): BenchCase[] {
  const result: BenchCase[] = [];
  for (const role of ['client', 'server'] as const) {
    for (const type of ['text', 'binary'] as const) {
      for (const size of MESSAGE_SIZES) {
        const message =
          type === 'text' ? textPayload(size.bytes).toString('utf8') : binaryPayload(size.bytes);
        const serializer = createSerializer(variant, role);
        // Check the harness before timing it: one message makes one frame of the expected size.
        const before = serializer.sink.bytes;
        serializer.send(message);
        const headerLength =
          (size.bytes < 126 ? 2 : size.bytes < 65536 ? 4 : 10) + (role === 'client' ? 4 : 0);
        if (serializer.sink.bytes - before !== size.bytes + headerLength) {
          throw new Error(
            `${variant} ${role} ${type} ${size.label}: wrote ${serializer.sink.bytes - before} bytes`,
          );
        }
        // Small messages are sent in batches per timed call, so the timer's own cost stays out of the figure.
        const batch = Math.max(1, Math.min(256, Math.floor(BATCH_BYTES / size.bytes)));
        const benchCase: BenchCase = {
          name: `${type} ${size.label}, ${role === 'client' ? 'masked (client)' : 'unmasked (server)'}`,
          fn: () => {
            for (let index = 0; index < batch; index++) serializer.send(message);
          },
          unit: 'msg/s',
          messagesPerOp: batch,
          bytesPerOp: batch * size.bytes,
        };
        if (variant === 'ws' || variant === 'ws-no-addons') benchCase.label = wsLabel();
        result.push(benchCase);
      }
    }
  }
  return result;
}

export const suite: Suite = {
  name: 'serialize',
  variants: ['hybi', 'hybi-driver', 'ws', 'ws-no-addons', 'websocket-driver'],
  cases,
};

await runIfMain(new URL(import.meta.url), suite);
