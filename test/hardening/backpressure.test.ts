// Backpressure both ways over real sockets: a peer that never reads what we send, and an application
// that stops consuming what we receive. Each asserts a memory bound in counted bytes. (A ping flood from
// a peer that never reads our pongs is in test/unit/websocket.test.ts, 'backpressure'.)

import { once } from 'node:events';
import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import { connect, server as rawServerDriver, type WebSocket } from '../../src/index.js';
import { closed, deferred, nextTurn, startHybiServer, startNetServer, useCleanups } from './support.js';

const addCleanup = useCleanups();

/** The largest header of a client frame: 2 bytes, 8 of length, 4 of masking key. */
const MAX_FRAME_HEADER = 14;

/**
 * Sends `chunk` as fast as `send()` allows, waiting for 'drain' whenever it returns false, until the
 * socket stays full across two turns of the event loop (the kernel's buffers are full: the peer is not
 * reading). Resolves with the bytes sent and the largest `bufferedAmount` seen.
 */
async function sendUntilStuck(
  socket: WebSocket,
  makeMessage: (index: number) => Buffer,
  limit: number,
): Promise<{ messages: number; bytes: number; maxBuffered: number; drain: Promise<unknown> }> {
  let messages = 0;
  let bytes = 0;
  let maxBuffered = 0;
  for (;;) {
    let isBelowMark = true;
    while (isBelowMark) {
      const message = makeMessage(messages);
      isBelowMark = socket.send(message);
      messages++;
      bytes += message.length;
      maxBuffered = Math.max(maxBuffered, socket.bufferedAmount);
    }
    // send() said false: a 'drain' is owed. Listen now, so that it cannot be missed.
    const drain = once(socket, 'drain');
    await nextTurn();
    await nextTurn();
    if (socket.bufferedAmount > 0) return { messages, bytes, maxBuffered, drain };
    await drain;
    if (bytes > limit) throw new Error(`Sent ${bytes} bytes and the peer never pushed back`);
  }
}

describe('a peer that never reads while we send', () => {
  it("makes send() return false with bufferedAmount bounded by one message, and fires 'drain' once it reads", async () => {
    let serverSocket: net.Socket | undefined;
    const handshakeDone = deferred<void>();
    const port = await startNetServer((socket) => {
      serverSocket = socket;
      socket.once('data', (request: Buffer) => {
        const driver = rawServerDriver();
        driver.io.on('data', (chunk: Buffer) => socket.write(chunk));
        driver.io.write(request);
        driver.start();
        // From here on nothing is read: the client's bytes pile up in the kernel, then in its socket.
        socket.pause();
        handshakeDone.resolve();
      });
    }, addCleanup);
    const socket = await connect(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false, heartbeat: false });
    await handshakeDone.promise;
    const message = Buffer.alloc(64 * 1024, 1);
    const { bytes, maxBuffered, drain } = await sendUntilStuck(socket, () => message, 512 * 1024 * 1024);
    // Counted: what hybi holds is at most the one message that crossed the mark (the kernel holds the rest).
    expect(maxBuffered).toBeLessThanOrEqual(16 * 1024 + message.length + MAX_FRAME_HEADER);
    expect(bytes).toBeGreaterThan(maxBuffered);
    expect(socket.bufferedAmount).toBeGreaterThan(0);
    expect(socket.send(message)).toBe(false);

    // The peer starts reading (and discarding): the owed 'drain' comes and the buffer is empty.
    serverSocket!.on('data', () => {});
    serverSocket!.resume();
    await drain;
    expect(socket.bufferedAmount).toBe(0);
    expect(socket.readyState).toBe(1);
  });
});

describe('an application that stops consuming messages', () => {
  it('stops reading the socket, so the sender is pushed back and memory stays bounded, then resumes', async () => {
    let serverRawSocket: net.Socket | undefined;
    const { server, url } = await startHybiServer({ heartbeat: false }, addCleanup);
    const serverReady = deferred<{ socket: WebSocket; iterator: AsyncIterator<unknown> }>();
    let delivered = 0;
    let deliveredBytes = 0;
    server.on('connection', (socket, request) => {
      serverRawSocket = request.socket as net.Socket;
      // An iterator that is never pulled until the end of the test: the application is busy.
      const iterator = socket[Symbol.asyncIterator]();
      socket.addEventListener('message', (event) => {
        delivered++;
        deliveredBytes += (event.data as Buffer).length;
      });
      serverReady.resolve({ socket, iterator });
    });
    const client = await connect(url, { perMessageDeflate: false, heartbeat: false });
    addCleanup(() => {
      client.close();
      return closed(client);
    });
    const { iterator } = await serverReady.promise;
    const messageSize = 8 * 1024;
    const makeMessage = (index: number): Buffer => {
      const message = Buffer.alloc(messageSize);
      message.writeUInt32BE(index);
      return message;
    };
    const { messages, maxBuffered } = await sendUntilStuck(client, makeMessage, 512 * 1024 * 1024);
    expect(serverRawSocket!.isPaused()).toBe(true);
    // Counted: the server took the 16 messages its iterator holds, plus the rest of the one socket read
    // (64 KiB) in which the 16th arrived; everything else waits in kernel buffers and the client.
    expect(delivered).toBeGreaterThanOrEqual(16);
    expect(deliveredBytes).toBeLessThanOrEqual(16 * messageSize + 64 * 1024);
    expect(maxBuffered).toBeLessThanOrEqual(16 * 1024 + messageSize + MAX_FRAME_HEADER);

    // The application catches up: every message arrives, in order.
    for (let index = 0; index < messages; index++) {
      const result = await iterator.next();
      expect((result.value as Buffer).readUInt32BE(0)).toBe(index);
    }
    expect(delivered).toBe(messages);
  });
});

describe('send() with a Blob', () => {
  it("returns false for a Blob past the mark and fires 'drain' once it went out", async () => {
    const { url, nextConnection } = await startHybiServer({ heartbeat: false }, addCleanup);
    const client = await connect(url, { perMessageDeflate: false });
    addCleanup(() => {
      client.close();
      return closed(client);
    });
    const serverSocket = await nextConnection();
    const arrived = once(serverSocket, 'message');
    const drain = once(client, 'drain');
    expect(client.send(new Blob([Buffer.alloc(32 * 1024, 3)]))).toBe(false);
    expect(client.bufferedAmount).toBeGreaterThanOrEqual(32 * 1024);
    await drain;
    expect(client.bufferedAmount).toBe(0);
    expect(((await arrived)[0] as MessageEvent).data).toEqual(Buffer.alloc(32 * 1024, 3));
  });
});
