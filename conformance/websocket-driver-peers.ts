// Owns the websocket-driver reference peer: an echo server built the way faye's README wires the driver to a
// node:http upgrade, so the conformance suite can be run against a second independent implementation.

import { createServer, type IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ReferenceServer } from './ws-peers.js';

/** The part of websocket-driver's server driver this peer uses (the package ships no types). */
interface DriverStream extends Duplex {}
interface WebSocketDriver {
  io: DriverStream;
  messages: DriverStream;
  on(event: 'close' | 'error', listener: () => void): void;
  addExtension(extension: unknown): void;
  start(): boolean;
}
interface WebSocketDriverModule {
  http(request: IncomingMessage, options?: { maxLength?: number }): WebSocketDriver;
}

// Both packages are CommonJS; createRequire keeps this file an ES module.
const require = createRequire(import.meta.url);

/** Options of {@link startWebSocketDriverEchoServer}. */
export interface WebSocketDriverEchoOptions {
  /** Add faye's permessage-deflate extension (off by default: the driver's own behaviour is the point). */
  perMessageDeflate?: boolean;
}

/** A websocket-driver echo server on a free 127.0.0.1 port: every message back with its type. */
export async function startWebSocketDriverEchoServer(
  options: WebSocketDriverEchoOptions = {},
): Promise<ReferenceServer> {
  const websocket = require('websocket-driver') as WebSocketDriverModule;
  const deflate = options.perMessageDeflate === true ? (require('permessage-deflate') as unknown) : undefined;
  const sockets = new Set<Socket>();
  const server = createServer((_request, response) => {
    // Only upgrades are served; a plain request gets what a WebSocket-only endpoint should say.
    response.writeHead(426, { Connection: 'close' }).end();
  });
  server.on('upgrade', (request: IncomingMessage, socket: Socket, head: Buffer) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    // The tester provokes resets on purpose; an unhandled 'error' would crash the process.
    socket.on('error', () => {});
    // Same limit as the ws peer, so category 9's large messages are not refused by a default cap.
    const driver = websocket.http(request, { maxLength: 100 * 1024 * 1024 });
    if (deflate !== undefined) driver.addExtension(deflate);
    driver.on('error', () => {});
    // websocket-driver does not end the TCP connection itself; RFC 6455 §7.1.1 leaves that to the server.
    driver.on('close', () => socket.end());
    driver.io.write(head);
    socket.pipe(driver.io).pipe(socket);
    // The messages stream is readable and writable: piping it into itself echoes each message as it came.
    driver.messages.pipe(driver.messages);
    driver.start();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
