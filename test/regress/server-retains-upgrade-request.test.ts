// Regression: WebSocketServer removed a socket from `clients` with a closure made inside handleUpgrade,
// which kept that scope, and with it the upgrade request (headers, raw headers), alive as long as the
// socket was open: about 1 KiB of heap per idle connection. Found with a heap snapshot diff.

import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, expect, it } from 'vitest';
import { connect, WebSocketServer } from '../../src/index.js';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

let server: WebSocketServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

it('lets the upgrade request go once the socket is open', async () => {
  server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  let requestRef: WeakRef<object> | undefined;
  const opened = new Promise<void>((resolve) =>
    server!.once('connection', (_socket, request) => {
      requestRef = new WeakRef(request);
      resolve();
    }),
  );
  const client = await connect(`ws://127.0.0.1:${port}/`);
  await opened;
  // Collection is not immediate for objects touched in this turn: give it a few turns.
  for (let attempt = 0; attempt < 10 && requestRef!.deref() !== undefined; attempt++) {
    await new Promise((resolve) => setImmediate(resolve));
    collectGarbage();
  }
  expect(requestRef!.deref()).toBeUndefined();
  expect(server.clients.size).toBe(1);
  client.close();
});
