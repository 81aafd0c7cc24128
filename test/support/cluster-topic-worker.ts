// A node:cluster worker for the backplane test: a WebSocketServer on its own loopback port whose
// sockets subscribe to the topic in their URL's query and publish every message they send to it.

import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { clusterBackplane, WebSocketServer } from '../../src/index.js';

const server = http.createServer();
// exclusive: a port of this worker's own, not one the primary shares among workers.
server.listen({ port: 0, host: '127.0.0.1', exclusive: true });
await once(server, 'listening');
const wss = new WebSocketServer({ server, backplane: clusterBackplane() });
wss.on('connection', (socket, request) => {
  const topic = new URL(request.url ?? '/', 'http://localhost').searchParams.get('topic') ?? 'none';
  socket.subscribe(topic);
  socket.addEventListener('message', (event) => {
    socket.publish(topic, event.data as string | Buffer);
  });
});
process.send?.({ port: (server.address() as AddressInfo).port });
process.on('disconnect', () => {
  void wss.close().then(() => server.close());
});
