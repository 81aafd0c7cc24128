// Shared by the hardening tests: servers that record what they open, raw clients that misbehave on
// purpose, hand-made frames, and the leak checks (listeners, timers, uncaught errors).

import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import { afterEach } from 'vitest';
import {
  linkSocket,
  server as rawServerDriver,
  type ServerDriver,
  type SocketLink,
  type SocketLinkOptions,
  type WebSocket,
  type WebSocketCloseEvent,
  WebSocketServer,
  type WebSocketServerOptions,
} from '../../src/index.js';
import { Connection } from '../../src/protocol/connection.js';
import { rawUpgradeRequest } from '../support/upgrade-request.js';

type Cleanup = () => Promise<unknown> | undefined;

/** Registers an afterEach that runs, newest first, the cleanups pushed during a test. */
export function useCleanups(): (cleanup: Cleanup) => void {
  const cleanups: Cleanup[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  return (cleanup) => {
    cleanups.push(cleanup);
  };
}

/** A promise and its resolve function, to await an event seen in a callback. */
export function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve: (value: T) => void = () => {};
  const promise = new Promise<T>((settle) => {
    resolve = settle;
  });
  return { promise, resolve };
}

export function closed(socket: WebSocket): Promise<WebSocketCloseEvent> {
  return once(socket, 'close').then(([event]) => event as WebSocketCloseEvent);
}

/** A WebSocketServer on 127.0.0.1 whose connections arrive, in order, through `nextConnection()`. */
export async function startHybiServer(
  options: WebSocketServerOptions,
  addCleanup: (cleanup: Cleanup) => void,
) {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
  addCleanup(() => server.close());
  await once(server, 'listening');
  const arrived: WebSocket[] = [];
  const waiting: ((socket: WebSocket) => void)[] = [];
  server.on('connection', (socket) => {
    const waiter = waiting.shift();
    if (waiter === undefined) arrived.push(socket);
    else waiter(socket);
  });
  const { port } = server.address() as AddressInfo;
  return {
    server,
    port,
    url: `ws://127.0.0.1:${port}/`,
    nextConnection(): Promise<WebSocket> {
      const socket = arrived.shift();
      if (socket !== undefined) return Promise.resolve(socket);
      return new Promise((resolve) => waiting.push(resolve));
    },
  };
}

/** A node:net server on 127.0.0.1; its sockets are destroyed at cleanup. */
export async function startNetServer(
  onSocket: (socket: net.Socket) => void,
  addCleanup: (cleanup: Cleanup) => void,
) {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    onSocket(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  addCleanup(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => server.close(resolve));
  });
  return (server.address() as AddressInfo).port;
}

/** The socket events a SocketLink listens to; each count must return to what it was before linking. */
export const LINK_SOCKET_EVENTS = ['data', 'end', 'error', 'close', 'drain', 'finish'] as const;

export function listenerCounts(socket: net.Socket): Record<string, number> {
  return Object.fromEntries(LINK_SOCKET_EVENTS.map((event) => [event, socket.listenerCount(event)]));
}

/** One server-side connection of {@link startLinkServer}: the link, its socket, and what it reported. */
export interface LinkedConnection {
  readonly socket: net.Socket;
  readonly link: SocketLink;
  readonly driver: ServerDriver;
  /** Listener counts of the socket before the link attached. */
  readonly listenersBefore: Record<string, number>;
  readonly errors: Error[];
  /** The link's final close. */
  readonly closed: Promise<{ code: number; reason: string; wasClean: boolean }>;
}

/**
 * A node:net server that links each socket to a raw server driver exactly as acceptSocket does, but keeps
 * the SocketLink in view, for the leak checks (`activeTimerCount`, socket listener counts).
 */
export async function startLinkServer(options: SocketLinkOptions, addCleanup: (cleanup: Cleanup) => void) {
  const arrived: LinkedConnection[] = [];
  const waiting: ((connection: LinkedConnection) => void)[] = [];
  const port = await startNetServer((socket) => {
    const listenersBefore = listenerCounts(socket);
    const driver = rawServerDriver();
    const errors: Error[] = [];
    driver.on('error', (error) => errors.push(error));
    const link = linkSocket(driver, socket, options);
    const connection: LinkedConnection = {
      socket,
      link,
      driver,
      listenersBefore,
      errors,
      closed: once(link, 'close').then(([event]) => event),
    };
    driver.start();
    const waiter = waiting.shift();
    if (waiter === undefined) arrived.push(connection);
    else waiter(connection);
  }, addCleanup);
  return {
    port,
    nextConnection(): Promise<LinkedConnection> {
      const connection = arrived.shift();
      if (connection !== undefined) return Promise.resolve(connection);
      return new Promise((resolve) => waiting.push(resolve));
    },
  };
}

export function upgradeRequest(port: number, headers: Record<string, string> = {}, path = '/'): string {
  return rawUpgradeRequest(`127.0.0.1:${port}`, path, headers);
}

const MASK = [0x37, 0xfa, 0x21, 0x3d] as const;

/** A masked client frame, made by hand so that it can break any rule the encoder would refuse to. */
export function clientFrame(
  opcode: number,
  payload: Uint8Array,
  { isFinal = true, rsv1 = false }: { isFinal?: boolean; rsv1?: boolean } = {},
): Buffer {
  const length = payload.length;
  const lengthBytes = length < 126 ? 0 : length < 0x10000 ? 2 : 8;
  const frame = Buffer.alloc(2 + lengthBytes + 4 + length);
  frame[0] = (isFinal ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
  if (lengthBytes === 0) frame[1] = 0x80 | length;
  else if (lengthBytes === 2) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  const maskAt = 2 + lengthBytes;
  for (let index = 0; index < 4; index++) frame[maskAt + index] = MASK[index]!;
  for (let index = 0; index < length; index++) frame[maskAt + 4 + index] = payload[index]! ^ MASK[index % 4]!;
  return frame;
}

/**
 * A client on a bare socket: writes what it is told, and reads the server's response head and frames
 * (with a client-role Connection that never answers anything).
 */
export class RawClient {
  readonly socket: net.Socket;
  private readonly parser = new Connection({ role: 'client', autoPong: false });
  private buffered = Buffer.alloc(0);
  private head: string | undefined;
  private readonly headWaiters: ((head: string) => void)[] = [];
  private readonly events: { type: string; code?: number; data?: unknown }[] = [];
  private readonly eventWaiters: (() => void)[] = [];
  private hasEnded = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('close', () => {
      this.hasEnded = true;
      this.wake();
    });
    // Resets are what several tests do on purpose.
    socket.on('error', () => {});
  }

  static async connect(port: number, addCleanup: (cleanup: Cleanup) => void): Promise<RawClient> {
    const socket = net.connect(port, '127.0.0.1');
    addCleanup(() => {
      socket.destroy();
      return undefined;
    });
    await once(socket, 'connect');
    return new RawClient(socket);
  }

  /** Writes the upgrade request and resolves with the response head. */
  async handshake(port: number, headers: Record<string, string> = {}): Promise<string> {
    this.socket.write(upgradeRequest(port, headers));
    return this.responseHead();
  }

  responseHead(): Promise<string> {
    if (this.head !== undefined) return Promise.resolve(this.head);
    return new Promise((resolve) => this.headWaiters.push(resolve));
  }

  /** Resolves with the code of the server's close frame, or 1006 if the socket closed without one. */
  async closeCode(): Promise<number> {
    for (;;) {
      const close = this.events.find((event) => event.type === 'close' || event.type === 'fail');
      if (close !== undefined) return close.code!;
      if (this.hasEnded) return 1006;
      await new Promise<void>((resolve) => this.eventWaiters.push(resolve));
    }
  }

  /** Resolves once the socket has closed. */
  async ended(): Promise<void> {
    if (!this.hasEnded) await once(this.socket, 'close');
  }

  /** How many pings the server sent. */
  get pingCount(): number {
    return this.events.filter((event) => event.type === 'ping').length;
  }

  private receive(chunk: Buffer): void {
    if (this.head === undefined) {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      const end = this.buffered.indexOf('\r\n\r\n');
      if (end === -1) return;
      this.head = this.buffered.subarray(0, end).toString('latin1');
      const rest = this.buffered.subarray(end + 4);
      for (const resolve of this.headWaiters.splice(0)) resolve(this.head);
      if (!this.head.startsWith('HTTP/1.1 101')) return;
      chunk = rest;
    }
    this.parser.push(Buffer.from(chunk));
    for (let event = this.parser.nextEvent(); event !== undefined; event = this.parser.nextEvent()) {
      if (event.type === 'write') continue;
      this.events.push(event.type === 'close' || event.type === 'fail' ? event : { type: event.type });
    }
    this.wake();
  }

  private wake(): void {
    for (const resolve of this.eventWaiters.splice(0)) resolve();
  }
}

/** Collects uncaught exceptions while a test runs; `errors` must stay empty. */
export function guardUncaught(addCleanup: (cleanup: Cleanup) => void): { errors: unknown[] } {
  const errors: unknown[] = [];
  const record = (error: unknown): void => {
    errors.push(error);
  };
  process.on('uncaughtException', record);
  process.on('unhandledRejection', record);
  addCleanup(() => {
    process.off('uncaughtException', record);
    process.off('unhandledRejection', record);
    return undefined;
  });
  return { errors };
}

/** Resolves after one turn of the event loop: lets already-queued I/O callbacks run (not a sleep). */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
