// Raw sockets: acceptSocket on a node:net server and acceptUpgrade on node:http, with clients that send
// their handshake and first frames in one write (none may be lost); and a client through a CONNECT proxy.

import { once } from 'node:events';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer as WsServer } from 'ws';
import {
  type AcceptOptions,
  acceptSocket,
  acceptUpgrade,
  connect,
  HandshakeError,
  type WebSocket,
  type WebSocketCloseEvent,
} from '../../src/index.js';
import { Connection } from '../../src/protocol/connection.js';
import { rawUpgradeRequest } from '../support/upgrade-request.js';

const cleanups: (() => Promise<unknown> | undefined)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function trackSocket<T extends net.Socket>(socket: T): T {
  cleanups.push(() => {
    socket.destroy();
    return undefined;
  });
  return socket;
}

function trackServer(server: net.Server | http.Server): void {
  cleanups.push(() => {
    if (server instanceof http.Server) server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  });
}

/** What acceptSocket / acceptUpgrade gave the server: the sockets, or the failures. */
function outcomes() {
  const accepted: WebSocket[] = [];
  const failures: unknown[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  const settled = (): number => accepted.length + failures.length;
  const wake = (): void => {
    for (const waiter of waiters.splice(0)) {
      if (settled() >= waiter.count) waiter.resolve();
      else waiters.push(waiter);
    }
  };
  return {
    accepted,
    failures,
    /** Resolves once `count` handshakes have settled, one way or the other. */
    settledCount(count = 1): Promise<void> {
      if (settled() >= count) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ count, resolve }));
    },
    settle(promise: Promise<WebSocket>) {
      promise.then(
        (socket) => {
          accepted.push(socket);
          wake();
        },
        (error: unknown) => {
          failures.push(error);
          wake();
        },
      );
    },
  };
}

async function startNetServer(options: AcceptOptions = {}) {
  const results = outcomes();
  const server = net.createServer((socket) => {
    trackSocket(socket);
    results.settle(acceptSocket(socket, options));
  });
  trackServer(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as AddressInfo).port, ...results };
}

function handshake(port: number, path = '/raw'): string {
  return rawUpgradeRequest(`127.0.0.1:${port}`, path);
}

/** The handshake and three frames (text, binary, ping), masked as a client must, in one buffer. */
function handshakeWithFrames(port: number): Buffer {
  const frames = new Connection({ role: 'client' });
  return Buffer.concat([
    Buffer.from(handshake(port), 'latin1'),
    ...frames.sendText('early text'),
    ...frames.sendBinary(new Uint8Array([1, 2, 3])),
    ...frames.sendPing('early ping'),
  ]);
}

/** Collects what the server socket receives, listening only after the socket was handed out. */
function collect(socket: WebSocket, count: number): Promise<unknown[]> {
  const received: unknown[] = [];
  return new Promise((resolve) => {
    const record = (event: Event): void => {
      received.push(`${event.type}:${String((event as MessageEvent).data)}`);
      if (received.length === count) resolve(received);
    };
    socket.addEventListener('message', record);
    socket.addEventListener('ping', record);
  });
}

async function readResponseHead(socket: net.Socket): Promise<string> {
  let text = '';
  while (!text.includes('\r\n\r\n')) text += ((await once(socket, 'data'))[0] as Buffer).toString('latin1');
  return text.slice(0, text.indexOf('\r\n\r\n'));
}

describe('acceptSocket on a node:net server', () => {
  it('keeps frames sent in the same write as the handshake', async () => {
    const server = await startNetServer();
    const client = trackSocket(net.connect(server.port, '127.0.0.1'));
    client.write(handshakeWithFrames(server.port));
    await server.settledCount();
    const socket = server.accepted[0]!;
    expect(socket.readyState).toBe(1);
    expect(socket.url).toBe(`ws://127.0.0.1:${server.port}/raw`);
    expect(await collect(socket, 3)).toEqual([
      'message:early text',
      'message:\u0001\u0002\u0003',
      'ping:early ping',
    ]);
    expect(await readResponseHead(client)).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
  });

  it('keeps them too while an async verifyRequest decides', async () => {
    const seen: string[] = [];
    const server = await startNetServer({
      verifyRequest: async (request) => {
        seen.push(`${request.method} ${request.url}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
        return true;
      },
    });
    const client = trackSocket(net.connect(server.port, '127.0.0.1'));
    client.write(handshakeWithFrames(server.port));
    await server.settledCount();
    expect(seen).toEqual(['GET /raw']);
    expect(await collect(server.accepted[0]!, 3)).toEqual([
      'message:early text',
      'message:\u0001\u0002\u0003',
      'ping:early ping',
    ]);
  });

  it('serves a hybi client: echo with for await, then the client closes', async () => {
    const server = await startNetServer();
    const client = await connect(`ws://127.0.0.1:${server.port}/echo`);
    cleanups.push(() => {
      client.close();
      return undefined;
    });
    await server.settledCount();
    const socket = server.accepted[0]!;
    const echoing = (async () => {
      for await (const message of socket) socket.send(message as string);
    })();
    client.send('round trip');
    expect((await once(client, 'message'))[0]).toHaveProperty('data', 'round trip');
    const serverClosed = once(socket, 'close');
    const clientClosed = once(client, 'close');
    client.close(4000, 'bye');
    const [serverEvent] = (await serverClosed) as [WebSocketCloseEvent];
    const [clientEvent] = (await clientClosed) as [WebSocketCloseEvent];
    await echoing;
    expect([serverEvent.code, serverEvent.reason, serverEvent.wasClean]).toEqual([4000, 'bye', true]);
    expect([clientEvent.code, clientEvent.wasClean]).toEqual([4000, true]);
  });

  it('answers a request that is not a WebSocket handshake with 400 and rejects', async () => {
    const server = await startNetServer();
    const client = trackSocket(net.connect(server.port, '127.0.0.1'));
    client.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n\r\n`);
    const head = await readResponseHead(client);
    await server.settledCount();
    expect(head).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(server.failures[0]).toBeInstanceOf(HandshakeError);
    expect((server.failures[0] as HandshakeError).status).toBe(400);
  });

  it('answers a refusal from verifyRequest with its status and headers', async () => {
    const server = await startNetServer({
      verifyRequest: () => ({ status: 401, headers: { 'WWW-Authenticate': 'Bearer' }, reason: 'token?' }),
    });
    const client = trackSocket(net.connect(server.port, '127.0.0.1'));
    client.write(handshakeWithFrames(server.port));
    const head = await readResponseHead(client);
    await server.settledCount();
    expect(head).toMatch(/^HTTP\/1\.1 401 Unauthorized\r\n/);
    expect(head).toMatch(/\r\nWWW-Authenticate: Bearer/);
    expect((server.failures[0] as HandshakeError).status).toBe(401);
    expect(server.accepted).toHaveLength(0);
  });
});

describe('acceptUpgrade on node:http', () => {
  it('keeps frames that arrived in the upgrade head', async () => {
    const results = outcomes();
    const heads: number[] = [];
    const server = http.createServer();
    server.on('upgrade', (request, socket, head) => {
      heads.push(head.length);
      results.settle(acceptUpgrade(request, socket, head));
    });
    trackServer(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    const client = trackSocket(net.connect(port, '127.0.0.1'));
    client.write(handshakeWithFrames(port));
    await results.settledCount();
    expect(heads[0]).toBeGreaterThan(0);
    expect(await collect(results.accepted[0]!, 3)).toEqual([
      'message:early text',
      'message:\u0001\u0002\u0003',
      'ping:early ping',
    ]);
  });
});

describe('client through an HTTP CONNECT proxy', () => {
  async function startProxy(refuseWith?: number) {
    const requestLines: string[] = [];
    const proxy = net.createServer((downstream) => {
      trackSocket(downstream);
      downstream.on('error', () => {});
      downstream.once('data', (head: Buffer) => {
        const lines = head.toString('latin1').split('\r\n');
        requestLines.push(lines[0]!);
        if (refuseWith !== undefined) {
          downstream.end(`HTTP/1.1 ${refuseWith} Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n`);
          return;
        }
        const [host, port] = lines[0]!.split(' ')[1]!.split(':');
        const upstream = trackSocket(net.connect(Number(port), host));
        upstream.on('error', () => downstream.destroy());
        upstream.once('connect', () => {
          downstream.write('HTTP/1.1 200 Connection Established\r\n\r\n');
          downstream.pipe(upstream).pipe(downstream);
        });
      });
    });
    trackServer(proxy);
    proxy.listen(0, '127.0.0.1');
    await once(proxy, 'listening');
    return { url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, requestLines };
  }

  it('tunnels to a ws server, exchanges messages and closes', async () => {
    const wsServer = new WsServer({ port: 0, host: '127.0.0.1' });
    cleanups.push(
      () =>
        new Promise((resolve) => {
          for (const peer of wsServer.clients) peer.terminate();
          wsServer.close(resolve);
        }),
    );
    await once(wsServer, 'listening');
    const serverCloses: Promise<[number, Buffer]>[] = [];
    wsServer.on('connection', (peer) => {
      serverCloses.push(once(peer, 'close') as Promise<[number, Buffer]>);
      peer.on('message', (data, isBinary) => peer.send(data, { binary: isBinary }));
    });
    const wsPort = (wsServer.address() as AddressInfo).port;
    const proxy = await startProxy();

    const socket = await connect(`ws://127.0.0.1:${wsPort}/through-proxy`, { proxy: proxy.url });
    expect(proxy.requestLines).toEqual([`CONNECT 127.0.0.1:${wsPort} HTTP/1.1`]);
    socket.send('via proxy');
    expect((await once(socket, 'message'))[0]).toHaveProperty('data', 'via proxy');
    socket.send(Buffer.alloc(200_000, 5));
    expect(((await once(socket, 'message'))[0] as MessageEvent).data).toEqual(Buffer.alloc(200_000, 5));
    const clientClosed = once(socket, 'close');
    socket.close(4000, 'proxied bye');
    const [clientEvent] = (await clientClosed) as [WebSocketCloseEvent];
    expect([clientEvent.code, clientEvent.wasClean]).toEqual([4000, true]);
    const [code, reason] = await serverCloses[0]!;
    expect([code, reason.toString()]).toEqual([4000, 'proxied bye']);
  });

  it('rejects with the status when the proxy refuses the tunnel', async () => {
    const proxy = await startProxy(407);
    const failure = (await connect('ws://127.0.0.1:9/', { proxy: proxy.url }).catch(
      (error: unknown) => error,
    )) as Error;
    expect(failure.message).toMatch(/refused the tunnel to 127\.0\.0\.1:9: 407/);
  });
});
