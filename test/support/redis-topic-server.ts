// A server process for the Redis backplane test: a WebSocketServer on its own loopback port with a
// Redis backplane over REDIS_CLIENT ('ioredis' or 'redis', node-redis) to 127.0.0.1:REDIS_PORT. Its
// sockets subscribe to the topic in their URL's query and publish every message they send to it;
// `burst:<count>:<size>` publishes <count> messages of <size> bytes in one turn instead. It reports
// its port and every backplane event to its parent over IPC, and on { type: 'close' } closes the
// server, waits for the backplane's 'close' (channels unsubscribed), quits its clients and exits.

import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { redisBackplane, WebSocketServer } from '../../src/index.js';

const port = Number(process.env.REDIS_PORT);
const library = process.env.REDIS_CLIENT;
const maxQueuedBytes = process.env.HYBI_TEST_MAX_QUEUED_BYTES;

const report = (message: object): void => {
  process.send?.(message);
};
// Both libraries emit 'error' for every failed connection attempt while Redis is down: expected here.
const ignore = (): void => {};

let quit: () => Promise<unknown>;
let backplane: ReturnType<typeof redisBackplane>;
const options = maxQueuedBytes === undefined ? {} : { maxQueuedBytes: Number(maxQueuedBytes) };
if (library === 'ioredis') {
  // Loaded on demand: each process needs one of the two libraries.
  const { Redis } = await import('ioredis');
  const publisher = new Redis({ port, host: '127.0.0.1' }).on('error', ignore);
  const subscriber = new Redis({ port, host: '127.0.0.1' }).on('error', ignore);
  backplane = redisBackplane({ publisher, subscriber, ...options });
  quit = () => Promise.all([publisher.quit(), subscriber.quit()]);
} else {
  const { createClient } = await import('redis');
  const publisher = await createClient({ socket: { port, host: '127.0.0.1' } })
    .on('error', ignore)
    .connect();
  const subscriber = await publisher.duplicate().on('error', ignore).connect();
  backplane = redisBackplane({ publisher, subscriber, ...options });
  quit = () => Promise.all([publisher.close(), subscriber.close()]);
}
backplane.on('subscribe', (topic) => report({ type: 'subscribe', topic }));
backplane.on('unsubscribe', (topic) => report({ type: 'unsubscribe', topic }));
backplane.on('disconnect', () => report({ type: 'disconnect' }));
backplane.on('loss', (loss) => report({ type: 'loss', ...loss }));
backplane.on('drop', (drop) => report({ type: 'drop', ...drop }));
backplane.on('close', () => report({ type: 'backplane-close' }));

const server = http.createServer();
server.listen({ port: 0, host: '127.0.0.1' });
await once(server, 'listening');
const wss = new WebSocketServer({ server, backplane });
wss.on('error', (error) => report({ type: 'error', message: error.message }));
wss.on('connection', (socket, request) => {
  const topic = new URL(request.url ?? '/', 'http://localhost').searchParams.get('topic') ?? 'none';
  socket.subscribe(topic);
  socket.addEventListener('message', (event) => {
    const text = String(event.data);
    const burst = /^burst:(\d+):(\d+)$/.exec(text);
    if (burst === null) {
      socket.publish(topic, text);
      return;
    }
    const padding = 'x'.repeat(Number(burst[2]));
    for (let index = 0; index < Number(burst[1]); index++) socket.publish(topic, `${index}:${padding}`);
    socket.send(`burst-done:${backplane.dropped}`);
  });
});
process.on('message', (message: { type?: unknown }) => {
  if (message.type !== 'close') return;
  const closed = once(backplane, 'close');
  void wss
    .close()
    .then(() => closed)
    .then(() => new Promise((resolve) => server.close(resolve)))
    .then(() => quit())
    .then(() => process.disconnect());
});
report({ type: 'ready', port: (server.address() as AddressInfo).port });
