// Owns the echo server Autobahn's fuzzingclient (and the native suite) test: hybi's websocket-driver API over
// node:http, permessage-deflate on, every message echoed with its type.
//
//   npx tsx autobahn/echo-server.ts [--port 9001] [--host 0.0.0.0] [--no-deflate]

import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { http as acceptWebSocket, type ServerRequest } from '../src/index.js';

export interface EchoServerOptions {
  /** TCP port; 0 picks a free one. Default 9001. */
  port?: number;
  /** Default 127.0.0.1; use 0.0.0.0 when the tester runs in a container without host networking. */
  host?: string;
  /** Offer to accept permessage-deflate (RFC 7692). Default true. */
  perMessageDeflate?: boolean;
}

export interface EchoServer {
  /** e.g. `ws://127.0.0.1:9001` */
  url: string;
  port: number;
  /** Stops listening and drops every connection. */
  close(): Promise<void>;
}

/**
 * Starts the echo server.
 * @example
 * ```ts
 * const server = await startEchoServer({ port: 0 });
 * // test server.url, then
 * await server.close();
 * ```
 */
export async function startEchoServer(options: EchoServerOptions = {}): Promise<EchoServer> {
  const sockets = new Set<Duplex>();
  const server: Server = createServer((_request, response) => {
    // RFC 6455 §4.2.2: a plain request to a WebSocket endpoint gets 426 and the version it speaks.
    response.writeHead(426, {
      'Content-Type': 'text/plain',
      'Sec-WebSocket-Version': '13',
      Upgrade: 'websocket',
    });
    response.end('This is a WebSocket echo server.\n');
  });
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    // A peer that resets the connection must not crash the server; the driver hears of it through 'close'.
    socket.on('error', () => {});
    // node's IncomingMessage carries everything the handshake reads; its `socket` type is the only mismatch.
    const driver = acceptWebSocket(request as ServerRequest, {
      perMessageDeflate: options.perMessageDeflate ?? true,
    });
    driver.io.pipe(socket);
    socket.on('data', (chunk: Buffer) => driver.io.write(chunk));
    // node:http upgrade sockets allow half-open connections: a FIN alone must end the driver too.
    socket.on('end', () => driver.io.end());
    socket.on('close', () => driver.io.end());
    driver.on('error', () => {});
    // RFC 6455 §7.1.1: after the closing handshake the server closes TCP first.
    driver.on('close', () => socket.end());
    driver.on('message', ({ data }) => {
      if (typeof data === 'string') driver.text(data);
      else driver.binary(data);
    });
    driver.io.write(head);
    driver.start();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 9001, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `ws://${host === '0.0.0.0' ? '127.0.0.1' : host}:${address.port}`,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '9001' },
      host: { type: 'string', default: '127.0.0.1' },
      'no-deflate': { type: 'boolean', default: false },
    },
  });
  const server = await startEchoServer({
    port: Number(values.port),
    host: values.host,
    perMessageDeflate: values['no-deflate'] !== true,
  });
  process.stdout.write(
    `hybi echo server at ${server.url} (permessage-deflate ${values['no-deflate'] === true ? 'off' : 'on'})\n`,
  );
  const stop = (): void => {
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
