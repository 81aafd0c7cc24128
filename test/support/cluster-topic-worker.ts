// A node:cluster worker for the backplane test: a WebSocketServer on its own loopback port whose
// sockets subscribe to the topic in their URL's query and publish every message they send to it.
// `burst:<count>:<size>` publishes <count> messages of <size> bytes in one turn instead, then tells its
// sender `burst-done:<dropped>` (how many publishes this worker's backplane dropped so far).
// HYBI_TEST_MAX_QUEUED_BYTES sets the backplane's maxQueuedBytes.

import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { clusterBackplane, WebSocketServer } from '../../src/index.js';

const server = http.createServer();
// exclusive: a port of this worker's own, not one the primary shares among workers.
server.listen({ port: 0, host: '127.0.0.1', exclusive: true });
await once(server, 'listening');
const maxQueuedBytes = process.env.HYBI_TEST_MAX_QUEUED_BYTES;
const backplane = clusterBackplane(
  maxQueuedBytes === undefined ? {} : { maxQueuedBytes: Number(maxQueuedBytes) },
);
const wss = new WebSocketServer({ server, backplane });
wss.on('connection', (socket, request) => {
  const topic = new URL(request.url ?? '/', 'http://localhost').searchParams.get('topic') ?? 'none';
  socket.subscribe(topic);
  socket.addEventListener('message', (event) => {
    const text = String(event.data);
    const burst = /^burst:(\d+):(\d+)$/.exec(text);
    if (burst === null) {
      socket.publish(topic, event.data as string | Buffer);
      return;
    }
    const padding = 'x'.repeat(Number(burst[2]));
    for (let index = 0; index < Number(burst[1]); index++) socket.publish(topic, `${index}:${padding}`);
    socket.send(`burst-done:${backplane.dropped}`);
  });
});
process.send?.({ port: (server.address() as AddressInfo).port });
process.on('disconnect', () => {
  void wss.close().then(() => server.close());
});
