// A request whose target is in absolute form (`GET http://host/only HTTP/1.1`, which RFC 9112 §3.2.2 says a
// server MUST accept) was answered 404 by a server with `path: '/only'`: the whole URI was compared with the path.

import { once } from 'node:events';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { acceptSocket, type WebSocket } from '../../src/index.js';
import { RawClient, startHybiServer, startNetServer, useCleanups } from '../hardening/support.js';
import { rawUpgradeRequest } from '../support/upgrade-request.js';

const addCleanup = useCleanups();

describe('an absolute-form request target', () => {
  it('is upgraded (101) by a WebSocketServer with that path, and its authority names the URL', async () => {
    const { port, nextConnection } = await startHybiServer({ path: '/only' }, addCleanup);
    const client = await RawClient.connect(port, addCleanup);
    client.socket.write(rawUpgradeRequest('ignored.example', `http://127.0.0.1:${port}/only?room=1`));
    expect(await client.responseHead()).toMatch(/^HTTP\/1\.1 101 /);
    const socket = await nextConnection();
    // RFC 9112 §3.2.2: the target's authority wins over the Host header.
    expect(socket.url).toBe(`ws://127.0.0.1:${port}/only?room=1`);
  });

  it('is refused 404 when its path is another', async () => {
    const { port } = await startHybiServer({ path: '/only' }, addCleanup);
    const client = await RawClient.connect(port, addCleanup);
    client.socket.write(rawUpgradeRequest(`127.0.0.1:${port}`, `http://127.0.0.1:${port}/other`));
    expect(await client.responseHead()).toMatch(/^HTTP\/1\.1 404 /);
  });

  it('is upgraded by acceptSocket, which parses the head itself', async () => {
    const accepted: Promise<WebSocket>[] = [];
    const port = await startNetServer((socket) => {
      accepted.push(acceptSocket(socket));
    }, addCleanup);
    const client = net.connect(port, '127.0.0.1');
    addCleanup(() => {
      client.destroy();
      return undefined;
    });
    await once(client, 'connect');
    client.write(rawUpgradeRequest('ignored.example', `http://127.0.0.1:${port}/chat`));
    const [head] = (await once(client, 'data')) as [Buffer];
    expect(head.toString('latin1')).toMatch(/^HTTP\/1\.1 101 /);
    const socket = await accepted[0]!;
    addCleanup(() => {
      socket.close();
      return undefined;
    });
    expect(socket.url).toBe(`ws://127.0.0.1:${port}/chat`);
  });
});
