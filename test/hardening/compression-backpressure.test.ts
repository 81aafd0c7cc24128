// Backpressure counts messages still in the compressor: a sender that respects send()'s answer keeps
// memory bounded even when zlib, not the socket, is the slow part.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, WebSocketServer } from '../../src/index.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('send() with permessage-deflate', () => {
  it('reports messages still being compressed in bufferedAmount and send(), then drains', async () => {
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: { threshold: 0 } });
    cleanups.push(() => server.close());
    await once(server, 'listening');
    const received: number[] = [];
    let allArrived: () => void = () => {};
    const arrived = new Promise<void>((resolve) => {
      allArrived = resolve;
    });
    const count = 40;
    server.on('connection', (socket) =>
      socket.addEventListener('message', (event) => {
        received.push((event.data as Buffer).length);
        if (received.length === count) allArrived();
      }),
    );
    const { port } = server.address() as AddressInfo;
    const client = await connect(`ws://127.0.0.1:${port}/`, { perMessageDeflate: { threshold: 0 } });
    cleanups.push(async () => {
      if (client.readyState === 3) return;
      const closed = once(client, 'close');
      client.close();
      await closed;
    });
    expect(client.extensions).toMatch(/permessage-deflate/);
    // 40 x 256 KiB of compressible bytes, sent in one turn: zlib cannot keep up within it.
    const message = Buffer.alloc(256 * 1024, 'compressible ');
    const answers: boolean[] = [];
    for (let index = 0; index < count; index++) answers.push(client.send(message));
    expect(client.bufferedAmount).toBeGreaterThan(message.length);
    expect(answers.includes(false)).toBe(true);
    // A 'drain' is owed after a false, and comes once the compressor has caught up.
    await once(client, 'drain');
    await arrived;
    expect(received).toEqual(Array.from({ length: count }, () => message.length));
  });
});
