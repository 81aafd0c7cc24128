// Measures parsing: a run of masked client frames (text with multi-byte characters, and binary) fed in
// 64 KiB chunks to hybi's core, hybi's driver, ws's Receiver and websocket-driver, each in its own process.

import { chunksOf, frameStream, OPCODE_BINARY, OPCODE_TEXT } from './support/frames.js';
import { Connection } from './support/hybi.js';
import { openHybiServer, openWebSocketDriverServer } from './support/in-memory-drivers.js';
import type { Variant } from './support/measurement.js';
import { binaryPayload, MESSAGE_SIZES, textPayload } from './support/payloads.js';
import { loadWs } from './support/peers.js';
import { type BenchCase, runIfMain, type Suite, wsLabel } from './support/suite.js';

/** Wire bytes per timed call: enough frames that per-call overhead vanishes, few enough for websocket-driver. */
const TARGET_BYTES = 256 * 1024;
/** ws's default maxPayload (100 MiB); hybi's and websocket-driver's defaults (64 MiB) also admit 1 MiB. */
const WS_MAX_PAYLOAD = 100 * 1024 * 1024;

/** A parser under test: feed it one chunk; `received` counts the messages it delivered. */
interface Parser {
  feed(chunk: Buffer): void;
  received: number;
}

function createParser(variant: Variant): Parser {
  switch (variant) {
    case 'hybi': {
      const connection = new Connection({ role: 'server' });
      const parser = {
        received: 0,
        feed(chunk: Buffer) {
          connection.push(chunk);
          for (let event = connection.nextEvent(); event !== undefined; event = connection.nextEvent()) {
            if (event.type === 'text' || event.type === 'binary') parser.received++;
            else throw new Error(`hybi: unexpected ${event.type} event`);
          }
        },
      };
      return parser;
    }
    case 'hybi-driver': {
      const { driver } = openHybiServer();
      const parser = { received: 0, feed: (chunk: Buffer) => void driver.io.write(chunk) };
      driver.on('message', () => {
        parser.received++;
      });
      driver.on('error', (error) => {
        throw error;
      });
      return parser;
    }
    case 'ws':
    case 'ws-no-addons': {
      const { Receiver } = loadWs();
      const receiver = new Receiver({ isServer: true, maxPayload: WS_MAX_PAYLOAD });
      const parser = { received: 0, feed: (chunk: Buffer) => void receiver.write(chunk) };
      // ws hands text out as a Buffer; decoding it is what an application does next, and what hybi and
      // websocket-driver have already done when they deliver a string.
      receiver.on('message', (data, isBinary) => {
        if (!isBinary) data.toString();
        parser.received++;
      });
      receiver.on('error', (error) => {
        throw error;
      });
      return parser;
    }
    case 'websocket-driver': {
      const { driver } = openWebSocketDriverServer();
      const parser = { received: 0, feed: (chunk: Buffer) => void driver.io.write(chunk) };
      driver.on('message', () => {
        parser.received++;
      });
      driver.on('error', (error: Error) => {
        throw error;
      });
      return parser;
    }
    case 'reference':
      throw new Error('parse has no reference variant');
  }
}

function cases(variant: Variant): BenchCase[] {
  const result: BenchCase[] = [];
  for (const [type, opcode, payloadOf] of [
    ['text', OPCODE_TEXT, textPayload],
    ['binary', OPCODE_BINARY, binaryPayload],
  ] as const) {
    for (const size of MESSAGE_SIZES) {
      const stream = frameStream(opcode, payloadOf(size.bytes), true, TARGET_BYTES);
      // Every parser unmasks in place, so each call gets a fresh copy of the masked bytes (untimed).
      const work = Buffer.allocUnsafe(stream.bytes.length);
      const chunks = chunksOf(work);
      const parser = createParser(variant);
      const parseAll = () => {
        for (const chunk of chunks) parser.feed(chunk);
      };
      const refill = () => {
        stream.bytes.copy(work);
      };
      // Check the harness before timing it: every frame becomes exactly one message.
      refill();
      parseAll();
      if (parser.received !== stream.frameCount) {
        throw new Error(
          `${variant} ${type} ${size.label}: ${parser.received} of ${stream.frameCount} messages`,
        );
      }
      const benchCase: BenchCase = {
        name: `${type} ${size.label}`,
        fn: parseAll,
        beforeEach: refill,
        unit: 'msg/s',
        messagesPerOp: stream.frameCount,
        bytesPerOp: stream.payloadBytes,
      };
      if (variant === 'ws' || variant === 'ws-no-addons') benchCase.label = wsLabel();
      result.push(benchCase);
    }
  }
  return result;
}

export const suite: Suite = {
  name: 'parse',
  variants: ['hybi', 'hybi-driver', 'ws', 'ws-no-addons', 'websocket-driver'],
  cases,
};

await runIfMain(new URL(import.meta.url), suite);
