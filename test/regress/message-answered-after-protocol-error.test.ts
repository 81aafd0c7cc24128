// Owns the regression for Autobahn 3.2, 3.3, 4.1.3, 4.1.4, 4.2.3, 4.2.4 and 5.15 (hybi's client was
// NON-STRICT): a valid message followed, in the same TCP chunk, by a frame that breaks the protocol must be
// delivered while the connection is still OPEN, and the application's reply must precede the close frame.

import { once } from 'node:events';
import http2 from 'node:http2';
import net, { type AddressInfo } from 'node:net';
import { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { Driver } from '../../src/driver/driver.js';
import { client, http, SocketLink, WebSocket, WebSocketServer } from '../../src/index.js';
import { Connection, type ConnectionEvent, type Role } from '../../src/protocol/connection.js';
import { computeAcceptKey } from '../../src/protocol/handshake.js';
import { rawUpgradeRequest, UPGRADE_KEY, upgradeRequest } from '../support/upgrade-request.js';

// Found by the real Autobahn|Testsuite: the WebSocket held the events of the 101's chunk for one turn (so
// that connect()'s awaiter could add listeners) while the driver read on, met the RSV2 frame, failed the
// connection and wrote its close frame; the held message was then dispatched with readyState 2 and its echo
// went nowhere. Fixed: the WebSocket's holds (its first turn, an iterator's loop) stop the driver acting on
// events, and the driver reads no further while a reply is being compressed.

/** A text frame "hello" (FIN, opcode 1), then a frame with RSV2 set, which nothing negotiated: 1002. */
const UNMASKED_FRAMES = Buffer.from('810568656c6c6fa103626164', 'hex');
const MASK = Buffer.from([0x11, 0x22, 0x33, 0x44]);

function masked(firstByte: number, payload: string): Buffer {
  const bytes = Buffer.from(payload, 'latin1');
  const out = Buffer.alloc(6 + bytes.length);
  out[0] = firstByte;
  out[1] = 0x80 | bytes.length;
  MASK.copy(out, 2);
  for (let index = 0; index < bytes.length; index++) out[6 + index] = bytes[index]! ^ MASK[index % 4]!;
  return out;
}
/** The same two frames as a client sends them (masked, RFC 6455 §5.3). */
const MASKED_FRAMES = Buffer.concat([masked(0x81, 'hello'), masked(0xa1, 'bad')]);

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** What the peer of `role` reads from our bytes: frame types in order, 'hello' (maybe compressed) and the close code. */
function framesOnTheWire(written: readonly Buffer[], ourRole: Role, isDeflate: boolean): string[] {
  const reader = new Connection({ role: ourRole === 'client' ? 'server' : 'client' });
  if (isDeflate) reader.configureExtensions(0x40);
  return reader
    .receive(Buffer.concat(written))
    .filter((event) => event.type !== 'write')
    .map((event: ConnectionEvent) => {
      if (event.type === 'text') return `text:${event.data}`;
      if (event.type === 'extension-message') return 'compressed';
      if (event.type === 'close') return `close:${event.code}`;
      return event.type;
    });
}

function expectedWire(isDeflate: boolean): string[] {
  // The echo of 'hello' first (compressed when permessage-deflate is on), then our close with 1002.
  return [isDeflate ? 'compressed' : 'text:hello', 'close:1002'];
}

/** Every way to cut the bytes into two chunks, and the whole as one chunk. */
function splitsOf(bytes: Buffer): Buffer[][] {
  const splits: Buffer[][] = [[bytes]];
  for (let at = 1; at < bytes.length; at++) splits.push([bytes.subarray(0, at), bytes.subarray(at)]);
  return splits;
}

/** A socket in memory: the test pushes what arrives, one 'data' event per chunk, and sees what is written. */
class Wire extends Duplex {
  readonly written: Buffer[] = [];
  constructor() {
    super();
    // A peer that ends TCP once ours ended, so the link does not wait for its close timeout.
    this.once('finish', () => this.push(null));
  }
  override _read(): void {}
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.written.push(Buffer.from(chunk));
    this.emit('written');
    callback();
  }
  /** Resolves once something was written (a link corks what the driver writes until the next tick). */
  async hasWritten(): Promise<void> {
    if (this.written.length === 0) await once(this, 'written');
  }
}

/** SocketLink does not say it is a client's; the WebSocket must then start CONNECTING and fire 'open'. */
class ClientSocketLink extends SocketLink {
  readonly isClientSide = true;
}

type Face = 'onmessage' | 'iterator' | 'driver';

/**
 * Installs the echoing application on `face` and records the readyState seen when the message came.
 * Resolves when the connection has closed.
 */
function echo(face: Face, target: WebSocket | Driver, states: number[]): Promise<unknown> {
  if (face === 'driver') {
    const driver = target as Driver;
    driver.on('message', (event) => {
      states.push(driver.readyState);
      driver.text(event.data as string);
    });
    // Not once(): it would reject on the driver's 'error' (the 1002 failure), which is expected here.
    return new Promise((resolve) => driver.once('close', resolve));
  }
  const socket = target as WebSocket;
  const closed = once(socket, 'close');
  if (face === 'onmessage') {
    socket.onmessage = (event) => {
      states.push(socket.readyState);
      socket.send(event.data as string);
    };
    return closed;
  }
  const looped = (async () => {
    for await (const message of socket) {
      states.push(socket.readyState);
      socket.send(message as string);
    }
  })();
  return Promise.all([closed, looped]);
}

const faces: Face[] = ['onmessage', 'iterator', 'driver'];

describe.each(faces)('a message and a protocol error in the same bytes, on the %s face', (face) => {
  describe.each([false, true])('with permessage-deflate %s', (isDeflate) => {
    it.each(splitsOf(UNMASKED_FRAMES).map((chunks) => [chunks.map((c) => c.length).join('+'), chunks]))(
      'a client answers the message before its 1002 close, in chunks of %s bytes',
      async (_name, chunks) => {
        const wire = new Wire();
        const driver = client('ws://example.com/', { perMessageDeflate: isDeflate });
        const states: number[] = [];
        let done: Promise<unknown>;
        if (face === 'driver') {
          driver.io.on('data', (chunk: Buffer) => wire.write(chunk));
          done = echo(face, driver, states);
          driver.start();
        } else {
          const socket = new WebSocket(new ClientSocketLink(driver, wire));
          done = echo(face, socket, states);
          driver.start();
        }
        await wire.hasWritten();
        const request = Buffer.concat(wire.written).toString('latin1');
        const key = /sec-websocket-key: ([^\r]+)/i.exec(request)?.[1] ?? '';
        wire.written.length = 0;
        const response = Buffer.from(
          'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            `Sec-WebSocket-Accept: ${computeAcceptKey(key)}\r\n` +
            (isDeflate ? 'Sec-WebSocket-Extensions: permessage-deflate\r\n' : '') +
            '\r\n',
          'latin1',
        );
        // The 101 comes with the first chunk, as a server writing everything at once sends it.
        const inbound = [Buffer.concat([response, chunks[0]!]), ...chunks.slice(1)];
        for (const chunk of inbound) {
          if (face === 'driver') driver.io.write(chunk);
          else wire.push(chunk);
        }
        await done;
        expect(states).toEqual([1]);
        expect(framesOnTheWire(wire.written, 'client', isDeflate)).toEqual(expectedWire(isDeflate));
      },
    );

    it.each(splitsOf(MASKED_FRAMES).map((chunks) => [chunks.map((c) => c.length).join('+'), chunks]))(
      'a server answers the message before its 1002 close, in chunks of %s bytes',
      async (_name, chunks) => {
        const wire = new Wire();
        const driver = http(
          upgradeRequest(isDeflate ? { 'sec-websocket-extensions': 'permessage-deflate' } : {}),
          { perMessageDeflate: isDeflate },
        );
        const states: number[] = [];
        let done: Promise<unknown>;
        if (face === 'driver') {
          driver.io.on('data', (chunk: Buffer) => wire.write(chunk));
          done = echo(face, driver, states);
          driver.start();
        } else {
          const link = new SocketLink(driver, wire);
          driver.start();
          done = echo(face, new WebSocket(link), states);
        }
        await wire.hasWritten();
        const response = Buffer.concat(wire.written).toString('latin1');
        expect(response).toContain(`Sec-WebSocket-Accept: ${computeAcceptKey(UPGRADE_KEY)}`);
        wire.written.length = 0;
        // Copies: the driver unmasks payloads in place, and the cases share these bytes.
        for (const chunk of chunks.map((part) => Buffer.from(part))) {
          if (face === 'driver') driver.io.write(chunk);
          else wire.push(chunk);
        }
        await done;
        expect(states).toEqual([1]);
        expect(framesOnTheWire(wire.written, 'server', isDeflate)).toEqual(expectedWire(isDeflate));
      },
    );
  });
});

/** Collects what a real socket receives until it closes. */
function collect(stream: NodeJS.ReadableStream): { received: Buffer[]; ended: Promise<void> } {
  const received: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => received.push(chunk));
  const ended = new Promise<void>((resolve) => stream.once('close', () => resolve()));
  return { received, ended };
}

describe.each(['onmessage', 'iterator'] as const)('over real sockets, on the %s face', (face) => {
  describe.each([false, true])('with permessage-deflate %s', (isDeflate) => {
    it('a client over HTTP/1.1 answers before its 1002 close when the 101 and both frames come in one write', async () => {
      let peer: { received: Buffer[]; ended: Promise<void> } | undefined;
      const server = net.createServer((socket) => {
        let head = '';
        const onHead = (chunk: Buffer) => {
          head += chunk.toString('latin1');
          if (!head.includes('\r\n\r\n')) return;
          socket.off('data', onHead);
          const key = /sec-websocket-key: ([^\r]+)/i.exec(head)?.[1] ?? '';
          peer = collect(socket);
          socket.write(
            Buffer.concat([
              Buffer.from(
                'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
                  `Sec-WebSocket-Accept: ${computeAcceptKey(key)}\r\n` +
                  (isDeflate ? 'Sec-WebSocket-Extensions: permessage-deflate\r\n' : '') +
                  '\r\n',
                'latin1',
              ),
              UNMASKED_FRAMES,
            ]),
          );
          // Our side is done: the client's close and its TCP end come next.
          socket.on('end', () => socket.end());
        };
        socket.on('data', onHead);
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      cleanups.push(() => new Promise((resolve) => server.close(resolve)));
      const port = (server.address() as AddressInfo).port;
      const socket = new WebSocket(`ws://127.0.0.1:${port}/`, [], { perMessageDeflate: isDeflate });
      const states: number[] = [];
      await echo(face, socket, states);
      await peer?.ended;
      expect(states).toEqual([1]);
      expect(framesOnTheWire(peer?.received ?? [], 'client', isDeflate)).toEqual(expectedWire(isDeflate));
    });

    it('a server over HTTP/1.1 answers before its 1002 close when the request and both frames come in one write', async () => {
      const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: isDeflate });
      await once(wss, 'listening');
      cleanups.push(() => wss.close());
      const states: number[] = [];
      const handled = new Promise<unknown>((resolve) => {
        wss.on('connection', (socket) => resolve(echo(face, socket, states)));
      });
      const port = (wss.address() as AddressInfo).port;
      const socket = net.connect(port, '127.0.0.1');
      cleanups.push(() => socket.destroy());
      await once(socket, 'connect');
      const peer = collect(socket);
      socket.on('end', () => socket.end());
      const request = rawUpgradeRequest(
        `127.0.0.1:${port}`,
        '/',
        isDeflate ? { 'Sec-WebSocket-Extensions': 'permessage-deflate' } : {},
      );
      socket.write(Buffer.concat([Buffer.from(request, 'latin1'), MASKED_FRAMES]));
      await handled;
      await peer.ended;
      const bytes = Buffer.concat(peer.received);
      const headEnd = bytes.indexOf('\r\n\r\n') + 4;
      expect(bytes.subarray(0, 12).toString('latin1')).toBe('HTTP/1.1 101');
      expect(states).toEqual([1]);
      expect(framesOnTheWire([bytes.subarray(headEnd)], 'server', isDeflate)).toEqual(
        expectedWire(isDeflate),
      );
    });

    it('a client over HTTP/2 (h2c) answers before its 1002 close when the 200 and both frames come in one write', async () => {
      const server = http2.createServer({ settings: { enableConnectProtocol: true } });
      const sessions = new Set<http2.ServerHttp2Session>();
      server.on('session', (session) => sessions.add(session));
      let peer: { received: Buffer[]; ended: Promise<void> } | undefined;
      server.on('stream', (stream) => {
        peer = collect(stream);
        stream.respond(
          {
            ':status': 200,
            ...(isDeflate ? { 'sec-websocket-extensions': 'permessage-deflate' } : {}),
          },
          { waitForTrailers: false },
        );
        stream.write(UNMASKED_FRAMES);
        stream.on('end', () => stream.end());
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      cleanups.push(async () => {
        for (const session of sessions) session.destroy();
        await new Promise((resolve) => server.close(resolve));
      });
      const port = (server.address() as AddressInfo).port;
      const socket = new WebSocket(`ws://127.0.0.1:${port}/`, [], {
        perMessageDeflate: isDeflate,
        http2: 'require',
      });
      const states: number[] = [];
      await echo(face, socket, states);
      await peer?.ended;
      expect(socket.httpProtocol).toBe('h2c');
      expect(states).toEqual([1]);
      expect(framesOnTheWire(peer?.received ?? [], 'client', isDeflate)).toEqual(expectedWire(isDeflate));
    });

    it('a server over HTTP/2 (h2c) answers before its 1002 close when both frames come in one write', async () => {
      const server = http2.createServer();
      const wss = new WebSocketServer({ server, perMessageDeflate: isDeflate });
      const states: number[] = [];
      const handled = new Promise<unknown>((resolve) => {
        wss.on('connection', (socket) => resolve(echo(face, socket, states)));
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const port = (server.address() as AddressInfo).port;
      const session = http2.connect(`http://127.0.0.1:${port}`);
      cleanups.push(async () => {
        session.destroy();
        await wss.close();
        await new Promise((resolve) => server.close(resolve));
      });
      await once(session, 'remoteSettings');
      const stream = session.request(
        {
          ':method': 'CONNECT',
          ':protocol': 'websocket',
          ':scheme': 'http',
          ':path': '/',
          ':authority': `127.0.0.1:${port}`,
          'sec-websocket-version': '13',
          ...(isDeflate ? { 'sec-websocket-extensions': 'permessage-deflate' } : {}),
        },
        { endStream: false },
      );
      const peer = collect(stream);
      const [headers] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders];
      expect(headers[':status']).toBe(200);
      stream.write(Buffer.from(MASKED_FRAMES));
      stream.on('end', () => stream.end());
      await handled;
      await peer.ended;
      expect(states).toEqual([1]);
      expect(framesOnTheWire(peer.received, 'server', isDeflate)).toEqual(expectedWire(isDeflate));
    });
  });
});
