// Owns `hybi listen <port>`: a WebSocket server that echoes (or broadcasts between its clients) and prints
// each connection with its subprotocol and extensions, and each message.

import type { AddressInfo } from 'node:net';
import { WebSocketServer } from '../node/server.js';
import type { WebSocket } from '../websocket.js';
import { messageEvent, type Printer } from './output.js';

export interface ListenCommandOptions {
  port: number;
  host: string;
  path: string | undefined;
  protocols: string[];
  isBroadcast: boolean;
  hasDeflate: boolean;
  printer: Printer;
  isJson: boolean;
  error: (line: string) => void;
  /** Resolves when the server should stop (Ctrl-C). */
  stopped: Promise<void>;
}

/** Runs the server until `stopped`; resolves with the exit status (1 when it could not listen). */
export async function runListen(options: ListenCommandOptions): Promise<number> {
  const { printer, isJson } = options;
  const server = new WebSocketServer({
    port: options.port,
    host: options.host,
    perMessageDeflate: options.hasDeflate,
    ...(options.protocols.length === 0 ? {} : { protocols: options.protocols }),
    ...(options.path === undefined ? {} : { path: options.path }),
  });
  const listening = await new Promise<Error | undefined>((resolve) => {
    server.once('listening', () => resolve(undefined));
    server.once('error', resolve);
  });
  if (listening !== undefined) {
    const code = (listening as NodeJS.ErrnoException).code;
    options.error(
      code === 'EADDRINUSE'
        ? `hybi listen: port ${options.port} is in use; pick another`
        : `hybi listen: cannot listen on ${options.host}:${options.port}: ${listening.message}`,
    );
    return 1;
  }
  server.on('error', (error) => printer.print({ direction: 'info', type: 'error', text: error.message }));
  const address = server.address() as AddressInfo;
  printer.print({
    direction: 'info',
    type: 'listening',
    text: `ws://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}${options.path ?? '/'}`,
    port: address.port,
    mode: options.isBroadcast ? 'broadcast' : 'echo',
  });
  let count = 0;
  server.on('connection', (socket: WebSocket, request) => {
    const connection = ++count;
    printer.print({
      direction: 'info',
      type: 'connection',
      connection,
      from: `${request.socket.remoteAddress}:${request.socket.remotePort}`,
      protocol: socket.protocol,
      extensions: socket.extensions,
    });
    socket.addEventListener('message', (event) => {
      printer.print({ ...messageEvent('in', event.data, isJson), connection });
      const data = event.data as string | Buffer;
      if (options.isBroadcast) {
        const sent = server.broadcast(data, { filter: (other) => other !== socket });
        printer.print({ ...messageEvent('out', data, isJson), connection, recipients: sent });
      } else {
        socket.send(data);
      }
    });
    socket.addEventListener('close', (event) =>
      printer.print({
        direction: 'info',
        type: 'close',
        connection,
        code: event.code,
        reason: event.reason,
      }),
    );
  });
  await options.stopped;
  await server.close();
  return 0;
}
