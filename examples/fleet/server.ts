// Owns the fleet example: a chat with rooms on N node:cluster workers, and, with REDIS_URL set,
// across several such fleets (each worker then publishes through Redis instead of the primary).
//
//   npx tsx examples/fleet/server.ts                                  # one machine, N workers
//   REDIS_URL=redis://127.0.0.1:6379 PORT=8081 npx tsx examples/fleet/server.ts   # one of several fleets
//
// Environment: PORT (default 8080), HOST (default 127.0.0.1), WORKERS (default: the cores), REDIS_URL.

import cluster from 'node:cluster';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import {
  type Backplane,
  clusterBackplane,
  redisBackplane,
  relayClusterBackplane,
  type WebSocket,
  WebSocketServer,
} from '../../src/index.js';

const port = Number(process.env.PORT ?? 8080);
const host = process.env.HOST ?? '127.0.0.1';
const workerCount = Number(process.env.WORKERS ?? availableParallelism());
const redisUrl = process.env.REDIS_URL;

/** Chat messages are small JSON objects: a bigger one is a misbehaving client (closed with 1009). */
const MAX_MESSAGE_BYTES = 16 * 1024;
/** Rooms one connection may be in: bounds what a client can make a worker (and Redis) hold. */
const MAX_ROOMS_PER_CLIENT = 16;
const MAX_ROOM_LENGTH = 64;
const MAX_TEXT_LENGTH = 2_000;

function runPrimary(): void {
  // Workers with a Redis backplane do not use the IPC relay; it costs nothing idle.
  const stopRelay = relayClusterBackplane({
    onDrop: (worker) => console.warn(`worker ${worker.id} reads too slowly: a publish was dropped for it`),
  });
  let listening = 0;
  let address = '';
  for (let index = 0; index < workerCount; index++) {
    const worker = cluster.fork();
    worker.on('message', (message: { listening?: number }) => {
      if (message.listening === undefined) return;
      address = `http://${host}:${message.listening}/`;
      if (++listening === workerCount) {
        const across = redisUrl === undefined ? 'node:cluster IPC' : `Redis at ${redisUrl}`;
        console.log(`fleet of ${workerCount} workers listening on ${address} (rooms across ${across})`);
      }
    });
  }
  const shutDown = (): void => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.disconnect();
  };
  process.once('SIGINT', shutDown);
  process.once('SIGTERM', shutDown);
  cluster.on('exit', () => {
    if (Object.keys(cluster.workers ?? {}).length === 0) stopRelay();
  });
}

async function runWorker(): Promise<void> {
  const name = `${process.env.FLEET ?? process.pid}/${cluster.worker?.id}`;
  const { backplane, closeBackplane } = await makeBackplane();
  const server = createServer((request, response) => {
    if (request.method === 'GET' && request.url === '/') {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
    } else {
      response.writeHead(404).end();
    }
  });
  const wss = new WebSocketServer({
    server,
    path: '/chat',
    backplane,
    maxLength: MAX_MESSAGE_BYTES,
    maxTopicsPerSocket: MAX_ROOMS_PER_CLIENT,
  });
  wss.on('error', (error) => console.warn(`worker ${name}: ${error.message}`));
  wss.on('connection', (socket) => {
    send(socket, { type: 'welcome', worker: name });
    socket.addEventListener('message', (event) => handle(socket, String(event.data), name));
  });
  server.listen(port, host, () => {
    process.send?.({ listening: (server.address() as AddressInfo).port });
  });
  process.once('disconnect', () => {
    void wss
      .close()
      .then(() => new Promise((resolve) => server.close(resolve)))
      .then(closeBackplane);
  });
}

/** What a client may send: `{ type: 'join' | 'leave', room }` or `{ type: 'say', room, text }`. */
function handle(socket: WebSocket, text: string, worker: string): void {
  let message: { type?: unknown; room?: unknown; text?: unknown };
  try {
    message = JSON.parse(text) as typeof message;
  } catch {
    socket.close(1007, 'messages are JSON');
    return;
  }
  const room = message.room;
  if (typeof room !== 'string' || room.length === 0 || room.length > MAX_ROOM_LENGTH) {
    send(socket, { type: 'error', reason: `a room is 1-${MAX_ROOM_LENGTH} characters` });
    return;
  }
  const topic = `room:${room}`;
  if (message.type === 'join') {
    if (!socket.subscribe(topic)) {
      send(socket, { type: 'error', reason: 'too many rooms' });
      return;
    }
    // 'joined' once the room's messages from every worker reach this one (Redis confirmed the channel).
    void receiving(topic).then(() => send(socket, { type: 'joined', room }));
  } else if (message.type === 'leave') {
    socket.unsubscribe(topic);
    send(socket, { type: 'left', room });
  } else if (message.type === 'say' && typeof message.text === 'string') {
    const said = JSON.stringify({
      type: 'message',
      room,
      text: message.text.slice(0, MAX_TEXT_LENGTH),
      worker,
    });
    // Every subscriber of the room on every worker (and every fleet), the sender included.
    socket.publish(topic, said);
    if (socket.isSubscribed(topic)) socket.send(said);
  } else {
    send(socket, { type: 'error', reason: 'type is join, leave or say' });
  }
}

function send(socket: WebSocket, message: object): void {
  if (socket.readyState === 1) socket.send(JSON.stringify(message));
}

/** Resolves once the backplane delivers `topic` here: at once over IPC, once subscribed over Redis. */
let receiving: (topic: string) => Promise<void> = async () => {};

/** IPC through the primary by default; Redis, over node-redis, when REDIS_URL is set. */
async function makeBackplane(): Promise<{ backplane: Backplane; closeBackplane: () => Promise<unknown> }> {
  if (redisUrl === undefined) return { backplane: clusterBackplane(), closeBackplane: async () => {} };
  const { createClient } = await import('redis');
  const report = (error: Error): void => console.warn(`redis: ${error.message}`);
  const publisher = await createClient({ url: redisUrl }).on('error', report).connect();
  const subscriber = await publisher.duplicate().on('error', report).connect();
  const backplane = redisBackplane({ publisher, subscriber });
  const confirmed = new Set<string>();
  backplane.on('subscribe', (topic) => confirmed.add(topic));
  backplane.on('unsubscribe', (topic) => confirmed.delete(topic));
  receiving = (topic) =>
    confirmed.has(topic)
      ? Promise.resolve()
      : new Promise((resolve) => {
          const onSubscribe = (subscribed: string): void => {
            if (subscribed !== topic) return;
            backplane.off('subscribe', onSubscribe);
            resolve();
          };
          backplane.on('subscribe', onSubscribe);
        });
  backplane.on('loss', ({ topics, since, until }) => {
    console.warn(`missed what was said in ${topics.join(', ')} during ${until - since} ms without Redis`);
  });
  backplane.on('drop', ({ reason }) => console.warn(`a message did not reach Redis: ${reason}`));
  return {
    backplane,
    closeBackplane: () => Promise.all([publisher.close(), subscriber.close()]),
  };
}

const PAGE = `<!doctype html>
<meta charset="utf-8"><title>hybi fleet chat</title>
<style>body{font:15px system-ui;max-width:40em;margin:2em auto}#log{white-space:pre-wrap;border:1px solid #ccc;height:20em;overflow:auto;padding:.5em}</style>
<h1>hybi fleet chat</h1>
<p><input id="room" value="lobby" size="12"> <button id="join">join</button> <span id="status">connecting…</span></p>
<div id="log"></div>
<p><input id="text" size="40" placeholder="say something"> <button id="say">say</button></p>
<script>
const socket = new WebSocket(location.origin.replace(/^http/, 'ws') + '/chat');
const log = (line) => { const el = document.getElementById('log'); el.textContent += line + '\\n'; el.scrollTop = el.scrollHeight; };
const room = () => document.getElementById('room').value;
socket.onopen = () => { document.getElementById('status').textContent = 'connected'; socket.send(JSON.stringify({ type: 'join', room: room() })); };
socket.onclose = () => { document.getElementById('status').textContent = 'closed'; };
socket.onmessage = (event) => {
  const message = JSON.parse(event.data);
  if (message.type === 'welcome') log('on worker ' + message.worker);
  else if (message.type === 'message') log('[' + message.room + '] (' + message.worker + ') ' + message.text);
  else log(JSON.stringify(message));
};
document.getElementById('join').onclick = () => socket.send(JSON.stringify({ type: 'join', room: room() }));
document.getElementById('say').onclick = () => {
  const input = document.getElementById('text');
  socket.send(JSON.stringify({ type: 'say', room: room(), text: input.value }));
  input.value = '';
};
</script>
`;

if (cluster.isPrimary) {
  runPrimary();
} else {
  await runWorker();
}
