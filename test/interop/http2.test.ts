// WebSockets over HTTP/2 (RFC 8441) with node:http2, over TLS (h2) and cleartext (h2c): hybi's client against
// hybi's server, many WebSockets on one session, resets and sessions going away, flow control, the server's
// answers to bad requests (seen by a raw node:http2 client), and the client's fallback to HTTP/1.1.

import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  connect,
  HandshakeError,
  WebSocket,
  type WebSocketCloseEvent,
  WebSocketServer,
  type WebSocketServerOptions,
} from '../../src/index.js';
import { connectAny, connectHttp2 } from '../../src/node/connect.js';
import { Http2UnsupportedError } from '../../src/node/http2-client.js';
import {
  type AttachHttp2Options,
  attachHttp2,
  type Http2WebSocketRequest,
  httpProtocolOf,
} from '../../src/node/http2-server.js';
import { Http2SessionPool } from '../../src/node/http2-session-pool.js';
import { createSelfSignedCertificate } from '../support/certificates.js';

const selfSigned = createSelfSignedCertificate('http2.test.ts: the h2 (TLS) cases');
const hasOpenssl = selfSigned !== undefined;
const certificate = { key: selfSigned?.key ?? Buffer.alloc(0), cert: selfSigned?.cert ?? Buffer.alloc(0) };

afterAll(() => selfSigned?.cleanup());

const cleanups: (() => Promise<unknown> | undefined)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

type Kind = 'h2' | 'h2c';
const kinds: Kind[] = hasOpenssl ? ['h2', 'h2c'] : ['h2c'];

interface Connection {
  socket: WebSocket;
  request: Http2WebSocketRequest;
}

/**
 * An http2 server (TLS with HTTP/1.1 allowed for h2, cleartext for h2c) with hybi attached. Each WebSocket
 * is handed to `onConnection`, or echoed. Closed after the test: WebSockets, sessions, then the server.
 */
async function startServer(
  kind: Kind,
  options: AttachHttp2Options & { settings?: http2.Settings; isAttached?: boolean } = {},
  onConnection?: (connection: Connection) => void,
) {
  const { settings, isAttached = true, ...attachOptions } = options;
  const server =
    kind === 'h2'
      ? http2.createSecureServer({ ...certificate, allowHTTP1: true, ...(settings ? { settings } : {}) })
      : http2.createServer(settings ? { settings } : {});
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  const host = isAttached ? attachHttp2(server, attachOptions) : undefined;
  const connections: Connection[] = [];
  host?.on('connection', (socket, request) => {
    connections.push({ socket, request });
    if (onConnection !== undefined) onConnection({ socket, request });
    else socket.addEventListener('message', (event) => socket.send(event.data as Buffer | string));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  cleanups.push(async () => {
    for (const session of sessions) session.destroy();
    await host?.close();
    await new Promise((resolve) => server.close(resolve));
  });
  const scheme = kind === 'h2' ? 'wss' : 'ws';
  return {
    server,
    host,
    port,
    sessions,
    connections,
    url: (target = '/') => `${scheme}://localhost:${port}${target}`,
  };
}

function newPool(): Http2SessionPool {
  const pool = new Http2SessionPool({ idleTimeout: 0 });
  cleanups.push(() => {
    pool.destroy();
    return undefined;
  });
  return pool;
}

function clientOptions(kind: Kind, pool: Http2SessionPool) {
  return kind === 'h2' ? { sessionPool: pool, ca: certificate.cert } : { sessionPool: pool };
}

function nextMessage(socket: WebSocket): Promise<unknown> {
  return once(socket, 'message').then(([event]) => (event as MessageEvent).data);
}

function closed(socket: WebSocket): Promise<WebSocketCloseEvent> {
  return once(socket, 'close').then(([event]) => event as WebSocketCloseEvent);
}

function eventOf(event: WebSocketCloseEvent) {
  return { code: event.code, reason: event.reason, wasClean: event.wasClean };
}

/** Resolves once `condition` holds, checking after each turn of the event loop. */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

describe.each(kinds)('over %s', (kind) => {
  describe.each([false, true])('with permessage-deflate %s', (isDeflate) => {
    it('echoes text, binary, empty and 16 MiB messages, pings both ways, and closes with the code given', async () => {
      const { url, connections } = await startServer(kind, {
        perMessageDeflate: isDeflate,
        protocols: ['chat'],
      });
      const pool = newPool();
      const socket = await connectHttp2(url('/echo?x=1'), {
        ...clientOptions(kind, pool),
        perMessageDeflate: isDeflate,
        protocols: ['superchat', 'chat'],
      });
      const [{ socket: peer, request }] = connections as [Connection];
      expect([httpProtocolOf(socket), httpProtocolOf(peer)]).toEqual([kind, kind]);
      expect([socket.protocol, peer.protocol]).toEqual(['chat', 'chat']);
      expect([socket.extensions, peer.extensions]).toEqual(
        isDeflate ? ['permessage-deflate', 'permessage-deflate'] : ['', ''],
      );
      expect([request.method, request.url, request.httpVersion, request.headers[':protocol']]).toEqual([
        'CONNECT',
        '/echo?x=1',
        '2.0',
        'websocket',
      ]);
      expect(peer.url).toBe(url('/echo?x=1').replace('localhost', request.authority.split(':')[0]!));

      socket.send('héllo over HTTP/2');
      expect(await nextMessage(socket)).toBe('héllo over HTTP/2');
      socket.send(Buffer.from([0, 1, 2, 255]));
      expect(await nextMessage(socket)).toEqual(Buffer.from([0, 1, 2, 255]));
      socket.send('');
      expect(await nextMessage(socket)).toBe('');
      socket.send(Buffer.alloc(0));
      expect(await nextMessage(socket)).toEqual(Buffer.alloc(0));
      // Random bytes; with deflate, a random 4 KiB block repeated, which compresses in a fraction of the time.
      const large = isDeflate
        ? Buffer.alloc(16 * 1024 * 1024, randomBytes(4096))
        : randomBytes(16 * 1024 * 1024);
      socket.send(large);
      // Buffer.equals: a deep equality over 16 Mi elements would take the test runner's memory.
      expect(((await nextMessage(socket)) as Buffer).equals(large)).toBe(true);

      expect(await socket.ping('from client')).toBe(true);
      expect(await peer.ping('from server')).toBe(true);

      const peerClosed = closed(peer);
      const clientClosed = closed(socket);
      socket.close(4001, 'client leaves');
      expect(eventOf(await peerClosed)).toEqual({ code: 4001, reason: 'client leaves', wasClean: true });
      expect(eventOf(await clientClosed)).toMatchObject({ code: 4001, wasClean: true });
      // RFC 8441 §5: the orderly close is END_STREAM both ways, not a reset.
      if (!request.stream.closed) await once(request.stream, 'close');
      expect(request.stream.rstCode).toBe(http2.constants.NGHTTP2_NO_ERROR);
    });
  });

  it('closes from the server with its code; the stream ends cleanly and the session goes on', async () => {
    const { url, connections, sessions } = await startServer(kind);
    const pool = newPool();
    const first = await connectHttp2(url('/a'), clientOptions(kind, pool));
    const second = await connectHttp2(url('/b'), clientOptions(kind, pool));
    expect(sessions.size).toBe(1);
    const [{ socket: peer, request }] = connections as [Connection];
    const clientClosed = closed(first);
    const peerClosed = closed(peer);
    peer.close(4002, 'server leaves');
    expect(eventOf(await clientClosed)).toEqual({ code: 4002, reason: 'server leaves', wasClean: true });
    expect(eventOf(await peerClosed)).toMatchObject({ code: 4002, wasClean: true });
    if (!request.stream.closed) await once(request.stream, 'close');
    expect(request.stream.rstCode).toBe(http2.constants.NGHTTP2_NO_ERROR);
    second.send('still here');
    expect(await nextMessage(second)).toBe('still here');
    expect(sessions.size).toBe(1);
  });

  it('multiplexes 100 WebSockets on one session; one reset mid-message leaves the others untouched', async () => {
    const { url, connections, sessions } = await startServer(kind, {}, ({ socket, request }) => {
      socket.addEventListener('message', (event) => {
        if (request.url === '/50' && event.data === 'send me a lot') {
          // Far more than the stream's flow-control window: the reset comes while the message is in flight.
          socket.send(Buffer.alloc(8 * 1024 * 1024, 5));
          setImmediate(() => request.stream.close(http2.constants.NGHTTP2_CANCEL));
          return;
        }
        socket.send(event.data as Buffer | string);
      });
    });
    const pool = newPool();
    const sockets = await Promise.all(
      Array.from({ length: 100 }, (_, index) => connectHttp2(url(`/${index}`), clientOptions(kind, pool))),
    );
    expect([sessions.size, pool.size, connections.length]).toEqual([1, 1, 100]);
    const victim = sockets[50]!;
    const victimEvents: string[] = [];
    victim.addEventListener('message', () => victimEvents.push('message'));
    victim.addEventListener('error', () => victimEvents.push('error'));
    const victimClosed = closed(victim);
    const peerOfVictim = connections.find((connection) => connection.request.url === '/50')!.socket;
    const peerOfVictimClosed = closed(peerOfVictim);
    victim.send('send me a lot');

    // Interleaved traffic on the 99 others: ten rounds, each WebSocket sends one message per round.
    const others = sockets.filter((socket) => socket !== victim);
    const received = others.map(() => [] as string[]);
    const allReceived = Promise.all(
      others.map(
        (socket, index) =>
          new Promise<void>((resolve) => {
            socket.addEventListener('message', (event) => {
              received[index]!.push(event.data as string);
              if (received[index]!.length === 10) resolve();
            });
          }),
      ),
    );
    for (let round = 0; round < 10; round++) {
      others.forEach((socket, index) => {
        socket.send(`${index}:${round}`);
      });
      await new Promise((resolve) => setImmediate(resolve));
    }
    await allReceived;
    received.forEach((messages, index) => {
      expect(messages).toEqual(Array.from({ length: 10 }, (_, round) => `${index}:${round}`));
    });

    // RFC 8441 §5: a reset is the TCP abort of RFC 6455, so 1006; the message in flight is not delivered.
    expect(eventOf(await victimClosed)).toEqual({ code: 1006, reason: '', wasClean: false });
    expect(eventOf(await peerOfVictimClosed)).toMatchObject({ code: 1006, wasClean: false });
    expect(victimEvents.includes('message')).toBe(false);

    const allClosed = Promise.all(others.map((socket) => closed(socket)));
    for (const socket of others) socket.close(1000, 'done');
    for (const event of await allClosed) expect(eventOf(event)).toMatchObject({ code: 1000, wasClean: true });
    expect(sessions.size).toBe(1);
  });

  it('reports a client that resets mid-frame as 1006 on the server, and the session’s other stream goes on', async () => {
    const { port, connections } = await startServer(kind);
    const session = rawSession(kind, port);
    const peerEvents: string[] = [];
    const first = session.request(extendedConnect(port, '/first'), { endStream: false });
    expect((await once(first, 'response'))[0][':status']).toBe(200);
    const second = session.request(extendedConnect(port, '/second'), { endStream: false });
    expect((await once(second, 'response'))[0][':status']).toBe(200);
    const peer = connections.find((connection) => connection.request.url === '/first')!.socket;
    peer.addEventListener('error', () => peerEvents.push('error'));
    peer.addEventListener('message', () => peerEvents.push('message'));
    const peerClosed = closed(peer);
    // Half of a frame that announces 1 MiB, then RST_STREAM(CANCEL).
    first.write(maskedFrame(0x2, Buffer.alloc(1024 * 1024, 1)).subarray(0, 100_000));
    first.close(http2.constants.NGHTTP2_CANCEL);
    expect(eventOf(await peerClosed)).toEqual({ code: 1006, reason: '', wasClean: false });
    expect(peerEvents).toEqual([]);
    second.write(maskedFrame(0x1, Buffer.from('and yet')));
    const [echo] = (await once(second, 'data')) as [Buffer];
    expect(echo).toEqual(Buffer.from([0x81, 7, ...Buffer.from('and yet')]));
  });

  it('reports a session that goes away as 1006 on both ends, with no uncaught error', async () => {
    const { url, connections, sessions } = await startServer(kind);
    const pool = newPool();
    const sockets = await Promise.all(
      [1, 2, 3].map((index) => connectHttp2(url(`/${index}`), clientOptions(kind, pool))),
    );
    const clientCloses = sockets.map((socket) => closed(socket));
    const serverCloses = connections.map(({ socket }) => closed(socket));
    for (const session of sessions) session.destroy();
    for (const event of await Promise.all(clientCloses))
      expect(eventOf(event)).toMatchObject({ code: 1006, wasClean: false });
    for (const event of await Promise.all(serverCloses))
      expect(eventOf(event)).toMatchObject({ code: 1006, wasClean: false });
    // The pool forgot the dead session: the next WebSocket gets a new one.
    const again = await connectHttp2(url('/again'), clientOptions(kind, pool));
    again.send('new session');
    expect(await nextMessage(again)).toBe('new session');
    expect(pool.size).toBe(1);
  });

  it('after GOAWAY, open WebSockets finish on the old session and new ones get a new session', async () => {
    const { url, sessions } = await startServer(kind);
    const pool = newPool();
    const before = await connectHttp2(url('/before'), clientOptions(kind, pool));
    const [serverSession] = [...sessions] as [http2.ServerHttp2Session];
    // The next request races the GOAWAY: sent before the client read it, the server refuses the stream
    // unprocessed (REFUSED_STREAM) and the client retries on a new session (RFC 9113 §8.7).
    serverSession.goaway(http2.constants.NGHTTP2_NO_ERROR);
    const after = await connectHttp2(url('/after'), clientOptions(kind, pool));
    for (const socket of [before, after]) {
      socket.send('alive');
      expect(await nextMessage(socket)).toBe('alive');
    }
    expect(sessions.size).toBe(2);
  });

  it('backpressure: a reader that stops makes the writer wait on the HTTP/2 window; memory stays bounded', async () => {
    let resolvePeer: (socket: WebSocket) => void = () => {};
    const peerReady = new Promise<WebSocket>((resolve) => {
      resolvePeer = resolve;
    });
    const { url } = await startServer(kind, {}, ({ socket, request }) => {
      if (request.url === '/slow') resolvePeer(socket);
      else socket.addEventListener('message', (event) => socket.send(event.data as string));
    });
    const pool = newPool();
    const reader = await connectHttp2(url('/slow'), clientOptions(kind, pool));
    const bystander = await connectHttp2(url('/bystander'), clientOptions(kind, pool));
    const writer = await peerReady;
    // The reader's application stops consuming: an iterator nobody pulls from pauses reading at 1 MiB.
    const iterator = reader[Symbol.asyncIterator]();
    let deliveredBytes = 0;
    reader.addEventListener('message', (event) => {
      deliveredBytes += (event.data as Buffer).length;
    });

    const chunk = Buffer.alloc(64 * 1024, 9);
    const highWater = 512 * 1024;
    let sentBytes = 0;
    /** Sends while the write buffer is below highWater, waiting for 'drain' in between; stops at `limit`. */
    async function write(limit: number): Promise<'done' | 'stalled'> {
      while (sentBytes < limit) {
        while (writer.bufferedAmount < highWater && sentBytes < limit) {
          writer.send(chunk);
          sentBytes += chunk.length;
        }
        if (sentBytes >= limit) return 'done';
        const drained = await Promise.race([
          once(writer, 'drain').then(() => true),
          new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 400)),
        ]);
        if (!drained) return 'stalled';
      }
      return 'done';
    }

    expect(await write(64 * 1024 * 1024)).toBe('stalled');
    // The writer holds what the window does not let out; what left it is what the reader holds: its
    // iterator's 1 MiB (16 messages), and at most the stream's 64 KiB window in flight.
    expect(writer.bufferedAmount).toBeGreaterThanOrEqual(highWater);
    expect(deliveredBytes).toBeLessThanOrEqual(1024 * 1024 + chunk.length);
    expect(sentBytes - writer.bufferedAmount).toBeLessThan(1024 * 1024 + 2 * 65_535);
    expect(sentBytes).toBeLessThan(2 * 1024 * 1024);

    // One stalled stream does not stall the session: the other WebSocket still talks.
    bystander.send('not blocked');
    expect(await nextMessage(bystander)).toBe('not blocked');

    // The reader resumes: everything arrives, in order, and the writer can go on to 16 MiB.
    const target = 16 * 1024 * 1024;
    let readBytes = 0;
    const reading = (async () => {
      while (readBytes < target) {
        const result = await iterator.next();
        if (result.done === true) break;
        const data = result.value as Buffer;
        expect(data[0]).toBe(9);
        readBytes += data.length;
      }
    })();
    expect(await write(target)).toBe('done');
    await reading;
    expect(readBytes).toBe(target);
    await iterator.return?.();
  });

  it('answers an invalid request with its status and reason; the session stays usable', async () => {
    const { port } = await startServer(kind);
    const session = rawSession(kind, port);
    const missingVersion = await rawExchange(
      session,
      extendedConnect(port, '/', { 'sec-websocket-version': undefined }),
    );
    expect(missingVersion.status).toBe(426);
    expect(missingVersion.headers['sec-websocket-version']).toBe('13');
    expect(missingVersion.body).toBe(
      'The sec-websocket-version header is missing; this server speaks version 13',
    );
    const oldVersion = await rawExchange(
      session,
      extendedConnect(port, '/', { 'sec-websocket-version': '8' }),
    );
    expect([oldVersion.status, oldVersion.headers['sec-websocket-version']]).toEqual([426, '13']);
    const unknownProtocol = await rawExchange(
      session,
      extendedConnect(port, '/', { ':protocol': 'connect-udp' }),
    );
    expect([unknownProtocol.status, unknownProtocol.body]).toEqual([
      501,
      'The protocol "connect-udp" is not served here',
    ]);
    const badProtocols = await rawExchange(
      session,
      extendedConnect(port, '/', { 'sec-websocket-protocol': 'chat, chat' }),
    );
    expect([badProtocols.status, badProtocols.headers['content-type']]).toEqual([
      400,
      'text/plain; charset=utf-8',
    ]);
    const badExtensions = await rawExchange(
      session,
      extendedConnect(port, '/', { 'sec-websocket-extensions': ';;' }),
    );
    expect(badExtensions.status).toBe(400);
    // Still one working session: a valid request after all those.
    const good = await rawExchange(session, extendedConnect(port, '/'), { keepOpen: true });
    expect(good.status).toBe(200);
    expect(good.headers['sec-websocket-accept']).toBeUndefined();
  });

  it('runs verifyRequest with the HTTP/2 request and refuses with its status; the client gets a HandshakeError', async () => {
    const seen: Http2WebSocketRequest[] = [];
    const addresses: (string | undefined)[] = [];
    const { url } = await startServer(kind, {
      verifyRequest: (request) => {
        seen.push(request as Http2WebSocketRequest);
        addresses.push(request.socket.remoteAddress);
        if (request.headers.authorization === 'Bearer good') return true;
        return { status: 401, reason: 'who are you?', headers: { 'WWW-Authenticate': 'Bearer' } };
      },
    });
    const pool = newPool();
    const failure = (await connectHttp2(url('/private'), clientOptions(kind, pool)).catch(
      (error: unknown) => error,
    )) as HandshakeError;
    expect(failure).toBeInstanceOf(HandshakeError);
    expect([failure.status, failure.message]).toEqual([401, 'Unexpected server response: 401']);
    const socket = await connectHttp2(url('/private'), {
      ...clientOptions(kind, pool),
      headers: { Authorization: 'Bearer good' },
    });
    socket.send('let in');
    expect(await nextMessage(socket)).toBe('let in');
    expect(seen.map((request) => [request.method, request.url, request.httpVersion])).toEqual([
      ['CONNECT', '/private', '2.0'],
      ['CONNECT', '/private', '2.0'],
    ]);
    expect(addresses).toEqual(['127.0.0.1', '127.0.0.1']);
  });

  it('admits as over HTTP/1.1: Origin allow-list (403), extra response headers, verifyRequest timeout (503)', async () => {
    const errors: Error[] = [];
    const { port, host } = await startServer(kind, {
      origins: ['https://app.example'],
      headers: { 'X-Served-By': 'hybi' },
      handshakeTimeout: 100,
      verifyRequest: (request) => (request.url === '/slow' ? new Promise<boolean>(() => {}) : true),
    });
    host!.on('error', (error) => errors.push(error));
    const session = rawSession(kind, port);
    const otherOrigin = await rawExchange(
      session,
      extendedConnect(port, '/', { origin: 'https://evil.example' }),
    );
    expect([otherOrigin.status, otherOrigin.body]).toEqual([
      403,
      'Forbidden: this Origin may not open a WebSocket here',
    ]);
    const noOrigin = await rawExchange(session, extendedConnect(port, '/'));
    expect(noOrigin.status).toBe(403);
    const slow = await rawExchange(
      session,
      extendedConnect(port, '/slow', { origin: 'https://APP.example:443' }),
    );
    expect(slow.status).toBe(503);
    expect(errors.map((error) => error.message)).toEqual(['verifyRequest did not settle within 100 ms']);
    const good = await rawExchange(session, extendedConnect(port, '/', { origin: 'https://app.example' }), {
      keepOpen: true,
    });
    expect([good.status, good.headers['x-served-by']]).toEqual([200, 'hybi']);
  });

  it('leaves other paths and other requests to the application’s handlers', async () => {
    const { server, port, url } = await startServer(kind, { path: '/ws' });
    server.on('request', (request: http2.Http2ServerRequest, response: http2.Http2ServerResponse) => {
      response.end(`${request.method} ${request.url} handled by the app`);
    });
    const pool = newPool();
    const socket = await connectHttp2(url('/ws'), clientOptions(kind, pool));
    socket.send('websocket');
    expect(await nextMessage(socket)).toBe('websocket');
    const session = rawSession(kind, port);
    const get = await rawExchange(session, { ':method': 'GET', ':path': '/page' });
    expect([get.status, get.body]).toEqual([200, 'GET /page handled by the app']);
    // node's compatibility layer would answer any CONNECT 405 itself (no 'connect' listener): hybi's answers
    // stand, 404 for another path and 501 for an unknown :protocol (RFC 9220 §3).
    const elsewhere = await rawExchange(session, extendedConnect(port, '/other'));
    expect([elsewhere.status, elsewhere.body]).toEqual([404, 'No WebSocket endpoint at /other']);
    const unknown = await rawExchange(session, extendedConnect(port, '/ws', { ':protocol': 'chat-v2' }));
    expect(unknown.status).toBe(501);
  });

  it('leaves an extended CONNECT it does not serve to a connect listener behind node’s request handler', async () => {
    const { server, port } = await startServer(kind, { path: '/ws' });
    server.on('request', (_request: http2.Http2ServerRequest, response: http2.Http2ServerResponse) => {
      response.end('page');
    });
    server.on('connect', (request: http2.Http2ServerRequest, response: http2.Http2ServerResponse) => {
      response.end(`${request.headers[':protocol']} ${request.url} handled by the app`);
    });
    const session = rawSession(kind, port);
    const unknown = await rawExchange(session, extendedConnect(port, '/ws', { ':protocol': 'chat-v2' }));
    expect([unknown.status, unknown.body]).toEqual([200, 'chat-v2 /ws handled by the app']);
    const elsewhere = await rawExchange(session, extendedConnect(port, '/other'));
    expect([elsewhere.status, elsewhere.body]).toEqual([200, 'websocket /other handled by the app']);
  });

  it('answers 404 for another path when nobody else serves it', async () => {
    const { port } = await startServer(kind, { path: '/ws' });
    const response = await rawExchange(rawSession(kind, port), extendedConnect(port, '/nope'));
    expect([response.status, response.body]).toEqual([404, 'No WebSocket endpoint at /nope']);
  });

  it('closes its WebSockets with 1001 on host.close() and answers new ones 503 meanwhile', async () => {
    const { url, host, port } = await startServer(kind, { closeTimeout: 300 });
    const session = rawSession(kind, port);
    // A raw client that never answers the close frame keeps the host closing for its close timeout.
    const silent = session.request(extendedConnect(port, '/silent'), { endStream: false });
    expect((await once(silent, 'response'))[0][':status']).toBe(200);
    const pool = newPool();
    const socket = await connectHttp2(url('/'), clientOptions(kind, pool));
    const clientClosed = closed(socket);
    const closeFrame = once(silent, 'data');
    const hostClosed = host!.close();
    const refused = await rawExchange(session, extendedConnect(port, '/late'));
    expect([refused.status, refused.body]).toEqual([503, 'The server is shutting down']);
    expect(eventOf(await clientClosed)).toMatchObject({ code: 1001, wasClean: true });
    expect((await closeFrame)[0]).toEqual(Buffer.from([0x88, 2, 0x03, 0xe9]));
    await hostClosed;
    expect(host!.clients.size).toBe(0);
  });

  it('gives up on a server that never answers the CONNECT after handshakeTimeout, resetting the stream', async () => {
    const { server, url } = await startServer(kind, {
      isAttached: false,
      settings: { enableConnectProtocol: true },
    });
    const silent: http2.ServerHttp2Stream[] = [];
    server.on('stream', (stream) => {
      silent.push(stream);
      stream.on('error', () => {});
    });
    const pool = newPool();
    const failure = (await connectHttp2(url('/'), {
      ...clientOptions(kind, pool),
      handshakeTimeout: 150,
    }).catch((error: unknown) => error)) as Error;
    expect(failure.message).toMatch(/The opening handshake with .* timed out after 150 ms/);
    const [stream] = silent as [http2.ServerHttp2Stream];
    if (!stream.closed) await once(stream, 'close');
    expect(stream.rstCode).toBe(http2.constants.NGHTTP2_CANCEL);
  });

  it('drops a stream the client reset while verifyRequest ran, with no error and no connection', async () => {
    const waiting: ((verdict: boolean) => void)[] = [];
    const errors: Error[] = [];
    const serverStreams: http2.ServerHttp2Stream[] = [];
    const { port, host, connections } = await startServer(kind, {
      verifyRequest: (request) => {
        serverStreams.push((request as Http2WebSocketRequest).stream);
        return new Promise<boolean>((resolve) => waiting.push(resolve));
      },
    });
    host!.on('error', (error) => errors.push(error));
    const session = rawSession(kind, port);
    const stream = session.request(extendedConnect(port, '/'), { endStream: false });
    stream.on('error', () => {});
    await until(() => waiting.length === 1);
    stream.close(http2.constants.NGHTTP2_CANCEL);
    const [serverStream] = serverStreams as [http2.ServerHttp2Stream];
    if (!serverStream.closed) await once(serverStream, 'close');
    waiting[0]!(true);
    // A second stream on the same session goes through the same hook and opens.
    const next = session.request(extendedConnect(port, '/'), { endStream: false });
    await until(() => waiting.length === 2);
    waiting[1]!(true);
    expect((await once(next, 'response'))[0][':status']).toBe(200);
    expect(connections.length).toBe(1);
    expect(errors).toEqual([]);
    next.close(http2.constants.NGHTTP2_CANCEL);
  });

  it('shares one session among WebSockets to one origin and closes it when the last one is gone', async () => {
    const { url, sessions } = await startServer(kind);
    const pool = new Http2SessionPool({ idleTimeout: 0 });
    cleanups.push(() => pool.close());
    const sockets = await Promise.all(
      [1, 2, 3, 4, 5].map((index) => connectHttp2(url(`/${index}`), clientOptions(kind, pool))),
    );
    expect([pool.size, sessions.size]).toEqual([1, 1]);
    const [serverSession] = [...sessions] as [http2.ServerHttp2Session];
    const sessionClosed = once(serverSession, 'close');
    await Promise.all(
      sockets.map((socket) => {
        const closing = closed(socket);
        socket.close();
        return closing;
      }),
    );
    await sessionClosed;
    await until(() => pool.size === 0);
  });
});

/** A node:http2 server (TLS with HTTP/1.1 allowed, or cleartext) served by a WebSocketServer given it as `server`. */
async function startWebSocketServer(kind: Kind, options: Omit<WebSocketServerOptions, 'server'> = {}) {
  const server =
    kind === 'h2' ? http2.createSecureServer({ ...certificate, allowHTTP1: true }) : http2.createServer();
  const wss = new WebSocketServer({ ...options, server });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  const seen: { protocol: string; url: string | undefined; version: string }[] = [];
  wss.on('connection', (socket, request) => {
    seen.push({ protocol: socket.httpProtocol, url: request.url, version: request.httpVersion });
    socket.addEventListener('message', (event) => socket.send(`${socket.httpProtocol}: ${event.data}`));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  cleanups.push(async () => {
    await wss.close();
    for (const session of sessions) session.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return {
    server,
    wss,
    port,
    seen,
    url: (target = '/') => `${kind === 'h2' ? 'wss' : 'ws'}://localhost:${port}${target}`,
  };
}

describe('WebSocketServer given a node:http2 server', () => {
  it.skipIf(!hasOpenssl)(
    'serves HTTP/1.1 and HTTP/2 to one "connection" listener, counts both in clients, and closes both with 1001',
    async () => {
      const { wss, seen, url } = await startWebSocketServer('h2');
      const overHttp1 = await connect(url('/one'), { ca: certificate.cert });
      const overHttp2 = await connect(url('/two'), {
        ca: certificate.cert,
        sessionPool: newPool(),
        http2: 'require',
      });
      expect([overHttp1.httpProtocol, overHttp2.httpProtocol]).toEqual(['http/1.1', 'h2']);
      overHttp1.send('hi');
      overHttp2.send('hi');
      expect(await nextMessage(overHttp1)).toBe('http/1.1: hi');
      expect(await nextMessage(overHttp2)).toBe('h2: hi');
      expect(seen).toEqual([
        { protocol: 'http/1.1', url: '/one', version: '1.1' },
        { protocol: 'h2', url: '/two', version: '2.0' },
      ]);
      expect(wss.clients.size).toBe(2);
      expect(Object.getPrototypeOf(overHttp1)).toBe(Object.getPrototypeOf(overHttp2));
      const closings = [closed(overHttp1), closed(overHttp2)];
      await wss.close();
      for (const closing of closings) expect((await closing).code).toBe(1001);
      expect(wss.clients.size).toBe(0);
    },
  );

  it('over h2c: counts its WebSockets in clients; close() answers new streams 503, closes them with 1001 and aborts the silent one', async () => {
    const { wss, port, url } = await startWebSocketServer('h2c', { path: '/ws', closeTimeout: 300 });
    const session = rawSession('h2c', port);
    // A raw client that never answers the close frame keeps close() waiting for its close timeout.
    const silent = session.request(extendedConnect(port, '/ws'), { endStream: false });
    silent.on('data', () => {});
    expect((await once(silent, 'response'))[0][':status']).toBe(200);
    const pool = newPool();
    const sockets = await Promise.all([
      connect(url('/ws'), { sessionPool: pool, http2: 'require' }),
      connect(url('/ws'), { sessionPool: pool, http2: 'prefer' }),
    ]);
    expect(sockets.map((socket) => httpProtocolOf(socket))).toEqual(['h2c', 'h2c']);
    expect(wss.clients.size).toBe(3);
    const closings = sockets.map((socket) => closed(socket));
    const wssClosed = wss.close();
    const refused = await rawExchange(session, extendedConnect(port, '/ws'));
    expect([refused.status, refused.body]).toEqual([503, 'The server is shutting down']);
    for (const closing of closings) {
      expect(eventOf(await closing)).toMatchObject({ code: 1001, wasClean: true });
    }
    await wssClosed;
    // RFC 8441 §5: the silent WebSocket was aborted by resetting its stream; the session is still there.
    if (!silent.closed) await once(silent, 'close');
    expect(silent.rstCode).toBe(http2.constants.NGHTTP2_CANCEL);
    expect(session.destroyed).toBe(false);
    expect(wss.clients.size).toBe(0);
  });
});

describe('a client WebSocket over HTTP/2 behaves as one over HTTP/1.1', () => {
  it('new WebSocket(url, protocols, { http2: "require" }) starts CONNECTING, fires open, reports the full extensions header', async () => {
    const { url, connections } = await startServer('h2c', {
      perMessageDeflate: { serverNoContextTakeover: true },
      protocols: ['chat'],
    });
    const socket = new WebSocket(url('/'), ['chat'], { http2: 'require', sessionPool: newPool() });
    expect([socket.readyState, socket.extensions, socket.httpProtocol]).toEqual([
      WebSocket.CONNECTING,
      '',
      'h2c',
    ]);
    const events: string[] = [];
    socket.onopen = () => events.push(`open ${socket.readyState}`);
    await once(socket, 'open');
    expect(events).toEqual(['open 1']);
    expect(socket.protocol).toBe('chat');
    // The client's extensions are the server's header, parameters and all, as over HTTP/1.1.
    const [{ socket: peer }] = connections as [Connection];
    expect(peer.extensions).toBe('permessage-deflate');
    expect(socket.extensions).toBe('permessage-deflate; server_no_context_takeover');
    socket.send('hello');
    expect(await nextMessage(socket)).toBe('hello');
    const closing = closed(socket);
    socket.close();
    // Without a code or reason the close frame has no body: 1005 (WHATWG WebSockets §close()).
    expect(eventOf(await closing)).toMatchObject({ code: 1005, wasClean: true });
  });

  it('connectHttp2 resolves with an open socket that fired "open"; the peer is h2c too', async () => {
    const { url, connections } = await startServer('h2c');
    let hasFiredOpen = false;
    const socket = await connectHttp2(url('/'), { sessionPool: newPool() });
    socket.addEventListener('open', () => {
      hasFiredOpen = true;
    });
    expect([socket.readyState, socket.httpProtocol]).toEqual([WebSocket.OPEN, 'h2c']);
    expect(hasFiredOpen).toBe(false); // fired before the promise resolved, as connect()'s does
    const [{ socket: peer }] = connections as [Connection];
    expect(peer.httpProtocol).toBe('h2c');
    socket.close();
    await closed(socket);
  });

  it('refuses http2: "prefer" (and unknown modes) in the constructor with a TypeError that names connect()', () => {
    expect(() => new WebSocket('ws://localhost:1/', [], { http2: 'prefer' })).toThrow(TypeError);
    expect(() => new WebSocket('ws://localhost:1/', [], { http2: 'prefer' })).toThrow(/connect\(/);
    expect(() => new WebSocket('ws://localhost:1/', [], { http2: 'sometimes' as 'off' })).toThrow(TypeError);
  });

  it('connect({ http2: "require" }) rejects with Http2UnsupportedError where the server has no HTTP/2', async () => {
    const server = http.createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const port = (server.address() as AddressInfo).port;
    const failure = await connect(`ws://localhost:${port}/`, {
      http2: 'require',
      sessionPool: newPool(),
    }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Http2UnsupportedError);
    server.closeAllConnections();
  });
});

describe('aborting a WebSocket over HTTP/2 resets its stream, never its session (RFC 8441 §5)', () => {
  it('a heartbeat that expires resets the stream with CANCEL; the session goes on', async () => {
    const { port } = await startServer('h2c', { heartbeat: { interval: 20, timeout: 20 } });
    const session = rawSession('h2c', port);
    // A raw client that never answers a ping.
    const silent = session.request(extendedConnect(port, '/silent'), { endStream: false });
    silent.on('data', () => {});
    expect((await once(silent, 'response'))[0][':status']).toBe(200);
    if (!silent.closed) await once(silent, 'close');
    expect(silent.rstCode).toBe(http2.constants.NGHTTP2_CANCEL);
    expect(session.destroyed).toBe(false);
    const get = await rawExchange(session, extendedConnect(port, '/after'), { keepOpen: true });
    expect(get.status).toBe(200);
  });
});

describe('the client’s choice of HTTP (http2: prefer | require | off)', () => {
  it('uses HTTP/2 when the server advertises extended CONNECT, unless told "off"', async () => {
    const { url } = await startServer('h2c');
    const pool = newPool();
    const preferred = await connectAny(url('/'), { http2: 'prefer', sessionPool: pool });
    expect(httpProtocolOf(preferred)).toBe('h2c');
    const required = await connectAny(url('/'), { http2: 'require', sessionPool: pool });
    expect(httpProtocolOf(required)).toBe('h2c');
    expect(pool.size).toBe(1);
    for (const socket of [preferred, required]) {
      socket.send('ok');
      expect(await nextMessage(socket)).toBe('ok');
      socket.close();
    }
  });

  it('refuses options that cannot go over HTTP/2 before dialing anything', async () => {
    const pool = newPool();
    const attempts = [
      connectHttp2('ws://localhost:1/', { sessionPool: pool, headers: { Connection: 'keep-alive' } }),
      connectHttp2('ws://localhost:1/', { sessionPool: pool, protocols: ['a b'] }),
      connectHttp2('ws://localhost:1/', { sessionPool: pool, proxy: 'http://proxy.invalid:3128' }),
      connectAny('ws://localhost:1/', { sessionPool: pool, http2: 'sometimes' as 'prefer' }),
    ];
    for (const attempt of attempts) await expect(attempt).rejects.toBeInstanceOf(TypeError);
    expect(pool.size).toBe(0);
  });

  it.skipIf(!hasOpenssl)(
    'falls back to HTTP/1.1 on an HTTP/2 server without extended CONNECT ("prefer"), fails with "require"',
    async () => {
      const { server, url, sessions } = await startServer('h2', { isAttached: false });
      // Routed by hand: given the http2 server itself, a WebSocketServer would advertise extended CONNECT.
      const wss = new WebSocketServer({ noServer: true });
      server.on('upgrade', (request: http.IncomingMessage, socket: Duplex, head: Buffer) =>
        wss.handleUpgrade(request, socket, head),
      );
      cleanups.push(() => wss.close());
      wss.on('connection', (socket) =>
        socket.addEventListener('message', (event) => socket.send(event.data as string)),
      );
      const pool = newPool();
      const options = { ca: certificate.cert, sessionPool: pool };
      const socket = await connectAny(url('/'), { ...options, http2: 'prefer' });
      expect(httpProtocolOf(socket)).toBe('http/1.1');
      socket.send('fell back');
      expect(await nextMessage(socket)).toBe('fell back');
      const failure = await connectAny(url('/'), { ...options, http2: 'require' }).catch(
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(Http2UnsupportedError);
      expect((failure as Error).message).toMatch(/does not advertise extended CONNECT \(RFC 8441 §3\)/);
      // The h2 session that told us so was shared by both attempts.
      expect(sessions.size).toBe(1);
      socket.close();
    },
  );

  it.skipIf(!hasOpenssl)('falls back to HTTP/1.1 on a TLS server with no HTTP/2 at all', async () => {
    const server = https.createServer(certificate);
    const wss = new WebSocketServer({ server });
    wss.on('connection', (socket) =>
      socket.addEventListener('message', (event) => socket.send(event.data as string)),
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(async () => {
      await wss.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });
    const port = (server.address() as AddressInfo).port;
    const pool = newPool();
    const options = { ca: certificate.cert, sessionPool: pool };
    const socket = await connectAny(`wss://localhost:${port}/`, { ...options, http2: 'prefer' });
    expect(httpProtocolOf(socket)).toBe('http/1.1');
    socket.send('tls, http/1.1');
    expect(await nextMessage(socket)).toBe('tls, http/1.1');
    const failure = await connectAny(`wss://localhost:${port}/`, { ...options, http2: 'require' }).catch(
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(Http2UnsupportedError);
    socket.close();
  });

  it('falls back to HTTP/1.1 on a cleartext HTTP/1.1 server that refuses the HTTP/2 preface', async () => {
    const server = http.createServer();
    const wss = new WebSocketServer({ server });
    wss.on('connection', (socket) =>
      socket.addEventListener('message', (event) => socket.send(event.data as string)),
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(async () => {
      await wss.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });
    const port = (server.address() as AddressInfo).port;
    const pool = newPool();
    const socket = await connectAny(`ws://localhost:${port}/`, { http2: 'prefer', sessionPool: pool });
    expect(httpProtocolOf(socket)).toBe('http/1.1');
    const failure = await connectAny(`ws://localhost:${port}/`, {
      http2: 'require',
      sessionPool: pool,
    }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Http2UnsupportedError);
    const offSocket = await connectAny(`ws://localhost:${port}/`, { sessionPool: pool });
    expect(httpProtocolOf(offSocket)).toBe('http/1.1');
    for (const open of [socket, offSocket]) {
      const closing = closed(open);
      open.close();
      await closing;
    }
  });
});

// --- a raw node:http2 client, to see exactly what the server answers --------------------------------

function rawSession(kind: Kind, port: number): http2.ClientHttp2Session {
  const session = http2.connect(
    `${kind === 'h2' ? 'https' : 'http'}://localhost:${port}`,
    kind === 'h2' ? { ca: certificate.cert } : {},
  );
  session.on('error', () => {});
  cleanups.push(() => {
    session.destroy();
    return undefined;
  });
  return session;
}

function extendedConnect(
  port: number,
  target: string,
  overrides: Record<string, string | undefined> = {},
): http2.OutgoingHttpHeaders {
  const headers: http2.OutgoingHttpHeaders = {
    ':method': 'CONNECT',
    ':protocol': 'websocket',
    ':path': target,
    ':authority': `localhost:${port}`,
    'sec-websocket-version': '13',
    ...overrides,
  };
  for (const name of Object.keys(headers)) if (headers[name] === undefined) delete headers[name];
  return headers;
}

async function rawExchange(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  options: { keepOpen?: boolean } = {},
): Promise<{ status: number; headers: http2.IncomingHttpHeaders; body: string }> {
  const isConnect = headers[':method'] === 'CONNECT';
  const stream = session.request(headers, { endStream: !isConnect });
  stream.on('error', () => {});
  const [response] = (await once(stream, 'response')) as [
    http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader,
  ];
  if (options.keepOpen === true) {
    stream.close(http2.constants.NGHTTP2_CANCEL);
    return { status: response[':status'] ?? 0, headers: response, body: '' };
  }
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  if (!stream.readableEnded) await once(stream, 'end');
  if (!stream.closed) stream.close();
  return { status: response[':status'] ?? 0, headers: response, body: Buffer.concat(chunks).toString() };
}

/** A client frame (FIN set, masked with a fixed key) for the raw client. */
function maskedFrame(opcode: number, payload: Buffer): Buffer {
  const mask = Buffer.from([1, 2, 3, 4]);
  let header: Buffer;
  if (payload.length < 126) header = Buffer.from([0x80 | opcode, 0x80 | payload.length]);
  else if (payload.length < 65_536) {
    header = Buffer.alloc(4);
    header.writeUInt8(0x80 | opcode, 0);
    header.writeUInt8(0x80 | 126, 1);
    header.writeUInt16BE(payload.length, 2);
  } else {
    header = Buffer.alloc(10);
    header.writeUInt8(0x80 | opcode, 0);
    header.writeUInt8(0x80 | 127, 1);
    header.writeBigUInt64BE(BigInt(payload.length), 2);
  }
  const masked = Buffer.from(payload);
  for (let index = 0; index < masked.length; index++) masked[index]! ^= mask[index % 4]!;
  return Buffer.concat([header, mask, masked]);
}
