// The security hooks: the Origin allow-list, verifyRequest refusals with their headers, CR/LF in every
// header an application can set (no response or request splitting), and graceful shutdown.

import { once } from 'node:events';
import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  acceptSocket,
  acceptUpgrade,
  connect,
  HandshakeError,
  server as rawServerDriver,
  shutdown,
  type WebSocket,
  type WebSocketCloseEvent,
  WebSocketServer,
} from '../../src/index.js';
import { closed, deferred, RawClient, startHybiServer, startNetServer, useCleanups } from './support.js';

const addCleanup = useCleanups();

const SPLITTING_VALUE = 'fine\r\nSet-Cookie: session=stolen';

function track(socket: WebSocket): WebSocket {
  addCleanup(() => {
    if (socket.readyState === 3) return undefined;
    const isClosed = closed(socket);
    socket.close();
    return isClosed;
  });
  return socket;
}

async function statusOf(promise: Promise<unknown>): Promise<number | string> {
  try {
    await promise;
    return 'open';
  } catch (error) {
    return error instanceof HandshakeError ? error.status : String(error);
  }
}

describe('the Origin allow-list', () => {
  it('accepts a listed origin, compared after normalization, and refuses others with 403 before verifyRequest', async () => {
    const verified: unknown[] = [];
    const { url } = await startHybiServer(
      {
        origins: ['https://app.example.com', 'http://localhost:3000/'],
        verifyRequest: (request) => {
          verified.push(request.headers.origin);
          return true;
        },
      },
      addCleanup,
    );
    const socket = track(await connect(url, { origin: 'HTTPS://App.Example.COM:443' }));
    expect(socket.readyState).toBe(1);
    track(await connect(url, { origin: 'http://localhost:3000' }));
    expect(await statusOf(connect(url, { origin: 'https://evil.example' }))).toBe(403);
    expect(await statusOf(connect(url, { origin: 'https://app.example.com:8443' }))).toBe(403);
    expect(await statusOf(connect(url, { origin: 'null' }))).toBe(403);
    expect(await statusOf(connect(url))).toBe(403);
    expect(verified).toEqual(['HTTPS://App.Example.COM:443', 'http://localhost:3000']);
  });

  it('refuses an unlisted origin on acceptSocket too', async () => {
    const outcomes: Promise<unknown>[] = [];
    const port = await startNetServer((socket) => {
      outcomes.push(
        acceptSocket(socket, { origins: ['https://app.example.com'] }).then(
          (webSocket) => track(webSocket).readyState,
          (error: unknown) => (error as HandshakeError).status,
        ),
      );
    }, addCleanup);
    const client = await RawClient.connect(port, addCleanup);
    expect(await client.handshake(port, { Origin: 'https://evil.example' })).toMatch(/^HTTP\/1\.1 403 /);
    track(await connect(`ws://127.0.0.1:${port}/`, { origin: 'https://app.example.com' }));
    expect(await Promise.all(outcomes)).toEqual([403, 1]);
  });

  it('throws TypeError at construction for an entry that is not an origin', () => {
    expect(() => new WebSocketServer({ noServer: true, origins: ['null'] })).toThrow(TypeError);
    expect(() => new WebSocketServer({ noServer: true, origins: ['app.example.com'] })).toThrow(TypeError);
  });
});

describe('verifyRequest', () => {
  it('refuses with 401 and the headers it gives (WWW-Authenticate)', async () => {
    const { port } = await startHybiServer(
      {
        verifyRequest: (request) =>
          request.headers.authorization === 'Bearer good'
            ? true
            : { status: 401, headers: { 'WWW-Authenticate': 'Bearer realm="chat"' } },
      },
      addCleanup,
    );
    const client = await RawClient.connect(port, addCleanup);
    const head = await client.handshake(port, { Authorization: 'Bearer bad' });
    expect(head).toMatch(/^HTTP\/1\.1 401 Unauthorized\r\n/);
    expect(head).toContain('\r\nWWW-Authenticate: Bearer realm="chat"');
    track(await connect(`ws://127.0.0.1:${port}/`, { headers: { Authorization: 'Bearer good' } }));
  });
});

describe('CR and LF in headers the application sets', () => {
  it('driver.setHeader throws TypeError', () => {
    const driver = rawServerDriver();
    expect(() => driver.setHeader('X-Trace', SPLITTING_VALUE)).toThrow(TypeError);
    expect(() => driver.setHeader('X Trace', 'fine')).toThrow(TypeError);
    expect(driver.setHeader('X-Trace', 'fine')).toBe(true);
  });

  it('WebSocketServer `headers`: refused at construction; safe ones reach the 101', async () => {
    expect(
      () => new WebSocketServer({ noServer: true, headers: { 'X-Served-By': SPLITTING_VALUE } }),
    ).toThrow(TypeError);
    expect(() => new WebSocketServer({ noServer: true, headers: { 'X-Served:By': 'hybi' } })).toThrow(
      TypeError,
    );
    const { port } = await startHybiServer({ headers: { 'X-Served-By': 'hybi' } }, addCleanup);
    const client = await RawClient.connect(port, addCleanup);
    const head = await client.handshake(port);
    expect(head).toMatch(/^HTTP\/1\.1 101 /);
    expect(head).toContain('\r\nX-Served-By: hybi');
  });

  it('acceptSocket and acceptUpgrade `headers`: throw TypeError before answering anything', () => {
    const socket = {} as net.Socket;
    expect(() => acceptSocket(socket, { headers: { 'X-A': SPLITTING_VALUE } })).toThrow(TypeError);
    expect(() =>
      acceptUpgrade({} as never, socket, Buffer.alloc(0), { headers: { 'X-A': SPLITTING_VALUE } }),
    ).toThrow(TypeError);
  });

  it('connect `headers` and `origin`: reject with SyntaxError before dialing', async () => {
    let connections = 0;
    const { server, url } = await startHybiServer({}, addCleanup);
    server.on('connection', () => connections++);
    const headerFailure = await connect(url, { headers: { 'X-A': SPLITTING_VALUE } }).catch((error) => error);
    const originFailure = await connect(url, { origin: `https://a.example${SPLITTING_VALUE}` }).catch(
      (error) => error,
    );
    expect([headerFailure.name, originFailure.name]).toEqual(['SyntaxError', 'SyntaxError']);
    // Neither dialed: the next connection is the server's first.
    // (The server emits 'connection' when it writes the 101, before the client can read it.)
    track(await connect(url));
    expect(connections).toBe(1);
  });

  it('verifyRequest rejection headers: the refusal goes out without them, and the owner hears of it', async () => {
    const { server, port } = await startHybiServer(
      { verifyRequest: () => ({ status: 401, headers: { 'WWW-Authenticate': SPLITTING_VALUE } }) },
      addCleanup,
    );
    const serverError = once(server, 'error');
    const client = await RawClient.connect(port, addCleanup);
    const head = await client.handshake(port);
    expect(head).toMatch(/^HTTP\/1\.1 401 /);
    expect(head).not.toContain('Set-Cookie');
    expect(head).not.toContain('WWW-Authenticate');
    expect((await serverError)[0]).toBeInstanceOf(TypeError);
  });
});

describe('shutdown()', () => {
  it('closes every socket with 1001, waits for the handshakes, and destroys those that do not answer in time', async () => {
    const serverSockets: WebSocket[] = [];
    const allAccepted = deferred<void>();
    const port = await startNetServer((socket) => {
      void acceptSocket(socket, { heartbeat: false }).then((webSocket) => {
        serverSockets.push(webSocket);
        if (serverSockets.length === 3) allAccepted.resolve();
      });
    }, addCleanup);
    const first = await connect(`ws://127.0.0.1:${port}/`);
    const second = await connect(`ws://127.0.0.1:${port}/`);
    // The third reads our close frame and never answers it.
    const silent = await RawClient.connect(port, addCleanup);
    await silent.handshake(port);
    await allAccepted.promise;
    const serverEvents = serverSockets.map(closed);
    const clientEvents = [closed(first), closed(second)];
    const result = await shutdown(serverSockets, { timeout: 200 });
    expect(result).toEqual({ closed: 2, destroyed: 1 });
    expect(serverSockets.map((socket) => socket.readyState)).toEqual([3, 3, 3]);
    const codes = (events: WebSocketCloseEvent[]) => events.map((event) => [event.code, event.wasClean]);
    expect(codes(await Promise.all(clientEvents))).toEqual([
      [1001, true],
      [1001, true],
    ]);
    expect(codes(await Promise.all(serverEvents))).toEqual([
      [1001, true],
      [1001, true],
      [1006, false],
    ]);
    expect(await silent.closeCode()).toBe(1001);
    expect(await shutdown(serverSockets)).toEqual({ closed: 3, destroyed: 0 });
  });

  it('refuses a code that may not be sent, or a reason over 123 bytes, with RangeError', () => {
    expect(() => shutdown([], { code: 1005 })).toThrow(RangeError);
    expect(() => shutdown([], { reason: 'x'.repeat(124) })).toThrow(RangeError);
    expect(() => shutdown([], { timeout: -1 })).toThrow(RangeError);
  });

  it('WebSocketServer#close refuses a handshake still in verifyRequest with 503 and does not wait for the hook', async () => {
    const hookCalled = deferred<void>();
    const verdict = deferred<boolean>();
    const server = new WebSocketServer({
      port: 0,
      host: '127.0.0.1',
      verifyRequest: () => {
        hookCalled.resolve();
        return verdict.promise;
      },
    });
    await once(server, 'listening');
    let connections = 0;
    server.on('connection', () => connections++);
    const { port } = server.address() as net.AddressInfo;
    const client = await RawClient.connect(port, addCleanup);
    const response = client.handshake(port);
    await hookCalled.promise;
    await server.close();
    expect(await response).toMatch(/^HTTP\/1\.1 503 /);
    verdict.resolve(true);
    await verdict.promise;
    expect(connections).toBe(0);
    expect(server.clients.size).toBe(0);
  });

  it('WebSocketServer#close is bounded by closeTimeout when a client never answers', async () => {
    const { server, port, nextConnection } = await startHybiServer({ closeTimeout: 150 }, addCleanup);
    const client = await RawClient.connect(port, addCleanup);
    await client.handshake(port);
    const serverEvent = closed(await nextConnection());
    await server.close();
    expect((await serverEvent).code).toBe(1006);
    expect(await client.closeCode()).toBe(1001);
  });
});
