// Hostile input over real sockets, against the size limits: each test asserts the close code (or HTTP
// status) and a memory bound measured in counted bytes.

import { once } from 'node:events';
import net from 'node:net';
import zlib from 'node:zlib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PerMessageDeflateSession } from '../../src/extensions/permessage-deflate.js';
import { acceptSocket, type WebSocket } from '../../src/index.js';
import {
  clientFrame,
  closed,
  nextTurn,
  RawClient,
  startHybiServer,
  startNetServer,
  upgradeRequest,
  useCleanups,
} from './support.js';

const addCleanup = useCleanups();
afterEach(() => {
  vi.restoreAllMocks();
});

const TEXT = 0x1;
const BINARY = 0x2;
const CONTINUATION = 0x0;
const CLOSE = 0x8;

describe('a decompression bomb', () => {
  it('fails with 1009 once the inflated size passes maxLength, having inflated at most one chunk more', async () => {
    // The sessions the server creates, seen through the prototype every session shares.
    const incoming = vi.spyOn(PerMessageDeflateSession.prototype, 'processIncomingMessage');
    const maxLength = 1024 * 1024;
    const { port, nextConnection } = await startHybiServer(
      { perMessageDeflate: true, maxLength, heartbeat: false },
      addCleanup,
    );
    const client = await RawClient.connect(port, addCleanup);
    const head = await client.handshake(port, { 'Sec-WebSocket-Extensions': 'permessage-deflate' });
    expect(head).toMatch(/^HTTP\/1\.1 101/);
    expect(head.toLowerCase()).toContain('sec-websocket-extensions: permessage-deflate');
    const serverSocket = await nextConnection();
    const serverClosed = closed(serverSocket);

    // 64 MiB of zeros deflate to about 64 KiB: one message, a thousand times its size once inflated.
    const inflatedSize = 64 * 1024 * 1024;
    const compressed = zlib.deflateRawSync(Buffer.alloc(inflatedSize), {
      flush: zlib.constants.Z_SYNC_FLUSH,
    });
    // RFC 7692 §7.2.1: the sender strips the 00 00 ff ff that ends the sync flush.
    const payload = compressed.subarray(0, compressed.length - 4);
    expect(payload.length).toBeLessThan(inflatedSize / 500);
    client.socket.write(clientFrame(BINARY, payload, { rsv1: true }));

    expect(await client.closeCode()).toBe(1009);
    expect((await serverClosed).code).toBe(1009);
    const sessions = incoming.mock.contexts as PerMessageDeflateSession[];
    expect(sessions).toHaveLength(1);
    const inflated = sessions[0]!.totalInflatedBytes;
    // zlib hands out 16 KiB chunks: the inflater stops at the first chunk past maxLength.
    expect(inflated).toBeGreaterThan(maxLength);
    expect(inflated).toBeLessThanOrEqual(maxLength + 64 * 1024);
  });
});

describe('a frame announcing 2^63 - 1 bytes', () => {
  it('fails with 1009 on the header alone: not one payload byte is awaited or kept', async () => {
    const { port, nextConnection } = await startHybiServer({ heartbeat: false }, addCleanup);
    const client = await RawClient.connect(port, addCleanup);
    await client.handshake(port);
    const serverSocket = await nextConnection();
    const serverClosed = closed(serverSocket);
    const header = Buffer.alloc(14);
    header[0] = 0x82;
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(2n ** 63n - 1n, 2);
    const arrayBuffersBefore = process.memoryUsage().arrayBuffers;
    // Only the 14 header bytes: a server that waited for the payload would never answer.
    client.socket.write(header);
    expect(await client.closeCode()).toBe(1009);
    expect((await serverClosed).code).toBe(1009);
    expect(process.memoryUsage().arrayBuffers - arrayBuffersBefore).toBeLessThan(1024 * 1024);
  });
});

describe('100,000 one-byte fragments', () => {
  function fragments(count: number): Buffer {
    const frames: Buffer[] = [];
    for (let index = 0; index < count; index++) {
      const opcode = index === 0 ? BINARY : CONTINUATION;
      frames.push(clientFrame(opcode, Buffer.of(index & 0xff), { isFinal: index === count - 1 }));
    }
    return Buffer.concat(frames);
  }

  it('delivers the message intact under the default limits, in one buffer at most twice its size', async () => {
    const { port, nextConnection } = await startHybiServer({ heartbeat: false }, addCleanup);
    const client = await RawClient.connect(port, addCleanup);
    await client.handshake(port);
    const serverSocket = await nextConnection();
    const message = once(serverSocket, 'message');
    client.socket.write(fragments(100_000));
    const data = ((await message)[0] as MessageEvent).data as Buffer;
    expect(data.length).toBe(100_000);
    expect(data[99_999]).toBe(99_999 & 0xff);
    // Counted: the bytes behind the message are one doubling buffer, not 100,000 slices.
    expect(data.buffer.byteLength).toBeLessThan(2 * data.length);
  });

  it('fails with 1009 when the fragments pass maxLength', async () => {
    const { port, nextConnection } = await startHybiServer(
      { heartbeat: false, maxLength: 50_000 },
      addCleanup,
    );
    const client = await RawClient.connect(port, addCleanup);
    await client.handshake(port);
    const serverSocket = await nextConnection();
    const serverClosed = closed(serverSocket);
    let messages = 0;
    serverSocket.addEventListener('message', () => messages++);
    client.socket.write(fragments(100_000));
    expect(await client.closeCode()).toBe(1009);
    expect((await serverClosed).code).toBe(1009);
    expect(messages).toBe(0);
  });

  it('fails with 1009 when they pass maxFragments', async () => {
    const { port, nextConnection } = await startHybiServer(
      { heartbeat: false, maxFragments: 1000 },
      addCleanup,
    );
    const client = await RawClient.connect(port, addCleanup);
    await client.handshake(port);
    const serverClosed = closed(await nextConnection());
    client.socket.write(fragments(100_000));
    expect(await client.closeCode()).toBe(1009);
    expect((await serverClosed).code).toBe(1009);
  });
});

describe('invalid UTF-8 split across fragments, over a socket (the full sweep is in the unit tests)', () => {
  // U+10FFFF + 1 encoded as F4 90 80 80: the second byte is already out of range.
  const message = Buffer.concat([
    Buffer.from('héllo '),
    Buffer.of(0xf4, 0x90, 0x80, 0x80),
    Buffer.from(' world'),
  ]);
  it.each([0, 1, 6, 7, 8, 9, 10, 11, message.length - 1])(
    'fails with 1007 when the first fragment ends at byte %i',
    async (split) => {
      const { port, nextConnection } = await startHybiServer({ heartbeat: false }, addCleanup);
      const client = await RawClient.connect(port, addCleanup);
      await client.handshake(port);
      const serverClosed = closed(await nextConnection());
      client.socket.write(
        Buffer.concat([
          clientFrame(TEXT, message.subarray(0, split), { isFinal: false }),
          clientFrame(CONTINUATION, message.subarray(split)),
        ]),
      );
      expect(await client.closeCode()).toBe(1007);
      expect((await serverClosed).code).toBe(1007);
    },
  );
});

describe('close frames with invalid codes, over a socket (all 65,536 are in the unit tests)', () => {
  it.each([0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535])(
    'answers close code %i with 1002',
    async (code) => {
      const { port, nextConnection } = await startHybiServer({ heartbeat: false }, addCleanup);
      const client = await RawClient.connect(port, addCleanup);
      await client.handshake(port);
      const serverClosed = closed(await nextConnection());
      const body = Buffer.alloc(2);
      body.writeUInt16BE(code);
      client.socket.write(clientFrame(CLOSE, body));
      expect(await client.closeCode()).toBe(1002);
      expect((await serverClosed).code).toBe(1002);
    },
  );

  it('answers a one-byte close payload with 1002', async () => {
    const { port, nextConnection } = await startHybiServer({ heartbeat: false }, addCleanup);
    const client = await RawClient.connect(port, addCleanup);
    await client.handshake(port);
    const serverClosed = closed(await nextConnection());
    client.socket.write(clientFrame(CLOSE, Buffer.of(0x03)));
    expect(await client.closeCode()).toBe(1002);
    expect((await serverClosed).code).toBe(1002);
  });
});

describe('a 1 MiB request header', () => {
  /**
   * Streams a request whose one header is 1 MiB, 4 KiB per turn of the event loop, until the server
   * answers; resolves with the answer and how many bytes had been sent by then.
   */
  async function sendHugeHeader(port: number): Promise<{ response: string; bytesSent: number }> {
    const socket = net.connect(port, '127.0.0.1');
    addCleanup(() => {
      socket.destroy();
      return undefined;
    });
    socket.on('error', () => {}); // the server may reset what it refused to read
    await once(socket, 'connect');
    let response = '';
    socket.on('data', (chunk: Buffer) => {
      response += chunk.toString('latin1');
    });
    const start = Buffer.from(upgradeRequest(port).replace('\r\n\r\n', '\r\nX-Huge: '), 'latin1');
    socket.write(start);
    let bytesSent = start.length;
    const piece = Buffer.alloc(4096, 'a');
    while (response === '' && bytesSent < 1024 * 1024 && !socket.destroyed) {
      socket.write(piece);
      bytesSent += piece.length;
      await nextTurn();
    }
    if (!socket.destroyed) await once(socket, 'close');
    return { response, bytesSent };
  }

  it('gets 431 from acceptSocket as soon as the head passes 16 KiB', async () => {
    const failures: unknown[] = [];
    const settled: Promise<WebSocket | undefined>[] = [];
    const port = await startNetServer((socket) => {
      settled.push(
        acceptSocket(socket, { heartbeat: false }).catch((error: unknown) => {
          failures.push(error);
          return undefined;
        }),
      );
    }, addCleanup);
    const { response, bytesSent } = await sendHugeHeader(port);
    expect(response).toMatch(/^HTTP\/1\.1 431 /);
    await Promise.all(settled);
    expect(failures).toHaveLength(1);
    // Counted: the answer came while the client had sent a small part of its megabyte.
    expect(bytesSent).toBeLessThan(256 * 1024);
  });

  it("gets 431 from the node:http server a WebSocketServer creates (node:http's own limit, 16 KiB)", async () => {
    const { server, port } = await startHybiServer({ heartbeat: false }, addCleanup);
    let connections = 0;
    server.on('connection', () => connections++);
    const { response, bytesSent } = await sendHugeHeader(port);
    expect(response).toMatch(/^HTTP\/1\.1 431 /);
    expect(bytesSent).toBeLessThan(256 * 1024);
    expect(connections).toBe(0);
  });
});
