// Measures permessage-deflate (RFC 7692) with context takeover on 1 KiB JSON messages, one connection's
// worth (each message waits for the one before, as a sender and receiver do): hybi's extension, ws's
// PerMessageDeflate and faye's permessage-deflate (websocket-driver's).

import { constants, createDeflateRaw } from 'node:zlib';
import type { ExtensionMessage, ExtensionSession } from '../src/extensions/extension.js';
import { permessageDeflate } from './support/hybi.js';
import type { Variant } from './support/measurement.js';
import { jsonMessages } from './support/payloads.js';
import { type FayeMessage, loadFayeDeflate, loadWs } from './support/peers.js';
import { type BenchCase, runIfMain, type Suite } from './support/suite.js';

const MESSAGE_SIZE = 1024;
/** Messages per timed call; on each connection, each is compressed (or inflated) after the previous one finished. */
const BATCH = 64;
const OPCODE_TEXT = 1;

/** One direction of one connection's compressor: process a message, call back with the result. */
type Codec = (data: Buffer, callback: (error: Error | null, result?: Buffer) => void) => void;

interface CodecFactory {
  deflater(level: number | undefined): Codec;
  inflater(): { codec: Codec; close(): void };
}

function hybiCodecs(): CodecFactory {
  const wrap =
    (session: ExtensionSession, direction: 'in' | 'out'): Codec =>
    (data, callback) => {
      const message: ExtensionMessage = {
        rsv1: direction === 'in',
        rsv2: false,
        rsv3: false,
        opcode: OPCODE_TEXT,
        data,
      };
      const done = (error: Error | null, result?: ExtensionMessage) => callback(error, result?.data);
      if (direction === 'in') session.processIncomingMessage(message, done);
      else session.processOutgoingMessage(message, done);
    };
  // A server session as the handshake leaves it: created from the client's offer, response generated.
  const negotiated = (level: number | undefined) => {
    const session = permessageDeflate(level === undefined ? {} : { level }).createServerSession([{}])!;
    session.generateResponse();
    return session;
  };
  return {
    deflater: (level) => wrap(negotiated(level), 'out'),
    inflater: () => {
      const session = negotiated(undefined);
      return { codec: wrap(session, 'in'), close: () => session.close() };
    },
  };
}

function wsCodecs(): CodecFactory {
  const { PerMessageDeflate } = loadWs();
  const create = (level: number | undefined) => {
    const extension = new PerMessageDeflate({
      isServer: true,
      ...(level === undefined ? {} : { zlibDeflateOptions: { level } }),
    });
    extension.accept([{}]);
    return extension;
  };
  return {
    deflater: (level) => {
      const extension = create(level);
      return (data, callback) => extension.compress(data, true, callback);
    },
    inflater: () => {
      const extension = create(undefined);
      return {
        codec: (data, callback) => extension.decompress(data, true, callback),
        close: () => extension.cleanup(),
      };
    },
  };
}

function fayeCodecs(): CodecFactory {
  const deflate = loadFayeDeflate();
  const wrap =
    (level: number | undefined, direction: 'in' | 'out') => (): { codec: Codec; close(): void } => {
      const session = (level === undefined ? deflate : deflate.configure({ level })).createServerSession([
        {},
      ])!;
      session.generateResponse();
      const codec: Codec = (data, callback) => {
        const message: FayeMessage = {
          rsv1: direction === 'in',
          rsv2: false,
          rsv3: false,
          opcode: OPCODE_TEXT,
          data,
        };
        const done = (error: Error | null, result: FayeMessage) => callback(error, result?.data);
        if (direction === 'in') session.processIncomingMessage(message, done);
        else session.processOutgoingMessage(message, done);
      };
      return { codec, close: () => session.close() };
    };
  return { deflater: (level) => wrap(level, 'out')().codec, inflater: wrap(undefined, 'in') };
}

function codecsOf(variant: Variant): { factory: CodecFactory; defaultLevel: number } {
  switch (variant) {
    case 'hybi':
      return { factory: hybiCodecs(), defaultLevel: 1 };
    case 'ws':
    case 'ws-no-addons':
      return { factory: wsCodecs(), defaultLevel: 6 };
    case 'websocket-driver':
      return { factory: fayeCodecs(), defaultLevel: 6 };
    default:
      throw new Error(`compression has no ${variant} variant`);
  }
}

/** Runs `messages` through `codec` one after another; resolves with the total output size. */
function runSequentially(codec: Codec, messages: readonly Buffer[]): Promise<number> {
  return new Promise((resolve, reject) => {
    let index = 0;
    let outputBytes = 0;
    const next = (error: Error | null, result?: Buffer) => {
      if (error !== null) return reject(error);
      if (result !== undefined) outputBytes += result.length;
      if (index === messages.length) return resolve(outputBytes);
      codec(messages[index++]!, next);
    };
    next(null);
  });
}

/** What a peer sends: `messages` deflated with context takeover (one raw deflate stream, sync-flushed, trailer stripped). */
async function compressedStream(messages: readonly Buffer[]): Promise<Buffer[]> {
  const deflater = createDeflateRaw({ level: 6, windowBits: 15 });
  const output: Buffer[] = [];
  for (const message of messages) {
    const chunks: Buffer[] = [];
    const collect = (chunk: Buffer) => chunks.push(chunk);
    deflater.on('data', collect);
    deflater.write(message);
    await new Promise<void>((resolve) => deflater.flush(constants.Z_SYNC_FLUSH, () => resolve()));
    deflater.removeListener('data', collect);
    const data = Buffer.concat(chunks);
    // RFC 7692 §7.2.1: strip the 00 00 ff ff of the sync flush.
    output.push(data.subarray(0, data.length - 4));
  }
  deflater.close();
  return output;
}

/** Connections compressing at once: one (latency-bound: each message waits for zlib's thread hop) and many (CPU-bound). */
const CONNECTION_COUNTS = [1, 16] as const;

async function cases(variant: Variant): Promise<BenchCase[]> {
  const { factory, defaultLevel } = codecsOf(variant);
  const result: BenchCase[] = [];
  for (const connections of CONNECTION_COUNTS) {
    const perConnection = BATCH / connections;
    const messages = jsonMessages(perConnection, MESSAGE_SIZE);
    const suffix = connections === 1 ? '1 connection' : `${connections} connections at once`;
    for (const [levelName, level] of [
      ['default level', undefined],
      ['level 1', 1],
      ['level 6', 6],
    ] as const) {
      // Context takeover: one session per connection for the whole run, as on long-lived connections.
      const codecs = Array.from({ length: connections }, () => factory.deflater(level));
      const runAll = () => Promise.all(codecs.map((codec) => runSequentially(codec, messages)));
      const outputBytes = (await runAll()).reduce((sum, bytes) => sum + bytes, 0);
      if (!(outputBytes > 0 && outputBytes < BATCH * MESSAGE_SIZE)) {
        throw new Error(`${variant} deflate ${levelName}: ${outputBytes} bytes out`);
      }
      result.push({
        name: `deflate 1 KiB JSON, ${levelName}, ${suffix}`,
        fn: runAll,
        isAsync: true,
        unit: 'msg/s',
        messagesPerOp: BATCH,
        bytesPerOp: BATCH * MESSAGE_SIZE,
        label: `level ${level ?? defaultLevel}`,
      });
    }
    // Inflating a context-takeover stream must start where it started: fresh sessions per timed call.
    const compressed = await compressedStream(messages);
    let inflaters = Array.from({ length: connections }, () => factory.inflater());
    const inflateAll = () =>
      Promise.all(inflaters.map((inflater) => runSequentially(inflater.codec, compressed)));
    const inflatedBytes = (await inflateAll()).reduce((sum, bytes) => sum + bytes, 0);
    if (inflatedBytes !== BATCH * MESSAGE_SIZE)
      throw new Error(`${variant} inflate: ${inflatedBytes} bytes out`);
    result.push({
      name: `inflate 1 KiB JSON, ${suffix}`,
      beforeEach: () => {
        for (const inflater of inflaters) inflater.close();
        inflaters = Array.from({ length: connections }, () => factory.inflater());
      },
      fn: inflateAll,
      isAsync: true,
      unit: 'msg/s',
      messagesPerOp: BATCH,
      bytesPerOp: BATCH * MESSAGE_SIZE,
    });
  }
  return result;
}

export const suite: Suite = {
  name: 'deflate',
  variants: ['hybi', 'ws', 'websocket-driver'],
  cases,
};

await runIfMain(new URL(import.meta.url), suite);
