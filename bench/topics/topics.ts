// Measures topics on one server process: the cost of a subscription (time and heap) and of a publish
// (the server's send loop), for 10,000 sockets in one topic and for 100,000 topics of 3 sockets each,
// beside hybi's `broadcast` and ws's idiom (loop over the clients, or over an application's
// Map<topic, Set<socket>>, calling `send` on each). Clients are lean raw sockets in other processes.
// Run: npm run bench:topics   (node --expose-gc --import tsx bench/topics/topics.ts [sockets])

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer as WsServer, type WebSocket as WsSocket } from 'ws';
import type { WebSocket } from '../../src/websocket.js';
import { type RunningChild, startChild } from '../support/children.js';
import { hybiSource, WebSocketServer } from '../support/hybi.js';

const ONE_TOPIC_SOCKETS = Number(process.argv[2] ?? 10_000);
/** 1,000 sockets × 300 topics each = 300,000 subscriptions over 100,000 topics, 3 sockets per topic. */
const MANY_TOPICS_SOCKETS = 1_000;
const TOPICS_PER_SOCKET = 300;
const TOPIC_COUNT = 100_000;
const ROUNDS = 20;
const MANY_TOPICS_PUBLISHES = 20_000;
const PAYLOAD = Buffer.alloc(100, 'p');
const CLIENT_PROCESSES = 2;

const collectGarbage = (globalThis as { gc?: () => void }).gc;
if (collectGarbage === undefined) throw new Error('run with node --expose-gc (npm run bench:topics does)');

async function settledHeap(): Promise<number> {
  for (let pass = 0; pass < 4; pass++) {
    collectGarbage?.();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return process.memoryUsage().heapUsed;
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
/**
 * hybi corks a socket and writes on the next tick (one writev per socket per tick); ws writes inside
 * send(). Every timing runs until the next setImmediate, after the nextTick queue: writes included.
 */
const afterWrites = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

interface Served<Socket> {
  sockets: Socket[];
  close(): Promise<void>;
}

/** Connects `count` raw clients from child processes and resolves once the server holds them all. */
async function connectClients<Socket>(
  port: number,
  count: number,
  held: () => Socket[],
): Promise<RunningChild[]> {
  const perProcess = Math.ceil(count / CLIENT_PROCESSES);
  const clients: RunningChild[] = [];
  for (let index = 0; index < CLIENT_PROCESSES; index++) {
    const share = Math.min(perProcess, count - index * perProcess);
    clients.push(
      startChild(
        new URL('../support/raw-clients.ts', import.meta.url),
        [String(port), String(share), '0', ''],
        {
          timeoutMs: 5 * 60 * 1000,
        },
      ),
    );
  }
  for (const client of clients) await client.nextResult(120_000);
  for (let attempt = 0; held().length < count; attempt++) {
    if (attempt > 200) throw new Error(`the server holds ${held().length} of ${count} connections`);
    await pause(50);
  }
  return clients;
}

async function hybiFleet(
  count: number,
): Promise<Served<WebSocket> & { wss: InstanceType<typeof WebSocketServer> }> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const wss = new WebSocketServer({ server, heartbeat: false });
  const sockets: WebSocket[] = [];
  wss.on('connection', (socket) => void sockets.push(socket));
  const clients = await connectClients((server.address() as AddressInfo).port, count, () => sockets);
  return {
    wss,
    sockets,
    close: async () => {
      await Promise.all(clients.map((client) => client.stop()));
      await wss.close();
      server.close();
    },
  };
}

async function wsFleet(count: number): Promise<Served<WsSocket> & { wss: WsServer }> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const wss = new WsServer({ server, perMessageDeflate: false });
  const sockets: WsSocket[] = [];
  wss.on('connection', (socket) => void sockets.push(socket));
  const clients = await connectClients((server.address() as AddressInfo).port, count, () => sockets);
  return {
    wss,
    sockets,
    close: async () => {
      await Promise.all(clients.map((client) => client.stop()));
      for (const socket of sockets) socket.terminate();
      await new Promise((resolve) => wss.close(resolve));
      server.close();
    },
  };
}

/** Median milliseconds of `rounds` calls of `send` and their writes, pausing between them for the sockets to drain. */
async function medianLoop(rounds: number, send: () => void): Promise<number> {
  const times: number[] = [];
  send(); // warmup
  await pause(100);
  for (let round = 0; round < rounds; round++) {
    const started = process.hrtime.bigint();
    send();
    await afterWrites();
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
    await pause(100);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] ?? Number.NaN;
}

/** Subscribes per `topicsOf`, timing it and measuring the heap it added. */
async function timedSubscriptions(
  subscribe: () => number,
): Promise<{ nsPer: number; bytesPer: number; count: number }> {
  const before = await settledHeap();
  const started = process.hrtime.bigint();
  const count = subscribe();
  const elapsed = Number(process.hrtime.bigint() - started);
  const after = await settledHeap();
  return { nsPer: elapsed / count, bytesPer: (after - before) / count, count };
}

const topicOf = (socketIndex: number, k: number): string =>
  `topic:${(socketIndex * TOPICS_PER_SOCKET + k) % TOPIC_COUNT}`;

const rows: string[] = [];
const row = (cells: readonly (string | number)[]): void => void rows.push(`| ${cells.join(' | ')} |`);

// --- 10,000 sockets in one topic ---------------------------------------------------------------
{
  const hybi = await hybiFleet(ONE_TOPIC_SOCKETS);
  const subscriptions = await timedSubscriptions(() => {
    for (const socket of hybi.sockets) socket.subscribe('everyone');
    return hybi.sockets.length;
  });
  const publish = await medianLoop(ROUNDS, () => void hybi.wss.publish('everyone', PAYLOAD));
  const broadcast = await medianLoop(ROUNDS, () => void hybi.wss.broadcast(PAYLOAD));
  await hybi.close();
  const ws = await wsFleet(ONE_TOPIC_SOCKETS);
  const room = new Set<WsSocket>();
  const wsSubscriptions = await timedSubscriptions(() => {
    for (const socket of ws.sockets) room.add(socket);
    return ws.sockets.length;
  });
  const wsLoop = await medianLoop(ROUNDS, () => {
    for (const socket of ws.wss.clients) socket.send(PAYLOAD);
  });
  await ws.close();
  row([
    `one topic, ${ONE_TOPIC_SOCKETS} sockets`,
    'hybi `wss.publish`',
    subscriptions.nsPer.toFixed(0),
    subscriptions.bytesPer.toFixed(0),
    publish.toFixed(2),
    (publish / wsLoop).toFixed(2),
  ]);
  row(['', 'hybi `wss.broadcast`', '-', '-', broadcast.toFixed(2), (broadcast / wsLoop).toFixed(2)]);
  row([
    '',
    'ws: a Set, loop `send`',
    wsSubscriptions.nsPer.toFixed(0),
    wsSubscriptions.bytesPer.toFixed(0),
    wsLoop.toFixed(2),
    '1.00',
  ]);
}

// --- 100,000 topics, 3 sockets each ------------------------------------------------------------
{
  const order = Array.from(
    { length: MANY_TOPICS_PUBLISHES },
    (_, index) => `topic:${(index * 7919) % TOPIC_COUNT}`,
  );
  const hybi = await hybiFleet(MANY_TOPICS_SOCKETS);
  const subscriptions = await timedSubscriptions(() => {
    let count = 0;
    hybi.sockets.forEach((socket, index) => {
      for (let k = 0; k < TOPICS_PER_SOCKET; k++) if (socket.subscribe(topicOf(index, k))) count++;
    });
    return count;
  });
  if (hybi.wss.subscriberCount('topic:0') !== 3) throw new Error('expected 3 subscribers per topic');
  const started = process.hrtime.bigint();
  for (const topic of order) {
    hybi.wss.publish(topic, PAYLOAD);
    await afterWrites();
  }
  const publishNs = Number(process.hrtime.bigint() - started) / order.length;
  await hybi.close();

  const ws = await wsFleet(MANY_TOPICS_SOCKETS);
  const topics = new Map<string, Set<WsSocket>>();
  const wsSubscriptions = await timedSubscriptions(() => {
    let count = 0;
    ws.sockets.forEach((socket, index) => {
      for (let k = 0; k < TOPICS_PER_SOCKET; k++) {
        const topic = topicOf(index, k);
        let members = topics.get(topic);
        if (members === undefined) {
          members = new Set();
          topics.set(topic, members);
        }
        members.add(socket);
        count++;
      }
    });
    return count;
  });
  const wsStarted = process.hrtime.bigint();
  for (const topic of order) {
    for (const socket of topics.get(topic) ?? []) socket.send(PAYLOAD);
    await afterWrites();
  }
  const wsPublishNs = Number(process.hrtime.bigint() - wsStarted) / order.length;
  await ws.close();
  row([
    `${TOPIC_COUNT} topics × 3 sockets`,
    'hybi `wss.publish`',
    subscriptions.nsPer.toFixed(0),
    subscriptions.bytesPer.toFixed(0),
    `${(publishNs / 1000).toFixed(1)} µs`,
    (publishNs / wsPublishNs).toFixed(2),
  ]);
  row([
    '',
    'ws: Map<topic, Set>, loop `send`',
    wsSubscriptions.nsPer.toFixed(0),
    wsSubscriptions.bytesPer.toFixed(0),
    `${(wsPublishNs / 1000).toFixed(1)} µs`,
    '1.00',
  ]);
}

console.log(
  `hybi from ${hybiSource()}, Node ${process.version}, 100-byte binary messages, median of ${ROUNDS} send loops, each timed until its writes are done (next setImmediate)\n`,
);
console.log(
  '| case | server | ns per subscription | heap bytes per subscription | send loop per publish (ms) | ratio to ws |',
);
console.log('| --- | --- | --- | --- | --- | --- |');
for (const line of rows) console.log(line);
process.exit(0);
