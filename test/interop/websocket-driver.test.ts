// Interop with faye's websocket-driver and permessage-deflate: their client against hybi's server, hybi's
// client against their server, and faye's deflate extension plugged into hybi drivers talking to ws.

import { once } from 'node:events';
import http from 'node:http';
import { createRequire } from 'node:module';
import net, { type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket as WsClient, WebSocketServer as WsServer } from 'ws';
import {
  connect,
  type Extension,
  client as hybiClient,
  http as hybiHttp,
  linkSocket,
  type WebSocket,
  type WebSocketCloseEvent,
  WebSocketServer,
} from '../../src/index.js';

/** The part of websocket-driver's API these tests use (the package ships no types). */
interface FayeDriver {
  readonly io: Duplex;
  readonly messages: NodeJS.ReadWriteStream;
  addExtension(extension: unknown): boolean;
  start(): boolean;
  text(message: string): boolean;
  binary(message: Buffer): boolean;
  ping(message: string, callback?: () => void): boolean;
  close(reason?: string, code?: number): boolean;
  on(event: 'open', listener: () => void): this;
  on(event: 'message', listener: (event: { data: string | Buffer }) => void): this;
  on(event: 'close', listener: (event: { code: number; reason: string }) => void): this;
  on(event: 'ping' | 'error', listener: (event: unknown) => void): this;
}
interface FayeModule {
  client(url: string, options?: object): FayeDriver;
  http(request: http.IncomingMessage, options?: object): FayeDriver;
}

const require = createRequire(import.meta.url);
const faye = require('websocket-driver') as FayeModule;
const fayeDeflate = require('permessage-deflate') as Extension;

const cleanups: (() => Promise<unknown> | undefined)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function track(socket: net.Socket): net.Socket {
  cleanups.push(() => {
    socket.destroy();
    return undefined;
  });
  return socket;
}

async function startHybiEchoServer(perMessageDeflate: boolean) {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate });
  cleanups.push(() => server.close());
  await once(server, 'listening');
  server.on('connection', (socket) => {
    socket.addEventListener('message', (event) => socket.send(event.data));
  });
  const { port } = server.address() as AddressInfo;
  return { server, port };
}

/** A node:http server whose upgrades websocket-driver handles, echoing every message. */
async function startFayeEchoServer(withDeflate: boolean) {
  const server = http.createServer();
  const sockets = new Set<Duplex>();
  const closes: { code: number; reason: string }[] = [];
  server.on('upgrade', (request, socket, head) => {
    sockets.add(socket);
    const driver = faye.http(request);
    if (withDeflate) driver.addExtension(fayeDeflate);
    driver.io.write(head);
    socket.pipe(driver.io).pipe(socket);
    driver.messages.pipe(driver.messages);
    driver.on('close', (event) => {
      closes.push({ code: event.code, reason: event.reason });
      socket.end();
    });
    driver.start();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => {
    for (const socket of sockets) socket.destroy();
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  });
  const { port } = server.address() as AddressInfo;
  return { port, closes };
}

/** websocket-driver's client over a node:net socket. */
async function openFayeClient(port: number, withDeflate: boolean) {
  const socket = track(net.connect(port, '127.0.0.1'));
  const driver = faye.client(`ws://127.0.0.1:${port}/faye`);
  if (withDeflate) driver.addExtension(fayeDeflate);
  socket.pipe(driver.io).pipe(socket);
  const messages: (string | Buffer)[] = [];
  let onMessage: (() => void) | undefined;
  driver.on('message', (event) => {
    messages.push(event.data);
    onMessage?.();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    driver.on('close', (event) => {
      socket.end();
      resolve({ code: event.code, reason: event.reason });
    }),
  );
  const opened = new Promise<void>((resolve) => driver.on('open', resolve));
  driver.start();
  await opened;
  const nextMessage = (): Promise<string | Buffer> =>
    new Promise((resolve) => {
      if (messages.length > 0) {
        resolve(messages.shift()!);
        return;
      }
      onMessage = () => {
        onMessage = undefined;
        resolve(messages.shift()!);
      };
    });
  return { driver, socket, nextMessage, closed };
}

function nextMessage(socket: WebSocket): Promise<string | Buffer> {
  return once(socket, 'message').then(([event]) => (event as MessageEvent).data as string | Buffer);
}

function closed(socket: WebSocket): Promise<WebSocketCloseEvent> {
  return once(socket, 'close').then(([event]) => event as WebSocketCloseEvent);
}

const compressible = Buffer.from('websocket-driver interop '.repeat(4000));

for (const withDeflate of [false, true]) {
  const mode = withDeflate ? "with faye's permessage-deflate" : 'without extensions';

  describe(`websocket-driver client → hybi server, ${mode}`, () => {
    it('exchanges text and binary messages and closes with the client code', async () => {
      const { server, port } = await startHybiEchoServer(withDeflate);
      const accepted = once(server, 'connection');
      const fayeClient = await openFayeClient(port, withDeflate);
      const [connection] = (await accepted) as [WebSocket];
      expect(connection.extensions).toBe(withDeflate ? 'permessage-deflate' : '');

      fayeClient.driver.text('grüße');
      expect(await fayeClient.nextMessage()).toBe('grüße');
      fayeClient.driver.binary(compressible);
      expect(await fayeClient.nextMessage()).toEqual(compressible);
      fayeClient.driver.text('');
      expect(await fayeClient.nextMessage()).toBe('');

      const serverSaw = closed(connection);
      fayeClient.driver.close('faye leaves', 4100);
      const event = await serverSaw;
      expect([event.code, event.reason, event.wasClean]).toEqual([4100, 'faye leaves', true]);
      expect((await fayeClient.closed).code).toBe(4100);
    });

    it('reports the close code and reason hybi sends', async () => {
      const { server, port } = await startHybiEchoServer(withDeflate);
      const accepted = once(server, 'connection');
      const fayeClient = await openFayeClient(port, withDeflate);
      const [connection] = (await accepted) as [WebSocket];
      const serverSaw = closed(connection);
      connection.close(4200, 'hybi leaves');
      expect(await fayeClient.closed).toEqual({ code: 4200, reason: 'hybi leaves' });
      const event = await serverSaw;
      expect([event.code, event.wasClean]).toEqual([4200, true]);
    });
  });

  describe(`hybi client → websocket-driver server, ${mode}`, () => {
    it('exchanges text and binary messages and closes with the hybi code', async () => {
      const { port, closes } = await startFayeEchoServer(withDeflate);
      const socket = await connect(`ws://127.0.0.1:${port}/hybi`);
      cleanups.push(() => {
        socket.close();
        return undefined;
      });
      expect(socket.extensions.startsWith('permessage-deflate')).toBe(withDeflate);

      socket.send('grüße');
      expect(await nextMessage(socket)).toBe('grüße');
      socket.send(compressible);
      expect(await nextMessage(socket)).toEqual(compressible);
      socket.send(new Uint8Array(0));
      expect(await nextMessage(socket)).toEqual(Buffer.alloc(0));

      const clientSaw = closed(socket);
      socket.close(4300, 'hybi done');
      const event = await clientSaw;
      expect([event.code, event.wasClean]).toEqual([4300, true]);
      expect(closes).toEqual([{ code: 4300, reason: 'hybi done' }]);
    });
  });
}

describe('hybi driver API against websocket-driver', () => {
  it("calls ping's callback when websocket-driver's pong arrives", async () => {
    const { port } = await startFayeEchoServer(false);
    const driver = hybiClient(`ws://127.0.0.1:${port}/ping`);
    const socket = track(net.connect(port, '127.0.0.1'));
    const link = linkSocket(driver, socket);
    const opened = once(driver, 'open');
    driver.start();
    await opened;
    const answered = new Promise<void>((resolve) => driver.ping('driver ping', resolve));
    const pong = once(driver, 'pong');
    await answered;
    expect(((await pong)[0] as { data: string }).data).toBe('driver ping');
    const linkClosed = once(link, 'close');
    driver.close('bye', 1000);
    expect((await linkClosed)[0]).toEqual({ code: 1000, reason: 'bye', wasClean: true }); // faye echoes the reason
  });
});

describe("faye's permessage-deflate on hybi drivers, against ws", () => {
  it('compresses a hybi client driver talking to a ws server with perMessageDeflate', async () => {
    const server = new WsServer({ port: 0, host: '127.0.0.1', perMessageDeflate: { threshold: 0 } });
    cleanups.push(
      () =>
        new Promise((resolve) => {
          for (const client of server.clients) client.terminate();
          server.close(resolve);
        }),
    );
    await once(server, 'listening');
    const received: [Buffer, boolean][] = [];
    server.on('connection', (peer) => {
      peer.on('message', (data, isBinary) => {
        received.push([data as Buffer, isBinary]);
        peer.send(data, { binary: isBinary });
      });
    });
    const { port } = server.address() as AddressInfo;

    const driver = hybiClient(`ws://127.0.0.1:${port}/`);
    expect(driver.addExtension(fayeDeflate)).toBe(true);
    const socket = track(net.connect(port, '127.0.0.1'));
    const link = linkSocket(driver, socket);
    const opened = once(driver, 'open');
    driver.start();
    await opened;
    expect(driver.negotiatedExtensions).toEqual(['permessage-deflate']);
    expect(String(driver.headers['sec-websocket-extensions'])).toMatch(/^permessage-deflate/);

    // Fewer bytes go out than the message has: the extension really compressed it.
    let bytesWritten = 0;
    driver.io.on('data', (chunk: Buffer) => {
      bytesWritten += chunk.length;
    });
    const echoed = new Promise<string | Buffer>((resolve) =>
      driver.once('message', (event) => resolve(event.data)),
    );
    driver.text(compressible.toString());
    expect(await echoed).toBe(compressible.toString());
    expect(bytesWritten).toBeLessThan(compressible.length / 10);
    const binaryEcho = new Promise<string | Buffer>((resolve) =>
      driver.once('message', (event) => resolve(event.data)),
    );
    driver.binary(compressible);
    expect(await binaryEcho).toEqual(compressible);
    expect(received.map(([data, isBinary]) => [data.length, isBinary])).toEqual([
      [compressible.length, false],
      [compressible.length, true],
    ]);

    const linkClosed = once(link, 'close');
    driver.close('done', 4000);
    expect((await linkClosed)[0]).toEqual({ code: 4000, reason: 'done', wasClean: true });
  });

  it('decompresses for a hybi http() driver serving a ws client with perMessageDeflate', async () => {
    const server = http.createServer();
    let onServerClose: (event: unknown) => void = () => {};
    const serverClosed = new Promise((resolve) => {
      onServerClose = resolve;
    });
    server.on('upgrade', (request, socket, head) => {
      const driver = hybiHttp(request as Parameters<typeof hybiHttp>[0]);
      driver.addExtension(fayeDeflate);
      const link = linkSocket(driver, socket, { head });
      link.on('close', onServerClose);
      driver.messages.pipe(driver.messages);
      driver.start();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(() => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    });
    const { port } = server.address() as AddressInfo;

    const client = new WsClient(`ws://127.0.0.1:${port}/`, { perMessageDeflate: { threshold: 0 } });
    cleanups.push(() => {
      client.terminate();
      return undefined;
    });
    await once(client, 'open');
    expect(client.extensions).toMatch(/^permessage-deflate/);
    client.send(compressible.toString());
    const [text, isBinary] = (await once(client, 'message')) as [Buffer, boolean];
    expect([text.toString(), isBinary]).toEqual([compressible.toString(), false]);
    client.send(compressible);
    const [binary] = (await once(client, 'message')) as [Buffer];
    expect(binary).toEqual(compressible);

    const clientClosed = once(client, 'close');
    client.close(4001, 'ws done');
    const [code, reason] = (await clientClosed) as [number, Buffer];
    // hybi's reply echoes the code and the reason, as websocket-driver and ws do.
    expect([code, reason.toString()]).toEqual([4001, 'ws done']);
    expect(await serverClosed).toEqual({ code: 4001, reason: 'ws done', wasClean: true });
  });
});
