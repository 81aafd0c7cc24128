// Interop with `ws`: a ws client against hybi's WebSocketServer and hybi's connect() against a ws server,
// with and without permessage-deflate.

import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket as WsClient, WebSocketServer as WsServer } from 'ws';
import { connect, type WebSocket, type WebSocketCloseEvent, WebSocketServer } from '../../src/index.js';

const cleanups: (() => Promise<unknown> | undefined)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const SIXTEEN_MIB = 16 * 1024 * 1024;

/** A hybi server that echoes every message, and hands out each connection. */
async function startHybiServer(perMessageDeflate: boolean) {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate });
  cleanups.push(() => server.close());
  await once(server, 'listening');
  const connections: WebSocket[] = [];
  const nextConnection = () => once(server, 'connection').then(([socket]) => socket as WebSocket);
  server.on('connection', (socket) => {
    connections.push(socket);
    socket.addEventListener('message', (event) => {
      if (event.data !== 'no-echo') socket.send(event.data);
    });
  });
  const { port } = server.address() as AddressInfo;
  return { server, url: `ws://127.0.0.1:${port}/echo`, nextConnection };
}

/** A ws server that echoes every message. */
async function startWsServer(perMessageDeflate: boolean) {
  const server = new WsServer({ port: 0, host: '127.0.0.1', perMessageDeflate });
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const client of server.clients) client.terminate();
        server.close(() => resolve());
      }),
  );
  await once(server, 'listening');
  server.on('connection', (socket) => {
    socket.on('message', (data, isBinary) => {
      if (!(isBinary === false && data.toString() === 'no-echo')) socket.send(data, { binary: isBinary });
    });
  });
  const { port } = server.address() as AddressInfo;
  return { server, url: `ws://127.0.0.1:${port}/echo` };
}

async function openWsClient(url: string, perMessageDeflate: boolean): Promise<WsClient> {
  const client = new WsClient(url, { perMessageDeflate });
  cleanups.push(() => {
    client.terminate();
    return undefined;
  });
  await once(client, 'open');
  return client;
}

async function openHybiClient(url: string, perMessageDeflate: boolean): Promise<WebSocket> {
  const socket = await connect(url, { perMessageDeflate });
  cleanups.push(() => {
    if (socket.readyState === 3) return undefined;
    const closed = once(socket, 'close');
    socket.close();
    return closed;
  });
  return socket;
}

/** The next message a ws client receives, as [data, isBinary]. */
function nextWsMessage(client: WsClient): Promise<[Buffer, boolean]> {
  return new Promise((resolve) =>
    client.once('message', (data, isBinary) => resolve([data as Buffer, isBinary])),
  );
}

function nextMessage(socket: WebSocket): Promise<string | Buffer> {
  return once(socket, 'message').then(([event]) => (event as MessageEvent).data as string | Buffer);
}

function wsClosed(client: WsClient): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) =>
    client.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
}

function closed(socket: WebSocket): Promise<WebSocketCloseEvent> {
  return once(socket, 'close').then(([event]) => event as WebSocketCloseEvent);
}

for (const perMessageDeflate of [false, true]) {
  const mode = perMessageDeflate ? 'with permessage-deflate' : 'without permessage-deflate';

  describe(`ws client → hybi server, ${mode}`, () => {
    it('negotiates permessage-deflate exactly when both sides enable it', async () => {
      const { url, nextConnection } = await startHybiServer(perMessageDeflate);
      const accepted = nextConnection();
      const client = await openWsClient(url, true);
      const connection = await accepted;
      expect(client.extensions).toBe(perMessageDeflate ? 'permessage-deflate' : '');
      expect(connection.extensions).toBe(perMessageDeflate ? 'permessage-deflate' : '');
    });

    it('echoes text, binary, empty and 16 MiB messages unchanged', async () => {
      const { url } = await startHybiServer(perMessageDeflate);
      const client = await openWsClient(url, perMessageDeflate);

      client.send('héllo wörld ✓');
      expect(await nextWsMessage(client)).toEqual([Buffer.from('héllo wörld ✓'), false]);

      const binary = Buffer.from([0, 1, 2, 253, 254, 255]);
      client.send(binary);
      expect(await nextWsMessage(client)).toEqual([binary, true]);

      client.send('');
      expect(await nextWsMessage(client)).toEqual([Buffer.alloc(0), false]);
      client.send(Buffer.alloc(0));
      expect(await nextWsMessage(client)).toEqual([Buffer.alloc(0), true]);

      const large = Buffer.alloc(SIXTEEN_MIB);
      for (let index = 0; index < large.length; index += 4096) large[index] = index & 0xff;
      client.send(large);
      const [echo, isBinary] = await nextWsMessage(client);
      expect(isBinary).toBe(true);
      expect(echo.length).toBe(SIXTEEN_MIB);
      expect(echo.equals(large)).toBe(true);
    });

    it("answers ws's ping with a pong and reports it as a 'ping' event", async () => {
      const { url, nextConnection } = await startHybiServer(perMessageDeflate);
      const accepted = nextConnection();
      const client = await openWsClient(url, perMessageDeflate);
      const connection = await accepted;
      const pinged = once(connection, 'ping');
      const ponged = once(client, 'pong');
      client.ping(Buffer.from('are you there'));
      const [pingEvent] = (await pinged) as [MessageEvent];
      expect((pingEvent.data as Buffer).toString()).toBe('are you there');
      const [pongPayload] = (await ponged) as [Buffer];
      expect(pongPayload.toString()).toBe('are you there');
    });

    it('resolves ping() when ws answers with its pong', async () => {
      const { url, nextConnection } = await startHybiServer(perMessageDeflate);
      const accepted = nextConnection();
      const client = await openWsClient(url, perMessageDeflate);
      const connection = await accepted;
      const wsPinged = once(client, 'ping');
      expect(await connection.ping('heartbeat-1')).toBe(true);
      expect(((await wsPinged)[0] as Buffer).toString()).toBe('heartbeat-1');
    });

    it('reports the code and reason of a close ws starts', async () => {
      const { url, nextConnection } = await startHybiServer(perMessageDeflate);
      const accepted = nextConnection();
      const client = await openWsClient(url, perMessageDeflate);
      const connection = await accepted;
      const serverSaw = closed(connection);
      const clientSaw = wsClosed(client);
      client.close(4000, 'client says bye');
      const serverEvent = await serverSaw;
      expect([serverEvent.code, serverEvent.reason, serverEvent.wasClean]).toEqual([
        4000,
        'client says bye',
        true,
      ]);
      // hybi's reply echoes the code (RFC 6455 §5.5.1) and the reason, as ws itself does.
      expect(await clientSaw).toEqual({ code: 4000, reason: 'client says bye' });
    });

    it('sends its own close code and reason to ws', async () => {
      const { url, nextConnection } = await startHybiServer(perMessageDeflate);
      const accepted = nextConnection();
      const client = await openWsClient(url, perMessageDeflate);
      const connection = await accepted;
      const serverSaw = closed(connection);
      const clientSaw = wsClosed(client);
      connection.close(4001, 'server says bye');
      expect(connection.readyState).toBe(2);
      expect(await clientSaw).toEqual({ code: 4001, reason: 'server says bye' });
      const serverEvent = await serverSaw;
      expect([serverEvent.code, serverEvent.wasClean]).toEqual([4001, true]);
      expect(connection.readyState).toBe(3);
    });
  });

  describe(`hybi client → ws server, ${mode}`, () => {
    it('negotiates permessage-deflate when the ws server enables it', async () => {
      const { url } = await startWsServer(perMessageDeflate);
      const socket = await openHybiClient(url, true);
      expect(socket.extensions.startsWith('permessage-deflate')).toBe(perMessageDeflate);
    });

    it('echoes text, binary, empty and 16 MiB messages unchanged', async () => {
      const { url } = await startWsServer(perMessageDeflate);
      const socket = await openHybiClient(url, perMessageDeflate);

      socket.send('héllo wörld ✓');
      expect(await nextMessage(socket)).toBe('héllo wörld ✓');

      socket.send(new Uint8Array([9, 8, 7, 0, 255]));
      expect(await nextMessage(socket)).toEqual(Buffer.from([9, 8, 7, 0, 255]));

      socket.send('');
      expect(await nextMessage(socket)).toBe('');
      socket.send(new ArrayBuffer(0));
      expect(await nextMessage(socket)).toEqual(Buffer.alloc(0));

      const large = Buffer.alloc(SIXTEEN_MIB);
      for (let index = 0; index < large.length; index += 4096) large[index] = (index >> 12) & 0xff;
      socket.send(large);
      const echo = (await nextMessage(socket)) as Buffer;
      expect(echo.length).toBe(SIXTEEN_MIB);
      expect(echo.equals(large)).toBe(true);
    });

    it("answers ws's ping with a pong and reports it as a 'ping' event", async () => {
      const { server, url } = await startWsServer(perMessageDeflate);
      const serverSide = once(server, 'connection');
      const socket = await openHybiClient(url, perMessageDeflate);
      const [peer] = (await serverSide) as [WsClient];
      const pinged = once(socket, 'ping');
      const ponged = once(peer, 'pong');
      peer.ping('from ws');
      expect((((await pinged)[0] as MessageEvent).data as Buffer).toString()).toBe('from ws');
      expect(((await ponged)[0] as Buffer).toString()).toBe('from ws');
    });

    it('resolves ping() when ws answers with its pong', async () => {
      const { server, url } = await startWsServer(perMessageDeflate);
      const serverSide = once(server, 'connection');
      const socket = await openHybiClient(url, perMessageDeflate);
      const [peer] = (await serverSide) as [WsClient];
      const wsPinged = once(peer, 'ping');
      const pongEvent = once(socket, 'pong');
      expect(await socket.ping(new Uint8Array([1, 2, 3]))).toBe(true);
      expect((await wsPinged)[0]).toEqual(Buffer.from([1, 2, 3]));
      expect(((await pongEvent)[0] as MessageEvent).data).toEqual(Buffer.from([1, 2, 3]));
    });

    it('sends its close code and reason, and the ws server echoes the code', async () => {
      const { server, url } = await startWsServer(perMessageDeflate);
      const serverSide = once(server, 'connection');
      const socket = await openHybiClient(url, perMessageDeflate);
      const [peer] = (await serverSide) as [WsClient];
      const serverSaw = wsClosed(peer);
      const clientSaw = closed(socket);
      socket.close(4002, 'client done');
      expect(await serverSaw).toEqual({ code: 4002, reason: 'client done' });
      const event = await clientSaw;
      expect([event.code, event.wasClean]).toEqual([4002, true]);
    });

    it("reports the ws server's close code and reason", async () => {
      const { server, url } = await startWsServer(perMessageDeflate);
      const serverSide = once(server, 'connection');
      const socket = await openHybiClient(url, perMessageDeflate);
      const [peer] = (await serverSide) as [WsClient];
      const serverSaw = wsClosed(peer);
      const clientSaw = closed(socket);
      peer.close(1001, 'server going away');
      const event = await clientSaw;
      expect([event.code, event.reason, event.wasClean]).toEqual([1001, 'server going away', true]);
      expect((await serverSaw).code).toBe(1001);
    });
  });
}
