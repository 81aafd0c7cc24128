// A hostile peer floods a permessage-deflate server with tiny compressed frames as fast as it is let: the
// server stops reading while messages wait for zlib, so what the peer gets accepted and what the server
// holds stay bounded, on HTTP/1.1 and h2c, through the 'message' listener, `for await` and the driver API;
// after the peer vanishes its backlog is dropped, and a fresh connection is still served.

import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import net, { type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { sharedZlibLimiter } from '../../src/extensions/zlib-limiter.js';
import {
  connect,
  Http2ServerDriver,
  http as hybiHttp,
  type WebSocket,
  WebSocketServer,
} from '../../src/index.js';
import { connectHttp2 } from '../../src/node/connect.js';
import { Http2SessionPool } from '../../src/node/http2-session-pool.js';
import { computeAcceptKey } from '../../src/protocol/handshake.js';
import { rawUpgradeRequest } from '../support/upgrade-request.js';
import { closed, deferred, nextTurn, startNetServer, useCleanups } from './support.js';

const addCleanup = useCleanups();

/** Text, FIN + RSV1, mask key 0, "hello" deflated without its 00 00 ff ff tail (RFC 7692 §7.2.1). */
const FLOOD_FRAME = Buffer.from([
  0xc1, 0x87, 0x00, 0x00, 0x00, 0x00, 0xca, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00,
]);
/** 5,000 frames per write, as the attack that found the bug wrote them. */
const FLOOD_BATCH = Buffer.concat(Array.from({ length: 5000 }, () => FLOOD_FRAME));
/** What the attacker tries to get accepted; before backpressure a hybi server took all of it in under a second. */
const ATTACK_BUDGET = 96 * 1024 * 1024;
/** The attack stops by itself after this long, whatever was accepted (a bound on the test, not an assertion). */
const ATTACK_WINDOW_MS = 1000;
/** Writes the attacker keeps in flight. */
const WRITES_IN_FLIGHT = 8;
const OFFER = 'permessage-deflate; server_no_context_takeover; client_max_window_bits';
/** Default zlib concurrency: the limiter every default-configured connection shares. */
const limiter = sharedZlibLimiter(10);
const MiB = 1024 * 1024;
/**
 * What the peer may get accepted: the kernel's socket buffers on both ends (their autotuning maxima),
 * plus what hybi and node hold (a few socket reads) and what the server inflated meanwhile. Before
 * backpressure the whole budget was accepted.
 */
const ACCEPTED_BOUND = kernelBufferBound() + 8 * MiB;
/** Over h2c: the flow-control windows plus what the server inflated in the window. */
const H2C_ACCEPTED_BOUND = 4 * MiB;
/** The Buffers the server may hold at the flood's peak: a few socket reads and zlib chunks. */
const HELD_BYTES_BOUND = 16 * MiB;
/** The JavaScript heap's growth over the flood, garbage of the messages delivered included (no GC forced). */
const HEAP_GROWTH_BOUND = 64 * MiB;

type Transport = 'http/1.1' | 'h2c';
type Api = 'message listener' | 'for await' | 'driver API';

function kernelBufferBound(): number {
  // tcp_rmem and tcp_wmem's third field: the most the kernel lets one socket's buffer grow to.
  const read = (name: string): number => {
    try {
      const fields = readFileSync(`/proc/sys/net/ipv4/${name}`, 'utf8').trim().split(/\s+/);
      return Number(fields[2]);
    } catch {
      return 32 * MiB;
    }
  };
  return read('tcp_rmem') + read('tcp_wmem');
}

/** What the server application saw. */
interface ServerView {
  messages: number;
  /** Resolves with the close code of the next connection to close on the server. */
  nextClose(): Promise<number>;
}

/** Counts messages, answers "are you there?" with "yes", and reports closes. */
function serverView(): ServerView & {
  closed(code: number): void;
  count(data: unknown, reply: (text: string) => void): void;
} {
  const closes: number[] = [];
  const waiting: ((code: number) => void)[] = [];
  const view = {
    messages: 0,
    nextClose(): Promise<number> {
      const code = closes.shift();
      if (code !== undefined) return Promise.resolve(code);
      return new Promise<number>((resolve) => waiting.push(resolve));
    },
    closed(code: number): void {
      const waiter = waiting.shift();
      if (waiter === undefined) closes.push(code);
      else waiter(code);
    },
    count(data: unknown, reply: (text: string) => void): void {
      view.messages++;
      if (data === 'are you there?') reply('yes');
    },
  };
  return view;
}

function serveWebSocket(socket: WebSocket, api: Api, view: ReturnType<typeof serverView>): void {
  socket.addEventListener('close', (event) => view.closed(event.code));
  if (api === 'for await') {
    void (async () => {
      for await (const data of socket) view.count(data, (text) => socket.send(text));
    })();
  } else {
    socket.addEventListener('message', (event) => view.count(event.data, (text) => socket.send(text)));
  }
}

async function listen(server: net.Server | http2.Http2Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

/** A permessage-deflate server (messages up to 1 MiB, as in the attack) on `transport`, through `api`. */
async function startServer(
  transport: Transport,
  api: Api,
): Promise<{ port: number; view: ServerView; http2BytesRead: () => number }> {
  const view = serverView();
  const options = { perMessageDeflate: true, maxLength: MiB } as const;
  const sessions = new Set<http2.ServerHttp2Session>();
  const sockets = new Set<Duplex>();
  let server: net.Server | http2.Http2Server;
  if (api !== 'driver API') {
    // The WebSocketServer's connections are its own to close.
    let wss: WebSocketServer;
    if (transport === 'h2c') {
      const http2Server = http2.createServer();
      wss = new WebSocketServer({ ...options, server: http2Server });
      server = http2Server;
    } else {
      const httpServer = http.createServer();
      wss = new WebSocketServer({ ...options, server: httpServer });
      server = httpServer;
    }
    wss.on('connection', (socket) => serveWebSocket(socket, api, view));
    addCleanup(() => wss.close());
  } else if (transport === 'http/1.1') {
    const httpServer = http.createServer();
    httpServer.on('upgrade', (request, socket, head) => {
      sockets.add(socket);
      socket.on('error', () => {});
      const driver = hybiHttp(request, options);
      driver.on('message', (event) => view.count(event.data, (text) => driver.text(text)));
      driver.on('close', (event) => {
        view.closed(event.code);
        socket.end();
      });
      // pipe() ends io on the socket's 'end' only; a reset ends it here, as the application's duty.
      socket.on('close', () => driver.io.end());
      driver.io.write(head);
      socket.pipe(driver.io as unknown as NodeJS.WritableStream);
      driver.io.pipe(socket);
      driver.start();
    });
    server = httpServer;
  } else {
    const http2Server = http2.createServer({ settings: { enableConnectProtocol: true } });
    http2Server.on('stream', (stream, headers) => {
      sockets.add(stream);
      stream.on('error', () => {});
      const driver = new Http2ServerDriver(
        headers,
        (block, body) => {
          stream.respond(block, { endStream: false });
          if (body !== undefined) stream.end(body);
        },
        options,
      );
      driver.on('message', (event) => view.count(event.data, (text) => driver.text(text)));
      driver.on('close', (event) => {
        view.closed(event.code);
        stream.end();
      });
      stream.on('close', () => driver.io.end());
      stream.pipe(driver.io as unknown as NodeJS.WritableStream);
      driver.io.pipe(stream);
      driver.start();
    });
    server = http2Server;
  }
  if (transport === 'h2c') {
    (server as http2.Http2Server).on('session', (session) => {
      sessions.add(session);
      session.once('close', () => sessions.delete(session));
    });
  }
  const port = await listen(server as net.Server);
  addCleanup(async () => {
    for (const socket of sockets) socket.destroy();
    for (const session of sessions) session.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  // Every byte the h2c server read from TCP (HTTP/2 framing included): what the attacker got sent.
  const connections = new Set<net.Socket>();
  if (transport === 'h2c') server.on('connection', (socket: net.Socket) => connections.add(socket));
  const http2BytesRead = (): number => {
    let total = 0;
    for (const socket of connections) total += socket.bytesRead;
    return total;
  };
  return { port, view, http2BytesRead };
}

/** An attacker's connection: write, say how much of what was written left for the server, vanish. */
interface Attacker {
  write(chunk: Buffer, callback: (error?: Error | null) => void): void;
  /** Of `written` bytes, whose write callbacks fired for `completed`, how many left for the server. */
  accepted(written: number, completed: number): number;
  vanish(): void;
}

async function attackHttp1(port: number): Promise<Attacker> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  addCleanup(() => {
    socket.destroy();
    return undefined;
  });
  await once(socket, 'connect');
  socket.write(rawUpgradeRequest(`127.0.0.1:${port}`, '/', { 'Sec-WebSocket-Extensions': OFFER }));
  let head = '';
  while (!head.includes('\r\n\r\n')) {
    const [chunk] = (await once(socket, 'data')) as [Buffer];
    head += chunk.toString('latin1');
  }
  expect(head).toMatch(/^HTTP\/1\.1 101/);
  expect(head).toMatch(/sec-websocket-extensions: permessage-deflate/i);
  // The attacker never reads what the server sends.
  socket.pause();
  return {
    write: (chunk, callback) => void socket.write(chunk, callback),
    // A socket's write callback fires once the kernel took the bytes.
    accepted: (_written, completed) => completed,
    // RST, as a peer that vanished: no FIN, no close frame.
    vanish: () => void socket.resetAndDestroy(),
  };
}

async function attackH2c(port: number, bytesReadByServer: () => number): Promise<Attacker> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  addCleanup(() => {
    session.destroy();
    return undefined;
  });
  await once(session, 'remoteSettings');
  const stream = session.request(
    {
      ':method': 'CONNECT',
      ':protocol': 'websocket',
      ':scheme': 'http',
      ':path': '/',
      ':authority': `127.0.0.1:${port}`,
      'sec-websocket-version': '13',
      'sec-websocket-extensions': OFFER,
    },
    { endStream: false },
  );
  stream.on('error', () => {});
  const [headers] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders];
  expect(headers[':status']).toBe(200);
  expect(headers['sec-websocket-extensions']).toMatch(/permessage-deflate/);
  stream.pause();
  return {
    write: (chunk, callback) => void stream.write(chunk, callback),
    // Flow control (RFC 9113 §5.2) holds what the server has not granted a window for on our side, so
    // what left is what the server read (the kernels hold at most a window between the two).
    accepted: () => bytesReadByServer(),
    vanish: () => session.destroy(),
  };
}

/**
 * Writes the flood, WRITES_IN_FLIGHT batches at a time, until ATTACK_BUDGET bytes were accepted or the
 * window closed. Resolves with the bytes that left for the server and the highest growth of
 * the process's Buffer memory seen meanwhile (sampled as writes complete).
 */
function flood(attacker: Attacker): Promise<{ accepted: number; peakBufferGrowth: number }> {
  const baseline = process.memoryUsage().arrayBuffers;
  let peakBuffers = baseline;
  let completed = 0;
  let issued = 0;
  let completions = 0;
  const done = deferred<{ accepted: number; peakBufferGrowth: number }>();
  let isDone = false;
  const finish = (): void => {
    if (isDone) return;
    isDone = true;
    clearTimeout(timer);
    peakBuffers = Math.max(peakBuffers, process.memoryUsage().arrayBuffers);
    const accepted = attacker.accepted(issued * FLOOD_BATCH.length, completed);
    done.resolve({ accepted, peakBufferGrowth: peakBuffers - baseline });
  };
  const timer = setTimeout(finish, ATTACK_WINDOW_MS);
  const writeMore = (): void => {
    while (
      !isDone &&
      issued - completions < WRITES_IN_FLIGHT &&
      issued * FLOOD_BATCH.length < ATTACK_BUDGET
    ) {
      issued++;
      attacker.write(FLOOD_BATCH, (error) => {
        completions++;
        if (error == null) completed += FLOOD_BATCH.length;
        if (completions % 16 === 0) peakBuffers = Math.max(peakBuffers, process.memoryUsage().arrayBuffers);
        if (completed >= ATTACK_BUDGET) finish();
        else writeMore();
      });
    }
  };
  writeMore();
  return done.promise;
}

async function freshClient(transport: Transport, port: number): Promise<WebSocket> {
  if (transport === 'http/1.1') return connect(`ws://127.0.0.1:${port}/`, { perMessageDeflate: true });
  const pool = new Http2SessionPool({ idleTimeout: 0 });
  addCleanup(() => {
    pool.destroy();
    return undefined;
  });
  return connectHttp2(`ws://127.0.0.1:${port}/`, { perMessageDeflate: true, sessionPool: pool });
}

const cases: [Transport, Api][] = [
  ['http/1.1', 'message listener'],
  ['http/1.1', 'for await'],
  ['http/1.1', 'driver API'],
  ['h2c', 'message listener'],
  ['h2c', 'for await'],
  ['h2c', 'driver API'],
];

describe('a flood of compressed frames', () => {
  it.each(cases)(
    'over %s with a %s: bounded input, backlog dropped with the peer, others served',
    async (transport, api) => {
      const { port, view, http2BytesRead } = await startServer(transport, api);
      const attacker =
        transport === 'http/1.1' ? await attackHttp1(port) : await attackH2c(port, http2BytesRead);
      const heapBefore = process.memoryUsage().heapUsed;
      const { accepted, peakBufferGrowth } = await flood(attacker);
      const heapGrowth = process.memoryUsage().heapUsed - heapBefore;

      // The server stopped reading: far less than the attacker tried was accepted, and it holds little.
      expect(accepted).toBeLessThan(ACCEPTED_BOUND);
      // Over HTTP/2 a stream that stops being consumed grants no more window (RFC 9113 §5.2): what the
      // peer gets sent is its window (65,535 by default) plus what was inflated (measured: under 1 MiB).
      if (transport === 'h2c') expect(accepted).toBeLessThan(H2C_ACCEPTED_BOUND);
      expect(peakBufferGrowth).toBeLessThan(HELD_BYTES_BOUND);
      expect(heapGrowth).toBeLessThan(HEAP_GROWTH_BOUND);
      // It was inflating all along, never more than it was sent.
      expect(view.messages).toBeGreaterThan(0);
      expect(view.messages * FLOOD_FRAME.length).toBeLessThanOrEqual(accepted);

      const messagesAtVanish = view.messages;
      attacker.vanish();
      expect(await view.nextClose()).toBe(1006);
      const messagesAtClose = view.messages;
      // Until the server reads the reset it still reads what its kernel had received before it (Linux
      // delivers the receive queue first); what it had queued itself was dropped with the transport.
      expect((messagesAtClose - messagesAtVanish) * FLOOD_FRAME.length).toBeLessThan(ACCEPTED_BOUND);
      await nextTurn();
      await nextTurn();
      // Once closed, nothing of the dead peer is processed or waits for zlib.
      expect(view.messages).toBe(messagesAtClose);
      expect(limiter.pending).toBe(0);

      const client = await freshClient(transport, port);
      addCleanup(() => {
        client.close();
        return undefined;
      });
      client.send('are you there?');
      const [reply] = (await once(client, 'message')) as [MessageEvent];
      expect(reply.data).toBe('yes');
    },
  );

  it("does not delay another connection's compressed messages behind the flood's", async () => {
    const { port, view } = await startServer('http/1.1', 'message listener');
    const attacker = await attackHttp1(port);
    const flooding = flood(attacker);
    // Compressed both ways from the first byte (threshold 0), so every round trip needs zlib too.
    const client = await connect(`ws://127.0.0.1:${port}/`, { perMessageDeflate: { threshold: 0 } });
    addCleanup(() => {
      client.close();
      return undefined;
    });
    const floodMessagesPerRoundTrip: number[] = [];
    for (let round = 0; round < 10; round++) {
      const before = view.messages;
      client.send('are you there?');
      const [reply] = (await once(client, 'message')) as [MessageEvent];
      expect(reply.data).toBe('yes');
      floodMessagesPerRoundTrip.push(view.messages - before - 1);
    }
    await flooding;
    attacker.vanish();
    expect(await view.nextClose()).toBe(1006);
    // Each of our messages waited for a handful of the flood's (measured: 4-9), never for a backlog (one socket
    // read of the flood alone is 5,000 messages).
    expect(Math.max(...floodMessagesPerRoundTrip)).toBeLessThan(100);
  });

  it('from a hostile server is bounded for a client as for a server', async () => {
    /** The flood frame as a server sends it: unmasked (RFC 6455 §5.1), FIN + RSV1, "hello" deflated. */
    const serverFrame = Buffer.from([0xc1, 0x07, 0xca, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
    const serverBatch = Buffer.concat(Array.from({ length: 7000 }, () => serverFrame));
    const attackers: Attacker[] = [];
    const ready = deferred<void>();
    const port = await startNetServer((socket) => {
      socket.on('error', () => {});
      let head = '';
      socket.on('data', (chunk: Buffer) => {
        if (head.includes('\r\n\r\n')) return;
        head += chunk.toString('latin1');
        if (!head.includes('\r\n\r\n')) return;
        const key = /sec-websocket-key: *([^\r]+)/i.exec(head)?.[1] ?? '';
        socket.write(
          'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            `Sec-WebSocket-Accept: ${computeAcceptKey(key)}\r\n` +
            'Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n\r\n',
        );
        attackers.push({
          write: (bytes, callback) => void socket.write(bytes, callback),
          accepted: (_written, completed) => completed,
          vanish: () => void socket.resetAndDestroy(),
        });
        ready.resolve();
      });
    }, addCleanup);
    let messages = 0;
    const client = await connect(`ws://127.0.0.1:${port}/`, { perMessageDeflate: true });
    addCleanup(() => {
      client.close();
      return undefined;
    });
    expect(client.extensions).toMatch(/permessage-deflate/);
    client.addEventListener('message', () => {
      messages++;
    });
    await ready.promise;
    const attacker = attackers[0]!;
    const flooding = flood({
      ...attacker,
      write: (_chunk, callback) => attacker.write(serverBatch, callback),
    });
    const { accepted, peakBufferGrowth } = await flooding;
    expect(accepted).toBeLessThan(ACCEPTED_BOUND);
    expect(peakBufferGrowth).toBeLessThan(HELD_BYTES_BOUND);
    expect(messages).toBeGreaterThan(0);
    const clientClosed = closed(client);
    attacker.vanish();
    expect((await clientClosed).code).toBe(1006);
  });
});
