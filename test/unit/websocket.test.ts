// The WebSocket class against a hybi server: argument rules of the WHATWG standard, binaryType, states,
// bufferedAmount, handlers, ping, the async iterator and its bounded buffering, timeouts, server shutdown.

import { EventEmitter, once } from 'node:events';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  connect,
  HandshakeError,
  server as rawServerDriver,
  type TransportEvents,
  WebSocket,
  type WebSocketCloseEvent,
  type WebSocketErrorEvent,
  WebSocketServer,
  type WebSocketTransport,
} from '../../src/index.js';
import { Connection } from '../../src/protocol/connection.js';
import { rawUpgradeRequest } from '../support/upgrade-request.js';

const cleanups: (() => Promise<unknown> | undefined)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

type Behaviour = (socket: WebSocket) => void;

/** A hybi server; each connection is handed to `behaviour` (default: echo). */
async function startServer(
  options: ConstructorParameters<typeof WebSocketServer>[0] = {},
  behaviour?: Behaviour,
) {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
  cleanups.push(() => server.close());
  await once(server, 'listening');
  server.on('connection', (socket) => {
    if (behaviour !== undefined) behaviour(socket);
    else socket.addEventListener('message', (event) => socket.send(event.data));
  });
  const { port } = server.address() as AddressInfo;
  return { server, port, url: `ws://127.0.0.1:${port}/` };
}

function track(socket: WebSocket): WebSocket {
  cleanups.push(() => {
    if (socket.readyState === WebSocket.CLOSED) return undefined;
    const closed = once(socket, 'close');
    if (socket.readyState !== WebSocket.CLOSING) socket.close();
    return closed;
  });
  return socket;
}

async function open(url: string, options: Parameters<typeof connect>[1] = {}): Promise<WebSocket> {
  return track(await connect(url, options));
}

function closed(socket: WebSocket): Promise<WebSocketCloseEvent> {
  return once(socket, 'close').then(([event]) => event as WebSocketCloseEvent);
}

function nextData(socket: WebSocket): Promise<unknown> {
  return once(socket, 'message').then(([event]) => (event as MessageEvent).data);
}

/** A promise and its resolve function, to await an event seen in a callback. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve: (value: T) => void = () => {};
  const promise = new Promise<T>((settle) => {
    resolve = settle;
  });
  return { promise, resolve };
}

/** A server that completes the opening handshake and then ignores everything, close frames included. */
async function startSilentServer(): Promise<number> {
  return startTcpServer((socket) => {
    socket.once('data', (request: Buffer) => {
      const driver = rawServerDriver();
      driver.io.on('data', (chunk: Buffer) => socket.write(chunk));
      driver.io.write(request);
      driver.start();
    });
  });
}

/** A plain TCP server (for peers that misbehave on purpose). */
async function startTcpServer(onSocket: (socket: net.Socket) => void) {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    onSocket(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => server.close(resolve));
  });
  return (server.address() as AddressInfo).port;
}

describe('WebSocket constants and construction', () => {
  it('has the standard state constants on the class and on instances', async () => {
    expect([WebSocket.CONNECTING, WebSocket.OPEN, WebSocket.CLOSING, WebSocket.CLOSED]).toEqual([0, 1, 2, 3]);
    const { url } = await startServer();
    const socket = track(new WebSocket(url));
    expect([socket.CONNECTING, socket.OPEN, socket.CLOSING, socket.CLOSED]).toEqual([0, 1, 2, 3]);
    await once(socket, 'open');
  });

  it('throws SyntaxError for a bad URL or subprotocol list, as browsers do', () => {
    expect(() => new WebSocket('ftp://example.com/')).toThrow(
      expect.objectContaining({ name: 'SyntaxError' }),
    );
    expect(() => new WebSocket('ws://example.com/#fragment')).toThrow(
      expect.objectContaining({ name: 'SyntaxError' }),
    );
    expect(() => new WebSocket('ws://127.0.0.1:1/', ['chat', 'chat'])).toThrow(
      expect.objectContaining({ name: 'SyntaxError' }),
    );
    expect(() => new WebSocket('ws://127.0.0.1:1/', 'not a token')).toThrow(
      expect.objectContaining({ name: 'SyntaxError' }),
    );
  });

  it('reports url, protocol and extensions', async () => {
    const { url } = await startServer({ protocols: ['v2', 'v1'], perMessageDeflate: true });
    const socket = track(new WebSocket(`${url}path?query=1`, ['v1', 'v2']));
    expect(socket.url).toBe(`${url}path?query=1`);
    expect(socket.protocol).toBe('');
    expect(socket.extensions).toBe('');
    await once(socket, 'open');
    expect(socket.protocol).toBe('v2');
    expect(socket.extensions).toMatch(/^permessage-deflate/);
  });
});

describe('readyState', () => {
  it('moves CONNECTING → OPEN → CLOSING → CLOSED with the events', async () => {
    const { url } = await startServer();
    const socket = track(new WebSocket(url));
    const states: number[] = [socket.readyState];
    socket.onopen = () => states.push(socket.readyState);
    await once(socket, 'open');
    const closing = closed(socket);
    socket.close();
    states.push(socket.readyState);
    const event = await closing;
    states.push(socket.readyState);
    expect(states).toEqual([0, 1, 2, 3]);
    // close() without arguments sends no body: the server's reply has none either (RFC 6455 §7.1.5).
    expect([event.code, event.wasClean]).toEqual([1005, true]);
  });

  it('throws InvalidStateError for send() while connecting', async () => {
    const { url } = await startServer();
    const socket = track(new WebSocket(url));
    expect(() => socket.send('too early')).toThrow(expect.objectContaining({ name: 'InvalidStateError' }));
    await once(socket, 'open');
  });

  it('abandons a connection closed while connecting: error, then close 1006', async () => {
    const { url } = await startServer();
    const socket = track(new WebSocket(url));
    const events: string[] = [];
    socket.onerror = () => events.push('error');
    const closing = closed(socket);
    socket.close();
    expect(socket.readyState).toBe(WebSocket.CLOSING);
    const event = await closing;
    expect(events).toEqual(['error']);
    expect([event.code, event.reason, event.wasClean]).toEqual([1006, '', false]);
  });
});

describe('close() arguments', () => {
  it.each([999, 1001, 1005, 1006, 2999, 5000, 65535])(
    'throws InvalidAccessError for code %i',
    async (code) => {
      const { url } = await startServer();
      const socket = await open(url);
      expect(() => socket.close(code)).toThrow(expect.objectContaining({ name: 'InvalidAccessError' }));
      expect(socket.readyState).toBe(WebSocket.OPEN);
    },
  );

  it('throws SyntaxError for a reason over 123 bytes of UTF-8', async () => {
    const { url } = await startServer();
    const socket = await open(url);
    expect(() => socket.close(1000, 'x'.repeat(124))).toThrow(
      expect.objectContaining({ name: 'SyntaxError' }),
    );
    // 62 two-byte characters: 62 code units but 124 bytes.
    expect(() => socket.close(1000, 'é'.repeat(62))).toThrow(
      expect.objectContaining({ name: 'SyntaxError' }),
    );
    expect(socket.readyState).toBe(WebSocket.OPEN);
  });

  it.each([
    [1000, 'normal'],
    [3000, 'registered'],
    [4999, 'x'.repeat(123)],
  ])('sends code %i with its reason to the server', async (code, reason) => {
    const serverClosed = deferred<WebSocketCloseEvent>();
    const { url } = await startServer({}, (socket) => socket.addEventListener('close', serverClosed.resolve));
    const socket = await open(url);
    socket.close(code, reason);
    const event = await serverClosed.promise;
    expect([event.code, event.reason, event.wasClean]).toEqual([code, reason, true]);
  });

  it('sends a close frame without a body when close() has neither code nor reason: the peer hears 1005', async () => {
    const serverClosed = deferred<WebSocketCloseEvent>();
    const { url } = await startServer({}, (socket) => socket.addEventListener('close', serverClosed.resolve));
    const socket = await open(url);
    const clientClosed = closed(socket);
    socket.close();
    const [serverEvent, clientEvent] = await Promise.all([serverClosed.promise, clientClosed]);
    expect([serverEvent.code, serverEvent.wasClean]).toEqual([1005, true]);
    expect([clientEvent.code, clientEvent.wasClean]).toEqual([1005, true]);
  });

  it('sends 1000 with the reason when close() has a reason and no code', async () => {
    const serverClosed = deferred<WebSocketCloseEvent>();
    const { url } = await startServer({}, (socket) => socket.addEventListener('close', serverClosed.resolve));
    const socket = await open(url);
    const clientClosed = closed(socket);
    socket.close(undefined, 'done');
    const [serverEvent, clientEvent] = await Promise.all([serverClosed.promise, clientClosed]);
    expect([serverEvent.code, serverEvent.reason, serverEvent.wasClean]).toEqual([1000, 'done', true]);
    expect([clientEvent.code, clientEvent.wasClean]).toEqual([1000, true]);
  });

  it('counts bytes sent after close() in bufferedAmount without sending them', async () => {
    const { url } = await startServer();
    const socket = await open(url);
    socket.close();
    socket.send('12345');
    socket.send(new Uint8Array(10));
    expect(socket.bufferedAmount).toBeGreaterThanOrEqual(15);
  });
});

describe('binaryType', () => {
  it("defaults to 'nodebuffer' and ignores values outside the enum", async () => {
    const { url } = await startServer();
    const socket = await open(url);
    expect(socket.binaryType).toBe('nodebuffer');
    socket.binaryType = 'bogus' as never;
    expect(socket.binaryType).toBe('nodebuffer');
    socket.send(new Uint8Array([1, 2, 3]));
    const data = await nextData(socket);
    expect(Buffer.isBuffer(data)).toBe(true);
    expect(data).toEqual(Buffer.from([1, 2, 3]));
  });

  it("delivers an ArrayBuffer of exactly the message for 'arraybuffer'", async () => {
    const { url } = await startServer();
    const socket = await open(url);
    socket.binaryType = 'arraybuffer';
    socket.send(Buffer.from([4, 5, 6, 7]));
    const data = await nextData(socket);
    expect(data).toBeInstanceOf(ArrayBuffer);
    expect((data as ArrayBuffer).byteLength).toBe(4);
    expect([...new Uint8Array(data as ArrayBuffer)]).toEqual([4, 5, 6, 7]);
  });

  it("delivers a Blob for 'blob'", async () => {
    const { url } = await startServer();
    const socket = await open(url);
    socket.binaryType = 'blob';
    socket.send(new Uint8Array([8, 9]));
    const data = await nextData(socket);
    expect(data).toBeInstanceOf(Blob);
    expect([...new Uint8Array(await (data as Blob).arrayBuffer())]).toEqual([8, 9]);
  });

  it('sends views, ArrayBuffers and Blobs as binary, in the order given', async () => {
    const received: unknown[] = [];
    const allReceived = deferred<void>();
    const { url } = await startServer({}, (socket) =>
      socket.addEventListener('message', (event) => {
        received.push(event.data);
        if (received.length === 5) allReceived.resolve();
      }),
    );
    const socket = await open(url);
    const backing = new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7]);
    socket.send(new Blob([new Uint8Array([0xb1, 0x0b])]));
    socket.send('after the blob');
    socket.send(backing.subarray(2, 5));
    socket.send(new DataView(backing.buffer, 6, 2));
    socket.send(backing.buffer.slice(0, 1));
    await allReceived.promise;
    expect(received).toEqual([
      Buffer.from([0xb1, 0x0b]),
      'after the blob',
      Buffer.from([2, 3, 4]),
      Buffer.from([6, 7]),
      Buffer.from([0]),
    ]);
  });
});

describe('bufferedAmount', () => {
  it('goes up while a large message is queued and back to 0 once it left', async () => {
    const serverGot = deferred<unknown>();
    const { url } = await startServer({}, (socket) =>
      socket.addEventListener('message', (event) => serverGot.resolve(event.data)),
    );
    const socket = await open(url, { perMessageDeflate: false });
    expect(socket.bufferedAmount).toBe(0);
    socket.send(Buffer.alloc(16 * 1024 * 1024, 7));
    expect(socket.bufferedAmount).toBeGreaterThan(0);
    const drained = once(socket, 'drain');
    expect(((await serverGot.promise) as Buffer).length).toBe(16 * 1024 * 1024);
    await drained;
    expect(socket.bufferedAmount).toBe(0);
  });
});

describe('backpressure', () => {
  it('keeps reading while its own write buffer is full, so two hybi peers echoing a burst do not deadlock', async () => {
    const { url } = await startServer();
    const socket = await open(url, { perMessageDeflate: false });
    const count = 48;
    let received = 0;
    const allEchoed = deferred<void>();
    socket.addEventListener('message', () => {
      if (++received === count) allEchoed.resolve();
    });
    // 48 MiB at once: far past both sockets' buffers, so each side writes while its output is full.
    for (let index = 0; index < count; index++) socket.send(Buffer.alloc(1024 * 1024, index));
    expect(socket.bufferedAmount).toBeGreaterThan(16 * 1024 * 1024);
    await allEchoed.promise;
    expect(received).toBe(count);
  });

  it('keeps its write buffer bounded under a ping flood from a peer that never reads the pongs', async () => {
    const connections: WebSocket[] = [];
    let markArrival: (data: unknown) => void = () => {};
    const arrival = new Promise<unknown>((resolve) => {
      markArrival = resolve;
    });
    const { port } = await startServer({}, (socket) => {
      connections.push(socket);
      socket.addEventListener('message', (event) => markArrival(event.data));
    });
    const client = net.connect(port, '127.0.0.1');
    cleanups.push(() => {
      client.destroy();
      return undefined;
    });
    client.write(rawUpgradeRequest(`127.0.0.1:${port}`));
    await once(client, 'data');
    client.pause(); // from here on, the pongs are never read
    const framer = new Connection({ role: 'client' });
    const ping = Buffer.concat(framer.sendPing('p'.repeat(125)));
    // 100,000 pings of 125 bytes: 12.5 MB of pongs owed, far past any socket buffer.
    for (let batch = 0; batch < 50; batch++) {
      for (let index = 0; index < 2000; index++) client.write(ping);
      await new Promise((resolve) => setImmediate(resolve));
    }
    // A message after the flood: once it arrives, every ping before it has been read.
    client.write(Buffer.concat(framer.sendText('after the flood')));
    expect(await arrival).toBe('after the flood');
    // Only the latest pong is held while the socket is full (RFC 6455 §5.5.3): the buffer stays near
    // the socket's high-water mark instead of 12.5 MB.
    expect(connections[0]!.bufferedAmount).toBeLessThan(256 * 1024);
  });
});

describe('event handlers', () => {
  it('calls onopen, onmessage, onclose with the socket as this, next to addEventListener', async () => {
    const { url } = await startServer();
    const socket = track(new WebSocket(url));
    const calls: string[] = [];
    socket.onopen = function (this: WebSocket) {
      calls.push(`open:${this === socket}`);
      this.send('ping me back');
    };
    socket.addEventListener('message', () => calls.push('listener'));
    socket.onmessage = function (this: WebSocket, event) {
      calls.push(`message:${event.data}`);
      this.close(4000, 'enough');
    };
    const replaced = (): void => {
      calls.push('replaced handler');
    };
    socket.onclose = replaced;
    expect(socket.onclose).toBe(replaced);
    const done = new Promise<WebSocketCloseEvent>((resolve) => {
      socket.onclose = (event) => resolve(event);
    });
    const event = await done;
    expect(calls).toEqual(['open:true', 'listener', 'message:ping me back']);
    expect(event).toBeInstanceOf(Event);
    // The peer's reply echoes the code and the reason (as ws and websocket-driver do).
    expect([event.type, event.code, event.reason, event.wasClean]).toEqual(['close', 4000, 'enough', true]);
    socket.onmessage = null;
    expect(socket.onmessage).toBeNull();
  });

  it('fires onerror then onclose 1006 when the server is unreachable', async () => {
    const port = await startTcpServer((socket) => socket.destroy());
    const socket = track(new WebSocket(`ws://127.0.0.1:${port}/`));
    const errors: WebSocketErrorEvent[] = [];
    socket.onerror = (event) => errors.push(event);
    const event = await closed(socket);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.error).toBeInstanceOf(Error);
    expect([event.code, event.wasClean]).toEqual([1006, false]);
  });
});

describe('ping and pong', () => {
  it("resolves ping() with true on the pong and shows the payload to the server's 'ping' listener", async () => {
    const serverPinged = deferred<unknown>();
    const { url } = await startServer({}, (socket) =>
      socket.addEventListener('ping', (event) => serverPinged.resolve(event.data)),
    );
    const socket = await open(url);
    expect(await socket.ping('beat')).toBe(true);
    expect(await serverPinged.promise).toEqual(Buffer.from('beat'));
    expect(() => socket.ping('x'.repeat(126))).toThrow(RangeError);
  });

  it("delivers an unsolicited pong to the peer's 'pong' listener", async () => {
    const serverPonged = deferred<unknown>();
    const { url } = await startServer({}, (socket) =>
      socket.addEventListener('pong', (event) => serverPonged.resolve(event.data)),
    );
    const socket = await open(url);
    socket.pong(new Uint8Array([42]));
    expect(await serverPonged.promise).toEqual(Buffer.from([42]));
  });

  it('resolves an unanswered ping() with false when the connection closes', async () => {
    const port = await startSilentServer();
    const socket = await open(`ws://127.0.0.1:${port}/`, { closeTimeout: 50 });
    const pinged = socket.ping('anyone?');
    socket.close();
    expect(await pinged).toBe(false);
  });
});

describe('terminate()', () => {
  it('drops the connection without a closing handshake: 1006 on both sides, not clean', async () => {
    const serverSide = deferred<WebSocket>();
    const { url } = await startServer({}, (socket) => serverSide.resolve(socket));
    const socket = await open(url);
    const server = await serverSide.promise;
    const serverClosed = closed(server);
    const clientClosed = closed(socket);
    socket.terminate();
    const [clientEvent, serverEvent] = await Promise.all([clientClosed, serverClosed]);
    expect([clientEvent.code, clientEvent.wasClean]).toEqual([1006, false]);
    expect([serverEvent.code, serverEvent.wasClean]).toEqual([1006, false]);
    expect(socket.readyState).toBe(WebSocket.CLOSED);
    socket.terminate(); // closed already: nothing to do, and no throw
  });
});

describe('async iterator', () => {
  it('yields every message in order and ends when the connection closes', async () => {
    const { url } = await startServer({}, (socket) => {
      for (let index = 0; index < 50; index++) socket.send(`message ${index}`);
      socket.send(Buffer.from([1, 2]));
      socket.close(4000, 'that is all');
    });
    const socket = await open(url);
    const messages: unknown[] = [];
    for await (const message of socket) messages.push(message);
    expect(messages).toHaveLength(51);
    expect(messages[0]).toBe('message 0');
    expect(messages[49]).toBe('message 49');
    expect(messages[50]).toEqual(Buffer.from([1, 2]));
    expect(socket.readyState).toBe(WebSocket.CLOSED);
  });

  it('stops at break and leaves the socket open', async () => {
    const { url } = await startServer();
    const socket = await open(url);
    socket.send('one');
    socket.send('two');
    for await (const message of socket) {
      expect(message).toBe('one');
      break;
    }
    expect(socket.readyState).toBe(WebSocket.OPEN);
    // 'two' may have arrived while iterating; what follows still reaches listeners.
    const next = nextData(socket);
    socket.send('three');
    expect(['two', 'three']).toContain(await next);
  });

  it('pauses reading while its buffer is full and resumes once drained', async () => {
    // A server driver fed by hand, so that "paused" is observable: io.write() returns false.
    const driver = rawServerDriver();
    const transport = Object.assign(new EventEmitter<TransportEvents>(), {
      driver,
      bufferedAmount: 0,
      destroy: () => {},
    }) satisfies WebSocketTransport;
    const socket = new WebSocket(transport);
    const request = rawUpgradeRequest('example.com', '/chat');
    driver.io.write(Buffer.from(request, 'latin1'));
    driver.start();
    expect(socket.readyState).toBe(WebSocket.OPEN);
    const peer = new Connection({ role: 'client' });
    const frame = (text: string) => Buffer.concat(peer.sendText(text));

    // Until the application had one turn, events are held and reading is paused.
    expect(driver.io.write(frame('held'))).toBe(false);
    await new Promise((resolve) => setImmediate(resolve));
    const iterator = socket[Symbol.asyncIterator]();
    const accepted: boolean[] = [];
    for (let index = 0; index < 20; index++) accepted.push(driver.io.write(frame(`m${index}`)));
    // 16 queued messages fill the iterator: the 16th write already asks the socket to pause.
    expect(accepted.indexOf(false)).toBe(15);
    // Below half of the limit (fewer than 8 queued) reading resumes.
    const taken: unknown[] = [];
    for (let index = 0; index < 13; index++) taken.push((await iterator.next()).value);
    expect(taken[0]).toBe('m0');
    expect(driver.io.write(frame('after drain'))).toBe(true);
    await iterator.return?.();
    transport.emit('close', { code: 1006, reason: '', wasClean: false });
    expect(socket.readyState).toBe(WebSocket.CLOSED);
  });
});

describe('connect()', () => {
  it('rejects, rather than throws, for a URL it cannot use, over HTTP/1.1 and HTTP/2 alike', async () => {
    for (const http2 of ['off', 'require'] as const) {
      let promise: Promise<WebSocket> | undefined;
      expect(() => {
        promise = connect('ftp://example.com/', { http2 });
      }).not.toThrow();
      await expect(promise).rejects.toThrow(/ftp/);
    }
  });

  it('rejects with the HandshakeError of a refused request, status included', async () => {
    const { url } = await startServer({ verifyRequest: () => ({ status: 401, reason: 'who are you?' }) });
    const failure = await connect(url).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(HandshakeError);
    expect((failure as HandshakeError).status).toBe(401);
  });

  it('rejects with 404 for a path the server does not serve', async () => {
    const { port } = await startServer({ path: '/chat' });
    const failure = await connect(`ws://127.0.0.1:${port}/elsewhere`).catch((error: unknown) => error);
    expect((failure as HandshakeError).status).toBe(404);
  });

  it('rejects after handshakeTimeout when the server never answers', async () => {
    const port = await startTcpServer(() => {});
    const failure = (await connect(`ws://127.0.0.1:${port}/`, { handshakeTimeout: 100 }).catch(
      (error: unknown) => error,
    )) as Error;
    expect(failure.message).toMatch(/timed out after 100 ms/);
  });

  it('rejects with ECONNREFUSED as its cause when nothing listens', async () => {
    // A port that was free a moment ago: listen on it, then close.
    const closedPort = await new Promise<number>((resolve) => {
      const probe = net.createServer();
      probe.listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const failure = (await connect(`ws://127.0.0.1:${closedPort}/`).catch(
      (error: unknown) => error,
    )) as Error;
    expect(failure.message).toMatch(
      /Could not open a WebSocket to ws:\/\/127\.0\.0\.1:\d+\/: connect ECONNREFUSED/,
    );
    expect((failure.cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
  });
});

describe('close timeout', () => {
  it('reports 1006 when the server never answers our close frame', async () => {
    const port = await startSilentServer();
    const socket = await open(`ws://127.0.0.1:${port}/`, { closeTimeout: 150 });
    const closing = closed(socket);
    socket.close(1000);
    const event = await closing;
    expect([event.code, event.wasClean]).toEqual([1006, false]);
  });

  it("closes a client's TCP itself when the server completed the handshake but never closes TCP", async () => {
    // RFC 6455 §7.1.1: the client waits for the server's FIN, then may close after a timeout. The close
    // handshake did complete, so the code is the server's and the close is clean.
    const serverSocketEnded = deferred<void>();
    const port = await startTcpServer((socket) => {
      socket.once('data', (request: Buffer) => {
        const driver = rawServerDriver();
        driver.io.on('data', (chunk: Buffer) => socket.write(chunk));
        socket.on('data', (chunk: Buffer) => driver.io.write(chunk));
        socket.on('end', () => serverSocketEnded.resolve());
        driver.io.write(request);
        driver.start();
      });
    });
    const socket = await open(`ws://127.0.0.1:${port}/`, { closeTimeout: 100 });
    const closing = closed(socket);
    socket.close(4000, 'linger');
    const event = await closing;
    await serverSocketEnded.promise;
    expect([event.code, event.wasClean]).toEqual([4000, true]);
  });

  it('reports 1006 on the server when the client never answers its close frame', async () => {
    const serverClosed = deferred<WebSocketCloseEvent>();
    const { port } = await startServer({ closeTimeout: 150 }, (socket) => {
      socket.addEventListener('close', serverClosed.resolve);
      socket.close(4000, 'leave');
    });
    // A client that sends its handshake and then reads nothing more.
    const client = net.connect(port, '127.0.0.1');
    cleanups.push(() => {
      client.destroy();
      return undefined;
    });
    client.write(rawUpgradeRequest(`127.0.0.1:${port}`));
    const event = await serverClosed.promise;
    expect([event.code, event.wasClean]).toEqual([1006, false]);
  });
});

describe('WebSocketServer', () => {
  it('answers a plain HTTP request with 426 Upgrade Required', async () => {
    const { port } = await startServer();
    const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: '/', agent: false }, resolve).on('error', reject);
    });
    response.resume();
    expect(response.statusCode).toBe(426);
    expect(response.headers.upgrade).toBe('websocket');
  });

  it('tracks its clients and closes them with 1001 on close()', async () => {
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const first = await open(`ws://127.0.0.1:${port}/`);
    const second = await open(`ws://127.0.0.1:${port}/`);
    while (server.clients.size < 2) await once(server, 'connection');
    const firstClosed = closed(first);
    const secondClosed = closed(second);
    await server.close();
    expect(server.clients.size).toBe(0);
    const events = await Promise.all([firstClosed, secondClosed]);
    expect(events.map((event) => [event.code, event.wasClean])).toEqual([
      [1001, true],
      [1001, true],
    ]);
    const failure = await connect(`ws://127.0.0.1:${port}/`).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Error);
  });

  it("reports a verifyRequest that throws as 'error' and answers 500", async () => {
    const { server, url } = await startServer({
      verifyRequest: () => {
        throw new Error('database down');
      },
    });
    const serverError = once(server, 'error');
    const failure = (await connect(url).catch((error: unknown) => error)) as HandshakeError;
    expect(failure.status).toBe(500);
    expect(((await serverError)[0] as Error).message).toBe('database down');
  });

  it('accepts after an async verifyRequest, which sees the request', async () => {
    const seen: (string | undefined)[] = [];
    const { url } = await startServer({
      verifyRequest: async (request) => {
        await new Promise((resolve) => setImmediate(resolve));
        seen.push(request.url, String(request.headers['x-token']));
        return request.headers['x-token'] === 'secret';
      },
    });
    const socket = await open(`${url}room`, { headers: { 'X-Token': 'secret' } });
    socket.send('hi');
    expect(await nextData(socket)).toBe('hi');
    const refused = (await connect(url).catch((error: unknown) => error)) as HandshakeError;
    expect(refused.status).toBe(403);
    expect(seen).toEqual(['/room', 'secret', '/', 'undefined']);
  });
});

describe('WebSocketServer#broadcast', () => {
  function nextMessage(socket: WebSocket): Promise<unknown> {
    return once(socket, 'message').then(([event]) => (event as MessageEvent).data);
  }

  /** A server whose server-side sockets arrive in `accepted`, in connection order. */
  async function broadcastServer(options: ConstructorParameters<typeof WebSocketServer>[0] = {}) {
    const accepted: WebSocket[] = [];
    const started = await startServer(options, (socket) => accepted.push(socket));
    return { ...started, accepted };
  }

  it('reaches every open client, compressed or not, and skips those the filter refuses', async () => {
    const { server, url, accepted } = await broadcastServer({ perMessageDeflate: true });
    const plain = await open(url, { perMessageDeflate: false });
    const compressed = await open(url, { perMessageDeflate: true });
    const excluded = await open(url, { perMessageDeflate: false });
    expect(accepted).toHaveLength(3);
    expect(compressed.extensions).toContain('permessage-deflate');
    const refused = accepted[2];
    const arrivals = Promise.all([nextMessage(plain), nextMessage(compressed)]);
    let excludedGotOne = false;
    excluded.addEventListener('message', () => {
      excludedGotOne = true;
    });
    const text = 'news for all, '.repeat(100);
    expect(server.broadcast(text, { filter: (socket) => socket !== refused })).toBe(2);
    expect(await arrivals).toEqual([text, text]);
    // A ping round trip after the broadcast: had the excluded client been sent the message, it came first.
    expect(await excluded.ping()).toBe(true);
    expect(excludedGotOne).toBe(false);
  });

  it('sends binary as binary, and nothing to clients that are closing', async () => {
    const { server, url, accepted } = await broadcastServer();
    const first = await open(url);
    const second = await open(url);
    expect(accepted).toHaveLength(2);
    accepted[0]!.close();
    const arrival = nextMessage(second);
    expect(server.broadcast(new Uint8Array([9, 8, 7]))).toBe(1);
    expect([...((await arrival) as Buffer)]).toEqual([9, 8, 7]);
    await closed(first);
  });
});
