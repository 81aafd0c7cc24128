import { randomBytes } from 'node:crypto';

/** Deterministic noise (a 32-bit LCG): incompressible in practice, identical on every run. */
function seededBytes(length: number, seed: number): Buffer {
  const bytes = Buffer.alloc(length);
  let state = seed >>> 0;
  for (let index = 0; index < length; index++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    bytes[index] = state >>> 24;
  }
  return bytes;
}

import { createRequire } from 'node:module';
import { deflateRawSync, InflateRaw, constants as zlibConstants } from 'node:zlib';
import { describe, expect, it, vi } from 'vitest';
import type {
  ClientExtensionSession,
  Extension,
  ExtensionMessage,
  ExtensionParams,
  ExtensionSession,
  ServerExtensionSession,
} from '../../src/extensions/extension.js';
import {
  type PerMessageDeflateOptions,
  PerMessageDeflateSession,
  permessageDeflate,
} from '../../src/extensions/permessage-deflate.js';
import { sharedZlibLimiter, ZlibLimiter } from '../../src/extensions/zlib-limiter.js';
import { ProtocolError } from '../../src/protocol/errors.js';
import { Opcode } from '../../src/protocol/opcodes.js';

// ---------------------------------------------------------------------------------------------------
// Helpers

const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);

function textMessage(data: Buffer | string, extra: Partial<ExtensionMessage> = {}): ExtensionMessage {
  return {
    rsv1: false,
    rsv2: false,
    rsv3: false,
    opcode: Opcode.Text,
    data: typeof data === 'string' ? Buffer.from(data) : data,
    ...extra,
  };
}

function compressedMessage(data: Buffer): ExtensionMessage {
  return { rsv1: true, rsv2: false, rsv3: false, opcode: Opcode.Binary, data };
}

function processOutgoing(session: ExtensionSession, message: ExtensionMessage): Promise<ExtensionMessage> {
  return new Promise((resolve, reject) => {
    session.processOutgoingMessage(message, (error, result) => (error ? reject(error) : resolve(result!)));
  });
}

function processIncoming(session: ExtensionSession, message: ExtensionMessage): Promise<ExtensionMessage> {
  return new Promise((resolve, reject) => {
    session.processIncomingMessage(message, (error, result) => (error ? reject(error) : resolve(result!)));
  });
}

async function incomingError(session: ExtensionSession, message: ExtensionMessage): Promise<unknown> {
  try {
    await processIncoming(session, message);
  } catch (error) {
    return error;
  }
  throw new Error('expected the message to fail');
}

interface Pair {
  client: ClientExtensionSession;
  server: ServerExtensionSession;
  response: ExtensionParams;
}

/** A full negotiation: the client's offer, the server's response, the client's activation. */
function negotiate(clientOptions: PerMessageDeflateOptions, serverOptions: PerMessageDeflateOptions): Pair {
  const client = permessageDeflate(clientOptions).createClientSession()!;
  const offer = client.generateOffer();
  const server = permessageDeflate(serverOptions).createServerSession(
    Array.isArray(offer) ? offer : [offer],
  )!;
  expect(server).not.toBeNull();
  const response = server.generateResponse();
  expect(client.activate(response)).toBe(true);
  return { client, server, response };
}

function responseTo(
  offers: ExtensionParams[],
  options: PerMessageDeflateOptions = {},
): ExtensionParams | null {
  const session = permessageDeflate(options).createServerSession(offers);
  if (session === null) return null;
  session.close();
  return session.generateResponse();
}

function activates(response: ExtensionParams, options: PerMessageDeflateOptions = {}): boolean {
  const session = permessageDeflate(options).createClientSession()!;
  session.generateOffer();
  const isActive = session.activate(response);
  session.close();
  return isActive;
}

/** Deterministic text with matches at every distance: words from a small vocabulary, seeded. */
function sampleText(length: number, seed: number): Buffer {
  const words = [
    'alpha',
    'beta',
    'gamma',
    'delta',
    'socket',
    'frame',
    'deflate',
    'window',
    'message',
    'zlib',
  ];
  let state = seed >>> 0 || 1;
  const parts: string[] = [];
  let size = 0;
  while (size < length) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const word = `${words[(state >>> 0) % words.length]}${(state >>> 8) % 100} `;
    parts.push(word);
    size += word.length;
  }
  return Buffer.from(parts.join('').slice(0, length));
}

/** Buffer.equals rather than toEqual, which compares large buffers element by element, slowly. */
function expectSameBytes(actual: Buffer, expected: Buffer): void {
  if (actual.equals(expected)) return;
  let index = 0;
  while (index < actual.length && actual[index] === expected[index]) index++;
  expect.fail(`${actual.length} bytes, expected ${expected.length}; first difference at ${index}`);
}

function deflateForTest(data: Buffer): Buffer {
  const output = deflateRawSync(data, { finishFlush: zlibConstants.Z_SYNC_FLUSH });
  return output.subarray(0, output.length - TRAILER.length);
}

// ws's implementation, for interop: the same class ws's own tests drive directly.
interface WsPerMessageDeflate {
  params: Record<string, unknown> | null;
  offer(): Record<string, unknown>;
  accept(configurations: Record<string, unknown[]>[]): Record<string, unknown>;
  compress(data: Buffer, fin: boolean, callback: (error: Error | null, result?: Buffer) => void): void;
  decompress(data: Buffer, fin: boolean, callback: (error: Error | null, result?: Buffer) => void): void;
  cleanup(): void;
}
type WsPerMessageDeflateClass = new (options: Record<string, unknown>) => WsPerMessageDeflate;
const requireFromHere = createRequire(import.meta.url);
const WsPerMessageDeflate = (requireFromHere('ws') as { PerMessageDeflate: WsPerMessageDeflateClass })
  .PerMessageDeflate;

/** ws's extension parser yields every value as an array; accept() expects that shape. */
function toWsParams(params: ExtensionParams): Record<string, unknown[]> {
  return Object.fromEntries(Object.entries(params).map(([name, value]) => [name, [value]]));
}

function fromWsParams(params: Record<string, unknown>): ExtensionParams {
  const result: ExtensionParams = {};
  for (const [name, value] of Object.entries(params)) {
    if (value === true || typeof value === 'number' || typeof value === 'string') result[name] = value;
  }
  return result;
}

function wsCompress(pmd: WsPerMessageDeflate, data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    pmd.compress(data, true, (error, result) => (error ? reject(error) : resolve(result!))),
  );
}

function wsDecompress(pmd: WsPerMessageDeflate, data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    pmd.decompress(data, true, (error, result) => (error ? reject(error) : resolve(result!))),
  );
}

// ---------------------------------------------------------------------------------------------------

describe('permessageDeflate options', () => {
  it('describes itself as an RSV1 permessage extension named permessage-deflate', () => {
    const extension: Extension = permessageDeflate();
    expect(extension).toMatchObject({
      name: 'permessage-deflate',
      type: 'permessage',
      rsv1: true,
      rsv2: false,
      rsv3: false,
    });
  });

  it.each<[string, unknown, ErrorConstructor]>([
    ['options that are not an object', 5, TypeError],
    ['an unknown option', { windowBits: 10 }, TypeError],
    ['a level that is not a number', { level: '6' }, TypeError],
    ['a level above 9', { level: 10 }, RangeError],
    ['a level below -1', { level: -2 }, RangeError],
    ['a fractional level', { level: 1.5 }, RangeError],
    ['a memLevel of 0', { memLevel: 0 }, RangeError],
    ['a negative threshold', { threshold: -1 }, RangeError],
    ['a serverNoContextTakeover that is not a boolean', { serverNoContextTakeover: 1 }, TypeError],
    ['a clientNoContextTakeover that is not a boolean', { clientNoContextTakeover: 'yes' }, TypeError],
    ['a serverMaxWindowBits of 7', { serverMaxWindowBits: 7 }, RangeError],
    ['a serverMaxWindowBits of 16', { serverMaxWindowBits: 16 }, RangeError],
    ['a serverMaxWindowBits of true', { serverMaxWindowBits: true }, TypeError],
    ['a clientMaxWindowBits of false', { clientMaxWindowBits: false }, TypeError],
    ['a clientMaxWindowBits of 16', { clientMaxWindowBits: 16 }, RangeError],
    ['a concurrency of 0', { concurrency: 0 }, RangeError],
  ])('throws at once for %s', (_label, options, errorClass) => {
    expect(() => permessageDeflate(options as PerMessageDeflateOptions)).toThrow(errorClass);
  });

  it('says in the error what to pass', () => {
    expect(() => permessageDeflate({ serverMaxWindowBits: 7 })).toThrow(
      /serverMaxWindowBits must be an integer from 8 to 15/,
    );
    expect(() => permessageDeflate({ clientMaxWindowBits: 20 })).toThrow(/from 8 to 15 or true/);
  });

  it('rejects a session maxLength that is negative or not a number', () => {
    const extension = permessageDeflate();
    expect(() => extension.createServerSession([{}], { maxLength: -1 })).toThrow(RangeError);
    expect(() => extension.createClientSession({ maxLength: '5' as unknown as number })).toThrow(TypeError);
  });
});

describe('server negotiation (RFC 7692 §5, §7.1)', () => {
  it.each<[string, ExtensionParams, ExtensionParams]>([
    ['an offer without parameters', {}, {}],
    [
      'server_no_context_takeover',
      { server_no_context_takeover: true },
      { server_no_context_takeover: true },
    ],
    [
      'client_no_context_takeover',
      { client_no_context_takeover: true },
      { client_no_context_takeover: true },
    ],
    ['server_max_window_bits=10', { server_max_window_bits: 10 }, { server_max_window_bits: 10 }],
    ['server_max_window_bits=8', { server_max_window_bits: 8 }, { server_max_window_bits: 8 }],
    [
      'server_max_window_bits="10" as a string',
      { server_max_window_bits: '10' },
      { server_max_window_bits: 10 },
    ],
    ['a valueless client_max_window_bits', { client_max_window_bits: true }, {}],
    ['client_max_window_bits=10', { client_max_window_bits: 10 }, { client_max_window_bits: 10 }],
  ])('accepts %s', (_label, offer, response) => {
    expect(responseTo([offer])).toEqual(response);
  });

  it.each<[string, ExtensionParams]>([
    ['an unknown parameter', { mystery: true }],
    ['a duplicated parameter', { server_max_window_bits: [10, 11] }],
    ['server_max_window_bits=7', { server_max_window_bits: 7 }],
    ['server_max_window_bits=16', { server_max_window_bits: 16 }],
    ["server_max_window_bits='8a'", { server_max_window_bits: '8a' }],
    ["server_max_window_bits='010'", { server_max_window_bits: '010' }],
    ['server_max_window_bits=9.5', { server_max_window_bits: 9.5 }],
    ['a valueless server_max_window_bits', { server_max_window_bits: true }],
    ['client_max_window_bits=7', { client_max_window_bits: 7 }],
    ['client_max_window_bits=16', { client_max_window_bits: 16 }],
    ["client_max_window_bits='abc'", { client_max_window_bits: 'abc' }],
    ['server_no_context_takeover with a value', { server_no_context_takeover: 1 }],
    ['client_no_context_takeover with a value', { client_no_context_takeover: 'x' }],
  ])('declines an offer with %s', (_label, offer) => {
    expect(responseTo([offer])).toBeNull();
  });

  it('returns null when every offer is declined', () => {
    expect(responseTo([{ server_max_window_bits: 7 }, { mystery: true }])).toBeNull();
    expect(responseTo([])).toBeNull();
  });

  it('takes the first acceptable offer when an earlier one is invalid', () => {
    const response = responseTo([
      { server_max_window_bits: 16, server_no_context_takeover: true },
      { server_max_window_bits: 12 },
      { server_max_window_bits: 9 },
    ]);
    expect(response).toEqual({ server_max_window_bits: 12 });
  });

  it('always announces server_no_context_takeover when configured', () => {
    expect(responseTo([{}], { serverNoContextTakeover: true })).toEqual({ server_no_context_takeover: true });
  });

  it('always asks for client_no_context_takeover when configured', () => {
    expect(responseTo([{}], { clientNoContextTakeover: true })).toEqual({ client_no_context_takeover: true });
  });

  it('answers server_max_window_bits with the smaller of the offered and configured values', () => {
    expect(responseTo([{ server_max_window_bits: 12 }], { serverMaxWindowBits: 10 })).toEqual({
      server_max_window_bits: 10,
    });
    expect(responseTo([{ server_max_window_bits: 9 }], { serverMaxWindowBits: 10 })).toEqual({
      server_max_window_bits: 9,
    });
  });

  it('announces its configured server window even when the client did not ask (§7.1.2.1)', () => {
    expect(responseTo([{}], { serverMaxWindowBits: 11 })).toEqual({ server_max_window_bits: 11 });
  });

  it('limits the client window only when the client offered client_max_window_bits (§7.1.2.2)', () => {
    const options = { clientMaxWindowBits: 10 };
    expect(responseTo([{ client_max_window_bits: true }], options)).toEqual({ client_max_window_bits: 10 });
    expect(responseTo([{ client_max_window_bits: 12 }], options)).toEqual({ client_max_window_bits: 10 });
    expect(responseTo([{ client_max_window_bits: 9 }], options)).toEqual({ client_max_window_bits: 9 });
    expect(responseTo([{}], options)).toEqual({});
  });
});

describe('client negotiation (RFC 7692 §5, §7.1)', () => {
  it('offers a valueless client_max_window_bits by default, as browsers do', () => {
    expect(permessageDeflate().createClientSession()!.generateOffer()).toEqual({
      client_max_window_bits: true,
    });
  });

  it('offers every configured parameter', () => {
    const offer = permessageDeflate({
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 10,
      clientMaxWindowBits: 12,
    })
      .createClientSession()!
      .generateOffer();
    expect(offer).toEqual({
      server_no_context_takeover: true,
      client_no_context_takeover: true,
      server_max_window_bits: 10,
      client_max_window_bits: 12,
    });
  });

  it.each<[string, ExtensionParams]>([
    ['an empty response', {}],
    ['server_no_context_takeover it did not ask for', { server_no_context_takeover: true }],
    ['client_no_context_takeover', { client_no_context_takeover: true }],
    ['server_max_window_bits it did not ask for', { server_max_window_bits: 10 }],
    ['client_max_window_bits=8', { client_max_window_bits: 8 }],
  ])('activates on %s', (_label, response) => {
    expect(activates(response)).toBe(true);
  });

  it.each<[string, ExtensionParams, PerMessageDeflateOptions]>([
    ['an unknown parameter', { mystery: true }, {}],
    ['a duplicated parameter', { client_no_context_takeover: [true, true] }, {}],
    ['server_max_window_bits=7', { server_max_window_bits: 7 }, {}],
    ['server_max_window_bits=16', { server_max_window_bits: 16 }, {}],
    ["server_max_window_bits='8a'", { server_max_window_bits: '8a' }, {}],
    ['a valueless server_max_window_bits', { server_max_window_bits: true }, {}],
    ['a valueless client_max_window_bits', { client_max_window_bits: true }, {}],
    ['client_max_window_bits=16', { client_max_window_bits: 16 }, {}],
    ['server_no_context_takeover with a value', { server_no_context_takeover: 'yes' }, {}],
    [
      'server_max_window_bits larger than requested',
      { server_max_window_bits: 12 },
      { serverMaxWindowBits: 10 },
    ],
    ['no server_max_window_bits when one was requested', {}, { serverMaxWindowBits: 10 }],
    ['no server_no_context_takeover when it was requested', {}, { serverNoContextTakeover: true }],
  ])('rejects a response with %s', (_label, response, options) => {
    expect(activates(response, options)).toBe(false);
  });

  it('keeps to its own offered window when the server answers a larger client_max_window_bits', async () => {
    const client = permessageDeflate({ clientMaxWindowBits: 9, threshold: 0 }).createClientSession()!;
    client.generateOffer();
    expect(client.activate({ client_max_window_bits: 12 })).toBe(true);
    // A peer limited to a 512-byte window (ws with client_max_window_bits=9) can read what it sends.
    const ws = new WsPerMessageDeflate({ isServer: true, threshold: 0 });
    ws.accept([toWsParams({ client_max_window_bits: 9 })]);
    const data = sampleText(50_000, 7);
    const sent = await processOutgoing(client, textMessage(data));
    expectSameBytes(await wsDecompress(ws, sent.data), data);
    client.close();
    ws.cleanup();
  });
});

describe('compressing and inflating (RFC 7692 §6, §7.2)', () => {
  it.each<[string, Buffer, number]>([
    ['text', Buffer.from('Hello, permessage-deflate! '.repeat(100)), Opcode.Text],
    ['binary', randomBytes(5000), Opcode.Binary],
    ['an empty message', Buffer.alloc(0), Opcode.Text],
    ['1 MiB', sampleText(1 << 20, 11), Opcode.Binary],
    // Incompressible: its compressed form stays over 64 KiB, so the trailer goes in a second zlib write.
    ['200 KB of random bytes', randomBytes(200_000), Opcode.Binary],
  ])('round-trips %s from client to server and back', async (_label, data, opcode) => {
    const { client, server } = negotiate({ threshold: 0 }, { threshold: 0 });
    const sent = await processOutgoing(client, textMessage(data, { opcode }));
    expect(sent.rsv1).toBe(true);
    expect(sent.opcode).toBe(opcode);
    const received = await processIncoming(server, sent);
    expect(received.rsv1).toBe(false);
    expect(received.opcode).toBe(opcode);
    expectSameBytes(received.data, data);
    const reply = await processOutgoing(server, textMessage(data, { opcode }));
    expectSameBytes((await processIncoming(client, reply)).data, data);
    client.close();
    server.close();
  });

  it('inflates a small message in one zlib write (one thread-pool trip), a large one in two', async () => {
    const { client, server } = negotiate({ threshold: 0 }, { threshold: 0 });
    const writes = vi.spyOn(InflateRaw.prototype, 'write');
    try {
      for (const [data, expectedWrites] of [
        [Buffer.from('small and compressible '.repeat(50)), 1],
        [randomBytes(100_000), 2],
      ] as const) {
        const sent = await processOutgoing(client, textMessage(data, { opcode: Opcode.Binary }));
        writes.mockClear();
        expectSameBytes((await processIncoming(server, sent)).data, data);
        expect(writes).toHaveBeenCalledTimes(expectedWrites);
      }
    } finally {
      writes.mockRestore();
      client.close();
      server.close();
    }
  });

  it('sends an empty message as the single octet 0x00 (§7.2.3.6), also after earlier messages', async () => {
    const { client, server } = negotiate({ threshold: 0 }, { threshold: 0 });
    for (const data of [Buffer.alloc(0), Buffer.from('x'.repeat(300)), Buffer.alloc(0), Buffer.alloc(0)]) {
      const sent = await processOutgoing(client, textMessage(data));
      if (data.length === 0) expect(sent.data).toEqual(Buffer.from([0x00]));
      expectSameBytes((await processIncoming(server, sent)).data, data);
    }
    client.close();
    server.close();
  });

  it('never ends compressed output with 00 00 ff ff (§7.2.1)', async () => {
    const { client, server } = negotiate({ threshold: 0 }, { threshold: 0 });
    for (let index = 0; index < 50; index++) {
      const data = index % 2 === 0 ? sampleText(100 + index * 97, index) : randomBytes(100 + index * 13);
      const sent = await processOutgoing(client, textMessage(data));
      expect(sent.data.subarray(-4).equals(TRAILER)).toBe(false);
      expectSameBytes((await processIncoming(server, sent)).data, data);
    }
    client.close();
    server.close();
  });

  it('inflates every example of RFC 7692 §7.2.3', async () => {
    const examples = [
      'f248cdc9c90700', // §7.2.3.1: one compressed block
      '000500faff48656c6c6f00', // §7.2.3.3: a stored block
      'f348cdc9c9070000', // §7.2.3.4: a block with BFINAL set, then 0x00
      'f24805000000ffffcac9c90700', // §7.2.3.5: two blocks
    ];
    for (const example of examples) {
      const server = permessageDeflate().createServerSession([{}])!;
      const received = await processIncoming(server, compressedMessage(Buffer.from(example, 'hex')));
      expect(received.data.toString()).toBe('Hello');
      server.close();
    }
  });

  it('shares the LZ77 window across messages as in §7.2.3.2', async () => {
    const server = permessageDeflate().createServerSession([{}])!;
    for (const payload of ['f248cdc9c90700', 'f200110000']) {
      const received = await processIncoming(server, compressedMessage(Buffer.from(payload, 'hex')));
      expect(received.data.toString()).toBe('Hello');
    }
    server.close();
  });

  it('starts a fresh inflater after a message that ended with a BFINAL block', async () => {
    const server = permessageDeflate().createServerSession([{}])!;
    const final = Buffer.from('f348cdc9c9070000', 'hex');
    expect((await processIncoming(server, compressedMessage(final))).data.toString()).toBe('Hello');
    expect((await processIncoming(server, compressedMessage(final))).data.toString()).toBe('Hello');
    const next = deflateForTest(Buffer.from('after the final block'));
    expect((await processIncoming(server, compressedMessage(next))).data.toString()).toBe(
      'after the final block',
    );
    server.close();
  });

  it('compresses the second identical message smaller with context takeover', async () => {
    const { client, server } = negotiate({ threshold: 0 }, { threshold: 0 });
    const data = sampleText(2000, 3);
    const first = await processOutgoing(server, textMessage(data));
    const second = await processOutgoing(server, textMessage(data));
    expect(second.data.length).toBeLessThan(first.data.length / 4);
    expectSameBytes((await processIncoming(client, first)).data, data);
    expectSameBytes((await processIncoming(client, second)).data, data);
    client.close();
    server.close();
  });

  it('compresses identical messages to the same size without server context takeover', async () => {
    const { client, server, response } = negotiate(
      { threshold: 0 },
      { threshold: 0, serverNoContextTakeover: true },
    );
    expect(response.server_no_context_takeover).toBe(true);
    const data = sampleText(2000, 3);
    const first = await processOutgoing(server, textMessage(data));
    const second = await processOutgoing(server, textMessage(data));
    expect(second.data).toEqual(first.data);
    expectSameBytes((await processIncoming(client, first)).data, data);
    expectSameBytes((await processIncoming(client, second)).data, data);
    client.close();
    server.close();
  });

  it('compresses identical messages to the same size when the client promised no context takeover', async () => {
    const { client, server, response } = negotiate(
      { threshold: 0, clientNoContextTakeover: true },
      { threshold: 0 },
    );
    expect(response.client_no_context_takeover).toBe(true);
    const data = sampleText(2000, 5);
    const first = await processOutgoing(client, textMessage(data));
    const second = await processOutgoing(client, textMessage(data));
    expect(second.data).toEqual(first.data);
    expectSameBytes((await processIncoming(server, first)).data, data);
    expectSameBytes((await processIncoming(server, second)).data, data);
    client.close();
    server.close();
  });

  it('sends messages below the threshold unchanged', async () => {
    const { client } = negotiate({ threshold: 100 }, {});
    const short = textMessage('x'.repeat(99));
    expect(await processOutgoing(client, short)).toBe(short);
    const long = await processOutgoing(client, textMessage('x'.repeat(100)));
    expect(long.rsv1).toBe(true);
    client.close();
  });

  it('sends a message with compress: false unchanged, however large', async () => {
    const { client } = negotiate({ threshold: 0 }, {});
    const message = textMessage('y'.repeat(100_000), { compress: false });
    const sent = await processOutgoing(client, message);
    expect(sent).toBe(message);
    expect(sent.rsv1).toBe(false);
    client.close();
  });

  it('never compresses control frames', async () => {
    const { client } = negotiate({ threshold: 0 }, {});
    for (const opcode of [Opcode.Ping, Opcode.Pong, Opcode.Close]) {
      const message = textMessage('control', { opcode });
      expect(await processOutgoing(client, message)).toBe(message);
    }
    client.close();
  });

  it('passes an incoming message without RSV1 through unchanged', async () => {
    const server = permessageDeflate().createServerSession([{}])!;
    const message = textMessage('plain');
    expect(await processIncoming(server, message)).toBe(message);
    server.close();
  });

  it('does not change the message object it was given', async () => {
    const { client } = negotiate({ threshold: 0 }, {});
    const message = textMessage('z'.repeat(2000));
    const sent = await processOutgoing(client, message);
    expect(sent).not.toBe(message);
    expect(message.rsv1).toBe(false);
    expect(message.data.toString()).toBe('z'.repeat(2000));
    client.close();
  });

  it('reads an RSV1 message with an empty payload as an empty message without disturbing the window', async () => {
    const server = permessageDeflate().createServerSession([{}])!;
    expect((await processIncoming(server, compressedMessage(Buffer.alloc(0)))).data.length).toBe(0);
    const next = deflateForTest(Buffer.from('next'));
    expect((await processIncoming(server, compressedMessage(next))).data.toString()).toBe('next');
    server.close();
  });
});

describe('failures while inflating', () => {
  it('fails with 1007 on data that is not DEFLATE', async () => {
    const server = permessageDeflate().createServerSession([{}])!;
    const error = await incomingError(server, compressedMessage(Buffer.from([0xff, 0xff, 0xff, 0xff])));
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).closeCode).toBe(1007);
    server.close();
  });

  it('fails with 1009 once the inflated size passes maxLength, inflating little more than maxLength', async () => {
    const maxLength = 64 * 1024;
    const bomb = deflateForTest(Buffer.alloc(16 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(32 * 1024);
    const server = permessageDeflate().createServerSession([{}], { maxLength })! as ServerExtensionSession &
      PerMessageDeflateSession;
    expect(server).toBeInstanceOf(PerMessageDeflateSession);
    const error = await incomingError(server, compressedMessage(bomb));
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).closeCode).toBe(1009);
    expect((error as ProtocolError).message).toBe('message too big after inflation');
    // Stopped at the first zlib output chunk (16 KiB) past the bound, not at 16 MiB.
    expect(server.totalInflatedBytes).toBeGreaterThan(maxLength);
    expect(server.totalInflatedBytes).toBeLessThanOrEqual(maxLength + 16 * 1024);
    expect(server.hasInflater).toBe(false);
    server.close();
  });

  it('accepts a message that inflates to exactly maxLength and refuses one byte more', async () => {
    const data = sampleText(5000, 9);
    const payload = deflateForTest(data);
    const exact = permessageDeflate().createServerSession([{}], { maxLength: 5000 })!;
    expectSameBytes((await processIncoming(exact, compressedMessage(payload))).data, data);
    exact.close();
    const under = permessageDeflate().createServerSession([{}], { maxLength: 4999 })!;
    expect(((await incomingError(under, compressedMessage(payload))) as ProtocolError).closeCode).toBe(1009);
    under.close();
  });

  it('fails every later compressed message once inflating failed, and passes plain ones', async () => {
    const server = permessageDeflate().createServerSession([{}], { maxLength: 10 })!;
    const first = await incomingError(server, compressedMessage(deflateForTest(Buffer.alloc(100))));
    const second = await incomingError(server, compressedMessage(deflateForTest(Buffer.from('ok'))));
    expect(second).toBe(first);
    const plain = textMessage('plain');
    expect(await processIncoming(server, plain)).toBe(plain);
    server.close();
  });
});

describe('ordering, memory and close', () => {
  it('calls back in call order for hundreds of concurrent messages in each direction', async () => {
    const { client, server } = negotiate({ threshold: 64 }, {});
    const sent: Promise<ExtensionMessage>[] = [];
    const inputs: ExtensionMessage[] = [];
    const outgoingOrder: number[] = [];
    for (let index = 0; index < 400; index++) {
      const size = [0, 10, 63, 64, 500, 20_000, 3000][index % 7]!;
      const message = textMessage(sampleText(size, index + 1), { compress: index % 11 !== 0 });
      inputs.push(message);
      sent.push(
        new Promise((resolve, reject) =>
          client.processOutgoingMessage(message, (error, result) => {
            outgoingOrder.push(index);
            if (error) reject(error);
            else resolve(result!);
          }),
        ),
      );
    }
    const outputs = await Promise.all(sent);
    expect(outgoingOrder).toEqual(inputs.map((_message, index) => index));
    expect(outputs.some((message) => message.rsv1)).toBe(true);
    expect(outputs.some((message) => !message.rsv1)).toBe(true);

    const incomingOrder: number[] = [];
    const received = await Promise.all(
      outputs.map(
        (message, index) =>
          new Promise<ExtensionMessage>((resolve, reject) =>
            server.processIncomingMessage(message, (error, result) => {
              incomingOrder.push(index);
              if (error) reject(error);
              else resolve(result!);
            }),
          ),
      ),
    );
    expect(incomingOrder).toEqual(outputs.map((_message, index) => index));
    received.forEach((message, index) => {
      expectSameBytes(message.data, inputs[index]!.data);
    });
    client.close();
    server.close();
  });

  it('creates zlib contexts only on the first compressed message in each direction', async () => {
    const { client, server } = negotiate({ threshold: 0 }, { threshold: 0 });
    const clientSession = client as ClientExtensionSession & PerMessageDeflateSession;
    const serverSession = server as ServerExtensionSession & PerMessageDeflateSession;
    expect([clientSession.hasDeflater, clientSession.hasInflater]).toEqual([false, false]);
    const sent = await processOutgoing(client, textMessage(sampleText(3000, 1)));
    expect([clientSession.hasDeflater, clientSession.hasInflater]).toEqual([true, false]);
    expect(serverSession.hasInflater).toBe(false);
    await processIncoming(server, sent);
    expect([serverSession.hasDeflater, serverSession.hasInflater]).toEqual([false, true]);
    client.close();
    server.close();
    expect([clientSession.hasDeflater, serverSession.hasInflater]).toEqual([false, false]);
  });

  it('releases each direction’s zlib context after every message without context takeover', async () => {
    const { client, server } = negotiate(
      { threshold: 0, clientNoContextTakeover: true },
      { threshold: 0, serverNoContextTakeover: true },
    );
    const clientSession = client as ClientExtensionSession & PerMessageDeflateSession;
    const serverSession = server as ServerExtensionSession & PerMessageDeflateSession;
    for (let round = 0; round < 3; round++) {
      const data = sampleText(3000, round + 1);
      const toServer = await processOutgoing(client, textMessage(data));
      expect(clientSession.hasDeflater).toBe(false);
      expectSameBytes((await processIncoming(server, toServer)).data, data);
      expect(serverSession.hasInflater).toBe(false);
      const toClient = await processOutgoing(server, textMessage(data));
      expect(serverSession.hasDeflater).toBe(false);
      expectSameBytes((await processIncoming(client, toClient)).data, data);
      expect(clientSession.hasInflater).toBe(false);
    }
    client.close();
    server.close();
  });

  it('fails pending callbacks with an error after close(), in order and never inside close()', async () => {
    const { client } = negotiate({ threshold: 0 }, {});
    const results: string[] = [];
    const done = new Promise<void>((resolve) => {
      for (let index = 0; index < 5; index++) {
        client.processOutgoingMessage(textMessage(sampleText(50_000, index + 1)), (error) => {
          results.push(`${index}:${error ? error.message : 'ok'}`);
          if (index === 4) resolve();
        });
      }
    });
    client.close();
    expect(results).toEqual([]);
    await done;
    expect(results).toHaveLength(5);
    results.forEach((result, index) => {
      expect(result).toMatch(new RegExp(`^${index}:.*closed`));
    });
  });

  it('fails messages processed after close() and tolerates a second close()', async () => {
    const server = permessageDeflate().createServerSession([{}])!;
    server.close();
    server.close();
    await expect(
      processIncoming(server, compressedMessage(deflateForTest(Buffer.from('late')))),
    ).rejects.toThrow(/closed/);
    await expect(processOutgoing(server, textMessage('late'))).rejects.toThrow(/closed/);
  });

  it('closes cleanly while zlib is inflating a large message', async () => {
    const server = permessageDeflate().createServerSession([{}], { maxLength: 1 << 30 })!;
    const pending = incomingError(server, compressedMessage(deflateForTest(Buffer.alloc(32 * 1024 * 1024))));
    // The write is on the thread pool now.
    server.close();
    expect(String(await pending)).toMatch(/closed/);
  });

  it('ignores a zlib error that arrives after close()', async () => {
    const server = permessageDeflate().createServerSession([{}])!;
    const pending = incomingError(server, compressedMessage(Buffer.from([0xff, 0xff, 0xff, 0xff])));
    server.close();
    expect(String(await pending)).toMatch(/closed/);
    // Let any late 'error' from the destroyed stream surface; vitest fails the run on an uncaught one.
    await new Promise((resolve) => setTimeout(resolve, 20));
  });
});

describe('window bits 8 (zlib has no 256-byte raw deflate window)', () => {
  it('deflates within 256 bytes of history when 8 is negotiated', async () => {
    const { client, server, response } = negotiate({ serverMaxWindowBits: 8 }, { threshold: 0 });
    expect(response.server_max_window_bits).toBe(8);
    // A random block repeated: zlib can only compress it by referring one block back. Seeded, so the
    // verdict cannot depend on chance matches inside a block; 240 stays clear of the 250-byte limit.
    const block250 = seededBytes(240, 1);
    const block257 = seededBytes(257, 2);
    const near = Buffer.concat(Array.from({ length: 40 }, () => block250));
    const far = Buffer.concat(Array.from({ length: 40 }, () => block257));
    const nearSent = await processOutgoing(server, textMessage(near));
    const farSent = await processOutgoing(server, textMessage(far));
    expect(nearSent.data.length).toBeLessThan(near.length / 2);
    // Nothing 257 bytes back is referenced: only Huffman coding of the literals saves anything (about
    // 10% on these bytes), where matches one block back would shrink it twenty-fold.
    expect(farSent.data.length).toBeGreaterThan(far.length * 0.8);
    expectSameBytes((await processIncoming(client, nearSent)).data, near);
    expectSameBytes((await processIncoming(client, farSent)).data, far);
    client.close();
    server.close();
  });

  const windowBits = [8, 9, 10, 11, 12, 13, 14, 15];
  const messages = [sampleText(70_000, 21), sampleText(3000, 22), randomBytes(2000), sampleText(70_000, 21)];

  it.each(windowBits)('interoperates with a ws server at %i window bits in both directions', async (bits) => {
    const client = permessageDeflate({ threshold: 0, serverMaxWindowBits: bits }).createClientSession()!;
    const ws = new WsPerMessageDeflate({
      isServer: true,
      threshold: 0,
      serverMaxWindowBits: bits,
      clientMaxWindowBits: bits,
    });
    const offer = client.generateOffer() as ExtensionParams;
    const accepted = fromWsParams(ws.accept([toWsParams(offer)]));
    expect(accepted).toEqual({ server_max_window_bits: bits, client_max_window_bits: bits });
    expect(client.activate(accepted)).toBe(true);
    for (const data of messages) {
      const sent = await processOutgoing(client, textMessage(data));
      expectSameBytes(await wsDecompress(ws, sent.data), data);
      const fromWs = await wsCompress(ws, data);
      expectSameBytes((await processIncoming(client, compressedMessage(fromWs))).data, data);
    }
    client.close();
    ws.cleanup();
  });

  it.each(windowBits)('interoperates with a ws client at %i window bits in both directions', async (bits) => {
    const ws = new WsPerMessageDeflate({
      threshold: 0,
      serverMaxWindowBits: bits,
      clientMaxWindowBits: bits,
    });
    const offer = fromWsParams(ws.offer());
    const server = permessageDeflate({ threshold: 0 }).createServerSession([offer])!;
    const response = server.generateResponse();
    expect(response).toEqual({ server_max_window_bits: bits, client_max_window_bits: bits });
    ws.accept([toWsParams(response)]);
    for (const data of messages) {
      const fromWs = await wsCompress(ws, data);
      expectSameBytes((await processIncoming(server, compressedMessage(fromWs))).data, data);
      const sent = await processOutgoing(server, textMessage(data));
      expectSameBytes(await wsDecompress(ws, sent.data), data);
    }
    server.close();
    ws.cleanup();
  });
});

describe('ZlibLimiter', () => {
  it('runs at most `concurrency` jobs at once, first in first out', () => {
    const limiter = new ZlibLimiter(2);
    const started: number[] = [];
    const releases: (() => void)[] = [];
    for (let index = 0; index < 5; index++) {
      limiter.run((release) => {
        started.push(index);
        releases.push(release);
      });
    }
    expect(started).toEqual([0, 1]);
    expect([limiter.running, limiter.pending]).toEqual([2, 3]);
    releases[1]!();
    releases[1]!();
    expect(started).toEqual([0, 1, 2]);
    expect(limiter.running).toBe(2);
    releases[0]!();
    releases[2]!();
    releases[3]!();
    releases[4]!();
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect([limiter.running, limiter.pending]).toEqual([0, 0]);
  });

  it('runs a long queue of jobs that release at once without growing the stack', () => {
    const limiter = new ZlibLimiter(1);
    let count = 0;
    limiter.run((release) => {
      for (let index = 0; index < 100_000; index++) {
        limiter.run((innerRelease) => {
          count += 1;
          innerRelease();
        });
      }
      release();
    });
    expect(count).toBe(100_000);
  });

  it('shares one limiter per cap across the process', () => {
    expect(sharedZlibLimiter(7)).toBe(sharedZlibLimiter(7));
    expect(sharedZlibLimiter(7)).not.toBe(sharedZlibLimiter(8));
    expect(() => new ZlibLimiter(0)).toThrow(RangeError);
  });

  it('bounds the zlib jobs of all sessions together', async () => {
    const limiter = sharedZlibLimiter(3);
    const run = limiter.run.bind(limiter);
    let mostRunning = 0;
    limiter.run = (job) =>
      run((release) => {
        mostRunning = Math.max(mostRunning, limiter.running);
        job(release);
      });
    const extension = permessageDeflate({ threshold: 0, concurrency: 3 });
    const sessions = Array.from({ length: 20 }, () => extension.createServerSession([{}])!);
    const outputs = await Promise.all(
      sessions.map((session, index) => processOutgoing(session, textMessage(sampleText(20_000, index + 1)))),
    );
    expect(outputs.every((message) => message.rsv1)).toBe(true);
    expect(mostRunning).toBe(3);
    for (const session of sessions) session.close();
  });

  it("takes one job per session direction at a time, so a flooding session cannot delay another's message", async () => {
    // A cap of its own: a limiter no other test shares, with one slot so that every job waits its turn.
    const limiter = sharedZlibLimiter(1);
    const extension = permessageDeflate({ threshold: 0, concurrency: 1 });
    const flooder = extension.createServerSession([{}])!;
    const other = extension.createServerSession([{}])!;
    const compressed = await processOutgoing(
      extension.createServerSession([{}])!,
      textMessage(Buffer.from('hello')),
    );
    const finished: string[] = [];
    const flood = Array.from({ length: 200 }, () =>
      processIncoming(flooder, compressedMessage(Buffer.from(compressed.data))).then(() => {
        finished.push('flood');
      }),
    );
    // The flooding session queued 200 messages, yet holds one place in the limiter's queue.
    expect(limiter.running + limiter.pending).toBe(1);
    const otherDone = processIncoming(other, compressedMessage(Buffer.from(compressed.data))).then(() => {
      finished.push('other');
    });
    expect(limiter.running + limiter.pending).toBe(2);
    await Promise.all([...flood, otherDone]);
    // Round-robin: the other session's message came right after the one message in progress.
    expect(finished.indexOf('other')).toBeLessThanOrEqual(1);
    expect(finished).toHaveLength(201);
    flooder.close();
    other.close();
  });
});
