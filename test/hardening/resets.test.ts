// TCP resets at the worst moments: inside the opening handshake, inside a frame, inside the closing
// handshake. Nothing may throw out of hybi, and the link must leave no timer and no listener behind.

import { describe, expect, it } from 'vitest';
import {
  acceptSocket,
  connect,
  server as rawServerDriver,
  type WebSocketCloseEvent,
} from '../../src/index.js';
import {
  clientFrame,
  closed,
  deferred,
  guardUncaught,
  type LinkedConnection,
  listenerCounts,
  RawClient,
  startHybiServer,
  startLinkServer,
  startNetServer,
  upgradeRequest,
  useCleanups,
} from './support.js';

const addCleanup = useCleanups();

function expectNothingLeft(connection: LinkedConnection): void {
  expect(connection.socket.destroyed).toBe(true);
  expect(connection.link.activeTimerCount).toBe(0);
  expect(listenerCounts(connection.socket)).toEqual(connection.listenersBefore);
}

describe('a reset from the client', () => {
  it('in the middle of the opening handshake: 1006, nothing left behind', async () => {
    const guard = guardUncaught(addCleanup);
    const { port, nextConnection } = await startLinkServer({}, addCleanup);
    const client = await RawClient.connect(port, addCleanup);
    const request = upgradeRequest(port);
    const connection = await nextConnection();
    const received = deferred<void>();
    connection.socket.once('data', () => received.resolve());
    client.socket.write(request.slice(0, request.length / 2));
    await received.promise;
    // The handshake timer is running when the reset comes.
    expect(connection.link.activeTimerCount).toBe(1);
    client.socket.resetAndDestroy();
    expect(await connection.closed).toEqual({ code: 1006, reason: '', wasClean: false });
    expectNothingLeft(connection);
    expect(guard.errors).toEqual([]);
  });

  it('in the middle of a frame: 1006, nothing left behind', async () => {
    const guard = guardUncaught(addCleanup);
    const { port, nextConnection } = await startLinkServer(
      { heartbeat: { interval: 10_000, timeout: 10_000 } },
      addCleanup,
    );
    const client = await RawClient.connect(port, addCleanup);
    await client.handshake(port);
    const connection = await nextConnection();
    const frame = clientFrame(0x2, Buffer.alloc(4096, 7));
    const received = deferred<void>();
    connection.socket.once('data', () => received.resolve());
    client.socket.write(frame.subarray(0, 2000));
    await received.promise;
    // The heartbeat's timer is running when the reset comes.
    expect(connection.link.activeTimerCount).toBe(1);
    client.socket.resetAndDestroy();
    expect(await connection.closed).toEqual({ code: 1006, reason: '', wasClean: false });
    expectNothingLeft(connection);
    expect(guard.errors).toEqual([]);
  });

  it('in the middle of the closing handshake: 1006, nothing left behind', async () => {
    const guard = guardUncaught(addCleanup);
    const { port, nextConnection } = await startLinkServer({ closeTimeout: 10_000 }, addCleanup);
    const client = await RawClient.connect(port, addCleanup);
    await client.handshake(port);
    const connection = await nextConnection();
    connection.driver.close('going', 1001);
    expect(await client.closeCode()).toBe(1001);
    // The close timer is running when the reset comes, instead of the client's close frame.
    expect(connection.link.activeTimerCount).toBe(1);
    client.socket.resetAndDestroy();
    expect(await connection.closed).toEqual({ code: 1006, reason: '', wasClean: false });
    expectNothingLeft(connection);
    expect(guard.errors).toEqual([]);
  });

  it('on a WebSocketServer and on acceptSocket: close 1006 or a rejected handshake, no uncaught error', async () => {
    const guard = guardUncaught(addCleanup);
    const { port, nextConnection } = await startHybiServer({}, addCleanup);
    const client = await RawClient.connect(port, addCleanup);
    await client.handshake(port);
    const serverEvent = closed(await nextConnection());
    client.socket.write(clientFrame(0x1, Buffer.from('half a frame')).subarray(0, 9));
    client.socket.resetAndDestroy();
    expect((await serverEvent).code).toBe(1006);

    const accepting = deferred<Promise<unknown>>();
    const rawPort = await startNetServer((socket) => {
      accepting.resolve(acceptSocket(socket).catch((error: unknown) => error));
    }, addCleanup);
    const rawClient = await RawClient.connect(rawPort, addCleanup);
    rawClient.socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgr');
    rawClient.socket.resetAndDestroy();
    expect(await await accepting.promise).toBeInstanceOf(Error);
    expect(guard.errors).toEqual([]);
  });
});

describe('a reset from the server', () => {
  it("in the middle of the client's closing handshake: close 1006 on the client, no uncaught error", async () => {
    const guard = guardUncaught(addCleanup);
    // A server that completes the handshake, then resets the connection when the close frame arrives.
    const port = await startNetServer((socket) => {
      socket.once('data', (request: Buffer) => {
        const driver = rawServerDriver();
        driver.io.on('data', (chunk: Buffer) => socket.write(chunk));
        driver.io.write(request);
        driver.start();
        socket.once('data', () => socket.resetAndDestroy());
      });
    }, addCleanup);
    const socket = await connect(`ws://127.0.0.1:${port}/`, { closeTimeout: 10_000 });
    const event: Promise<WebSocketCloseEvent> = closed(socket);
    socket.close(1000);
    const { code, wasClean } = await event;
    expect([code, wasClean]).toEqual([1006, false]);
    expect(guard.errors).toEqual([]);
  });
});
