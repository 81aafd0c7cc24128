// Owns the WebSocket servers the socket benchmarks run, one per library, all wired the way each
// library's documentation shows, echoing every message back, and able to count and broadcast to clients.

import http from 'node:http';
import { createRequire } from 'node:module';
import net, { type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ServerDriver } from '../../src/driver/server.js';
import { WebSocketServer as HybiWebSocketServer, http as hybiHttp } from './hybi.js';
import type { Variant } from './measurement.js';
import { loadFayeDeflate, loadWebSocketDriver, type WebSocketDriverDriver } from './peers.js';

/** Messages up to this size are accepted by every server here (ws's default maxPayload). */
const MAX_MESSAGE = 100 * 1024 * 1024;

export interface BenchServer {
  port: number;
  /** Open connections now. */
  connectionCount(): number;
  /** Sends `data` as one binary message to every open connection, the library's usual way. */
  broadcast(data: Buffer): void;
  close(): void;
}

/** What the socket benchmarks accept from a client: what RFC 6455 §4.2.2 answers, for the raw reference server. */
const CANNED_RESPONSE = Buffer.from(
  'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n',
  'latin1',
);

function listening(server: net.Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}

/** hybi's modern API: WebSocketServer and the WebSocket class (what its README shows first). */
async function hybiServer(compression: boolean): Promise<BenchServer> {
  const server = http.createServer();
  const port = await listening(server);
  const wss = new HybiWebSocketServer({ server, perMessageDeflate: compression, maxLength: MAX_MESSAGE });
  wss.on('connection', (socket) => {
    socket.onmessage = (event) => socket.send(event.data as Buffer | string);
  });
  return {
    port,
    connectionCount: () => wss.clients.size,
    // hybi's own way to broadcast: the frame is made once for all clients (ws's README loops over clients).
    broadcast: (data) => void wss.broadcast(data),
    close: () => {
      void wss.close();
      server.close();
    },
  };
}

/** Pipes an upgraded socket through a driver (the websocket-driver idiom hybi's driver API keeps). */
function pipeDriver(
  driver: ServerDriver | WebSocketDriverDriver,
  socket: Duplex,
  head: Buffer,
  drivers: Set<unknown>,
): void {
  drivers.add(driver);
  socket.on('error', () => {});
  driver.on('close', () => {
    drivers.delete(driver);
    socket.end();
  });
  driver.on('error', () => {});
  driver.on('message', (event: { data: string | Buffer }) => {
    if (typeof event.data === 'string') driver.text(event.data);
    else driver.binary(event.data);
  });
  driver.io.write(head);
  (socket.pipe(driver.io as unknown as NodeJS.WritableStream) as unknown as NodeJS.ReadableStream).pipe(
    socket,
  );
  driver.start();
}

async function hybiDriverServer(compression: boolean): Promise<BenchServer> {
  const server = http.createServer();
  const drivers = new Set<ServerDriver>();
  server.on('upgrade', (request, socket, head) => {
    const driver = hybiHttp(request as never, { perMessageDeflate: compression, maxLength: MAX_MESSAGE });
    pipeDriver(driver, socket, head, drivers as Set<unknown>);
  });
  const port = await listening(server);
  return {
    port,
    connectionCount: () => drivers.size,
    broadcast: (data) => {
      for (const driver of drivers) driver.binary(data);
    },
    close: () => server.close(),
  };
}

async function webSocketDriverServer(compression: boolean): Promise<BenchServer> {
  const server = http.createServer();
  const drivers = new Set<WebSocketDriverDriver>();
  const library = loadWebSocketDriver();
  const deflate = loadFayeDeflate();
  server.on('upgrade', (request, socket, head) => {
    const driver = library.http(request, { maxLength: MAX_MESSAGE });
    if (compression) driver.addExtension(deflate);
    pipeDriver(driver, socket, head, drivers as Set<unknown>);
  });
  const port = await listening(server);
  return {
    port,
    connectionCount: () => drivers.size,
    broadcast: (data) => {
      for (const driver of drivers) driver.binary(data);
    },
    close: () => server.close(),
  };
}

interface WsServerSocket {
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): void;
  send(data: Buffer | string, options?: { binary: boolean }): void;
}
interface WsServer {
  clients: Set<WsServerSocket>;
  on(event: 'connection', listener: (socket: WsServerSocket) => void): void;
  on(event: 'listening', listener: () => void): void;
  address(): AddressInfo;
  close(): void;
}

async function wsServer(compression: boolean): Promise<BenchServer> {
  const { WebSocketServer } = createRequire(import.meta.url)('ws') as {
    WebSocketServer: new (options: Record<string, unknown>) => WsServer;
  };
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    perMessageDeflate: compression,
    maxPayload: MAX_MESSAGE,
  });
  await new Promise<void>((resolve) => wss.on('listening', resolve));
  wss.on('connection', (socket) => {
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  });
  return {
    port: wss.address().port,
    connectionCount: () => wss.clients.size,
    broadcast: (data) => {
      for (const client of wss.clients) client.send(data);
    },
    close: () => wss.close(),
  };
}

/**
 * The floor: node:net with no WebSocket at all. It answers an upgrade request with a canned 101 (for the
 * memory and broadcast clients), then echoes bytes; a broadcast writes the ready-made frame to each socket.
 */
async function rawServer(): Promise<BenchServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    socket.once('data', (first: Buffer) => {
      if (first.subarray(0, 4).toString('latin1') === 'GET ') {
        socket.write(CANNED_RESPONSE);
      } else {
        socket.write(first);
      }
      socket.pipe(socket);
    });
  });
  const port = await listening(server);
  return {
    port,
    connectionCount: () => sockets.size,
    broadcast: (data) => {
      // A server frame for `data` as every library sends it: FIN + binary, 7-bit length (broadcasts are small).
      const frame = Buffer.concat([Buffer.from([0x82, data.length]), data]);
      for (const socket of sockets) socket.write(frame);
    },
    close: () => server.close(),
  };
}

/** Starts the server of `variant` (ws-no-addons is ws, its switches set by the parent) on 127.0.0.1. */
export function startServer(variant: Variant, compression: boolean): Promise<BenchServer> {
  switch (variant) {
    case 'hybi':
      return hybiServer(compression);
    case 'hybi-driver':
      return hybiDriverServer(compression);
    case 'ws':
    case 'ws-no-addons':
      return wsServer(compression);
    case 'websocket-driver':
      return webSocketDriverServer(compression);
    case 'reference':
      return rawServer();
  }
}
