// Owns one server process of the fan-out benchmark: hybi with its Redis backplane, or socket.io 4 with
// @socket.io/redis-adapter, both over ioredis to the same redis-server. Every connection joins one
// topic (a room for socket.io). Commands on stdin: `publish <round>` publishes one 100-byte text
// message stamped with the round and reports when (process.hrtime, one clock for every process here).
// Run by fanout.ts: node --import tsx server.ts <hybi|socket.io> <redis port>

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server as SocketIoServer } from 'socket.io';
import { reportResult } from '../support/children.js';
import { importHybi } from '../support/hybi.js';

const MAX_LIFETIME_MS = 10 * 60 * 1000;
setTimeout(() => process.exit(0), MAX_LIFETIME_MS).unref();

const [implementation, redisPortText] = process.argv.slice(2);
const redisPort = Number(redisPortText);
const TOPIC = 'fanout';
const MESSAGE_LENGTH = 100;

const publisher = new Redis({ port: redisPort, host: '127.0.0.1' });
const subscriber = new Redis({ port: redisPort, host: '127.0.0.1' });
const server = http.createServer();

let publish: (text: string) => void;
let connections: () => number;
if (implementation === 'hybi') {
  const { WebSocketServer, redisBackplane } =
    await importHybi<typeof import('../../src/index.js')>('index.js');
  const backplane = redisBackplane({ publisher, subscriber });
  const wss = new WebSocketServer({ server, backplane });
  wss.on('connection', (socket) => socket.subscribe(TOPIC));
  publish = (text) => wss.publish(TOPIC, text);
  connections = () => wss.subscriberCount(TOPIC);
} else {
  const io = new SocketIoServer(server, {
    transports: ['websocket'],
    adapter: createAdapter(publisher, subscriber),
  });
  io.on('connection', (socket) => {
    void socket.join(TOPIC);
  });
  publish = (text) => {
    io.to(TOPIC).emit('m', text);
  };
  connections = () => io.sockets.adapter.rooms.get(TOPIC)?.size ?? 0;
}

server.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
// The subscriber connection's SUBSCRIBE is confirmed once a PING after it is answered on it.
await subscriber.ping();
reportResult({ port: (server.address() as AddressInfo).port });

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const [command, argument] = line.trim().split(' ');
  if (command === 'count') reportResult({ connections: connections() });
  if (command === 'publish') {
    const text = `${argument}:`.padEnd(MESSAGE_LENGTH, 'x');
    const publishedAt = process.hrtime.bigint();
    publish(text);
    reportResult({ round: Number(argument), publishedAt: publishedAt.toString() });
  }
});
lines.on('close', () => process.exit(0));
