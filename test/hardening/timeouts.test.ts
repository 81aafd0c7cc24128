// Timeouts over real sockets: a slowloris handshake, a verifyRequest that never decides, a peer that
// never answers our close frame or our pings. Timers here are short configured values: the behaviour
// under test is the timeout itself.

import { once } from 'node:events';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  acceptSocket,
  connect,
  server as rawServerDriver,
  type WebSocket,
  type WebSocketErrorEvent,
} from '../../src/index.js';
import {
  closed,
  deferred,
  listenerCounts,
  RawClient,
  startHybiServer,
  startLinkServer,
  startNetServer,
  upgradeRequest,
  useCleanups,
} from './support.js';

const addCleanup = useCleanups();

/** Sends `text` one byte every `everyMs` until the server closes the socket; resolves with what it answered. */
async function dribble(
  port: number,
  text: string,
  everyMs: number,
): Promise<{ response: string; sent: number }> {
  const socket = net.connect(port, '127.0.0.1');
  addCleanup(() => {
    socket.destroy();
    return undefined;
  });
  socket.on('error', () => {});
  await once(socket, 'connect');
  let response = '';
  socket.on('data', (chunk: Buffer) => {
    response += chunk.toString('latin1');
  });
  let sent = 0;
  const timer = setInterval(() => {
    if (sent < text.length && socket.writable) socket.write(text[sent++]!);
  }, everyMs);
  await once(socket, 'close');
  clearInterval(timer);
  return { response, sent };
}

describe('a slowloris handshake (one byte every 50 ms, handshakeTimeout 300 ms)', () => {
  it('is answered 408 and destroyed by the link, which leaves no timer or listener behind', async () => {
    const { port, nextConnection } = await startLinkServer({ handshakeTimeout: 300 }, addCleanup);
    const dribbling = dribble(port, upgradeRequest(port), 50);
    const connection = await nextConnection();
    expect(connection.link.activeTimerCount).toBe(1);
    const { response, sent } = await dribbling;
    const event = await connection.closed;
    expect(response).toMatch(/^HTTP\/1\.1 408 /);
    expect(sent).toBeLessThan(20);
    expect(event).toEqual({ code: 1006, reason: '', wasClean: false });
    expect(connection.errors.map((error) => error.message)).toEqual([
      'The opening handshake did not complete within 300 ms',
    ]);
    expect(connection.socket.destroyed).toBe(true);
    expect(connection.link.activeTimerCount).toBe(0);
    expect(listenerCounts(connection.socket)).toEqual(connection.listenersBefore);
  });

  it('makes acceptSocket answer 408 and reject', async () => {
    const failures: Promise<unknown>[] = [];
    const sockets: net.Socket[] = [];
    const port = await startNetServer((socket) => {
      sockets.push(socket);
      failures.push(acceptSocket(socket, { handshakeTimeout: 300 }).catch((error: unknown) => error));
    }, addCleanup);
    const { response } = await dribble(port, upgradeRequest(port), 50);
    expect(response).toMatch(/^HTTP\/1\.1 408 /);
    const failure = (await failures[0]) as Error;
    expect(failure.message).toBe('The opening handshake did not complete within 300 ms');
    expect(sockets[0]!.destroyed).toBe(true);
  });

  it("makes the WebSocketServer's own node:http server answer 408 (headersTimeout = handshakeTimeout)", async () => {
    const { server, port } = await startHybiServer({ handshakeTimeout: 300 }, addCleanup);
    const { response, sent } = await dribble(port, upgradeRequest(port), 50);
    expect(response).toMatch(/^HTTP\/1\.1 408 /);
    // node:http checks every 75 ms here (a quarter of the timeout): cut off within 300-375 ms.
    expect(sent).toBeLessThan(20);
    expect(server.clients.size).toBe(0);
  });
});

describe('a verifyRequest that never settles (handshakeTimeout 300 ms)', () => {
  it('is answered 503 by a WebSocketServer, which reports the hook as an error', async () => {
    const { server, url } = await startHybiServer(
      { handshakeTimeout: 300, verifyRequest: () => new Promise<boolean>(() => {}) },
      addCleanup,
    );
    const serverError = once(server, 'error');
    const failure = (await connect(url).catch((error: unknown) => error)) as { status?: number };
    expect(failure.status).toBe(503);
    expect(((await serverError)[0] as Error).message).toBe('verifyRequest did not settle within 300 ms');
    expect(server.clients.size).toBe(0);
  });

  it('is answered 503 by acceptSocket, whose handshake timer covers the hook', async () => {
    const failures: Promise<unknown>[] = [];
    const port = await startNetServer((socket) => {
      failures.push(
        acceptSocket(socket, {
          handshakeTimeout: 300,
          verifyRequest: () => new Promise<boolean>(() => {}),
        }).catch((error: unknown) => error),
      );
    }, addCleanup);
    const client = await RawClient.connect(port, addCleanup);
    expect(await client.handshake(port)).toMatch(/^HTTP\/1\.1 503 /);
    await client.ended();
    expect(((await failures[0]) as Error).message).toBe(
      'The opening handshake did not complete within 300 ms',
    );
  });
});

describe('the close timeout', () => {
  it('destroys the socket and reports 1006 when the peer never answers our close frame, leaving nothing behind', async () => {
    const { port, nextConnection } = await startLinkServer({ closeTimeout: 150 }, addCleanup);
    const client = await RawClient.connect(port, addCleanup);
    await client.handshake(port);
    const connection = await nextConnection();
    connection.driver.close('bye', 4000);
    // The client reads our close frame and says nothing back.
    expect(await client.closeCode()).toBe(4000);
    expect(connection.link.activeTimerCount).toBe(1);
    expect(await connection.closed).toEqual({ code: 1006, reason: '', wasClean: false });
    expect(connection.socket.destroyed).toBe(true);
    expect(connection.link.activeTimerCount).toBe(0);
    expect(listenerCounts(connection.socket)).toEqual(connection.listenersBefore);
  });

  it("reports 1006 to a WebSocketServer's application", async () => {
    const { port, nextConnection } = await startHybiServer({ closeTimeout: 150 }, addCleanup);
    const client = await RawClient.connect(port, addCleanup);
    await client.handshake(port);
    const serverSocket = await nextConnection();
    const serverClosed = closed(serverSocket);
    serverSocket.close(4000, 'leave');
    const event = await serverClosed;
    expect([event.code, event.wasClean]).toEqual([1006, false]);
  });
});

describe('the heartbeat', () => {
  it('destroys a connection whose peer never answers a ping: error, then 1006', async () => {
    const { port, nextConnection } = await startHybiServer(
      { heartbeat: { interval: 50, timeout: 100 } },
      addCleanup,
    );
    const client = await RawClient.connect(port, addCleanup);
    await client.handshake(port);
    const serverSocket = await nextConnection();
    const errors: WebSocketErrorEvent[] = [];
    serverSocket.addEventListener('error', (event) => errors.push(event));
    const event = await closed(serverSocket);
    expect([event.code, event.wasClean]).toEqual([1006, false]);
    expect(errors.map((error) => error.message)).toEqual([
      'No pong arrived within 100 ms of a heartbeat ping',
    ]);
    expect(client.pingCount).toBe(1);
    await client.ended();
  });

  it('keeps a connection whose peer answers, ping after ping', async () => {
    const { url, nextConnection } = await startHybiServer(
      { heartbeat: { interval: 30, timeout: 5000 } },
      addCleanup,
    );
    const socket = await connect(url);
    addCleanup(() => {
      socket.close();
      return closed(socket);
    });
    const serverSocket = await nextConnection();
    let pongs = 0;
    const fivePongs = deferred<void>();
    serverSocket.addEventListener('pong', () => {
      if (++pongs === 5) fivePongs.resolve();
    });
    await fivePongs.promise;
    expect([socket.readyState, serverSocket.readyState]).toEqual([1, 1]);
  });

  it('keeps its one timer while open and clears it at close', async () => {
    const { port, nextConnection } = await startLinkServer(
      { heartbeat: { interval: 1000, timeout: 1000 } },
      addCleanup,
    );
    const client = await RawClient.connect(port, addCleanup);
    await client.handshake(port);
    const connection = await nextConnection();
    // The handshake timer gave way to the heartbeat's.
    expect(connection.link.activeTimerCount).toBe(1);
    client.socket.destroy();
    await connection.closed;
    expect(connection.link.activeTimerCount).toBe(0);
    expect(listenerCounts(connection.socket)).toEqual(connection.listenersBefore);
  });

  it('lets a client notice a server that stopped answering', async () => {
    // A server that completes the handshake and then answers nothing, pings included.
    const port = await startNetServer((socket) => {
      socket.once('data', (request: Buffer) => {
        const driver = rawServerDriver();
        driver.io.on('data', (chunk: Buffer) => socket.write(chunk));
        driver.io.write(request);
        driver.start();
      });
    }, addCleanup);
    const socket: WebSocket = await connect(`ws://127.0.0.1:${port}/`, {
      heartbeat: { interval: 50, timeout: 100 },
    });
    const errors: WebSocketErrorEvent[] = [];
    socket.addEventListener('error', (event) => errors.push(event));
    const event = await closed(socket);
    expect([event.code, event.wasClean]).toEqual([1006, false]);
    expect(errors[0]?.message).toBe('No pong arrived within 100 ms of a heartbeat ping');
  });
});
