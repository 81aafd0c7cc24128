// Owns opening driver-API connections without a socket: server drivers from a made-up upgrade request,
// client drivers answered with a computed 101 response, so parse and serialize run on open connections.

import { createHash } from 'node:crypto';
import type { ClientDriver } from '../../src/driver/client.js';
import type { ServerDriver } from '../../src/driver/server.js';
import { client as hybiClient, http as hybiHttp } from './hybi.js';
import { loadWebSocketDriver, type WebSocketDriverDriver } from './peers.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const URL = 'ws://bench.invalid/';

/** An upgrade request as node:http hands it to an 'upgrade' listener. */
function upgradeRequest(extensions?: string): {
  method: string;
  url: string;
  httpVersion: string;
  headers: Record<string, string>;
  socket: Record<string, never>;
} {
  const headers: Record<string, string> = {
    host: 'bench.invalid',
    upgrade: 'websocket',
    connection: 'Upgrade',
    'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'sec-websocket-version': '13',
  };
  if (extensions !== undefined) headers['sec-websocket-extensions'] = extensions;
  return { method: 'GET', url: '/', httpVersion: '1.1', headers, socket: {} };
}

/** RFC 6455 §4.2.2: the 101 response that completes a client's handshake, computed from its request. */
function switchingProtocolsFor(request: Buffer): Buffer {
  const key = /sec-websocket-key:\s*(\S+)/i.exec(request.toString('latin1'))?.[1];
  if (key === undefined) throw new Error('client request without Sec-WebSocket-Key');
  const accept = createHash('sha1')
    .update(key + GUID)
    .digest('base64');
  return Buffer.from(
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
    'latin1',
  );
}

/** The output side of a driver, as a socket piped from `io` would consume it; counts bytes written. */
export interface Sink {
  bytes: number;
}

function drain(io: NodeJS.EventEmitter): Sink {
  const sink = { bytes: 0 };
  io.on('data', (chunk: Buffer) => {
    sink.bytes += chunk.length;
  });
  return sink;
}

export function openHybiServer(): { driver: ServerDriver; sink: Sink } {
  const driver = hybiHttp(upgradeRequest());
  const sink = drain(driver.io);
  driver.start();
  if (driver.readyState !== 1) throw new Error('hybi server driver did not open');
  return { driver, sink };
}

export function openHybiClient(): { driver: ClientDriver; sink: Sink } {
  const driver = hybiClient(URL);
  const requests: Buffer[] = [];
  const capture = (chunk: Buffer) => requests.push(chunk);
  driver.io.on('data', capture);
  driver.start();
  driver.io.removeListener('data', capture);
  driver.io.write(switchingProtocolsFor(Buffer.concat(requests)));
  if (driver.readyState !== 1) throw new Error('hybi client driver did not open');
  return { driver, sink: drain(driver.io) };
}

export function openWebSocketDriverServer(): { driver: WebSocketDriverDriver; sink: Sink } {
  const driver = loadWebSocketDriver().http(upgradeRequest());
  const sink = drain(driver.io);
  driver.start();
  if (driver.readyState !== 1) throw new Error('websocket-driver server did not open');
  return { driver, sink };
}

export function openWebSocketDriverClient(): { driver: WebSocketDriverDriver; sink: Sink } {
  const driver = loadWebSocketDriver().client(URL);
  const requests: Buffer[] = [];
  const capture = (chunk: Buffer) => requests.push(chunk);
  driver.io.on('data', capture);
  driver.start();
  driver.io.removeListener('data', capture);
  driver.io.write(switchingProtocolsFor(Buffer.concat(requests)));
  if (driver.readyState !== 1) throw new Error('websocket-driver client did not open');
  return { driver, sink: drain(driver.io) };
}
