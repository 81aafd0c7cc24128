// Hostile input over HTTP/2 (RFC 8441): a server that sends DATA before its response HEADERS, and peers whose
// RFC 6455 frames are broken, answered with the same close codes over an h2 stream as over an HTTP/1.1 upgrade.

import { once } from 'node:events';
import http from 'node:http';
import http2 from 'node:http2';
import net, { type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type WebSocketCloseEvent, WebSocketServer } from '../../src/index.js';
import { connectHttp2 } from '../../src/node/connect.js';
import { Http2SessionPool } from '../../src/node/http2-session-pool.js';
import { rawUpgradeRequest } from '../support/upgrade-request.js';

const cleanups: (() => Promise<unknown> | undefined)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function newPool(): Http2SessionPool {
  const pool = new Http2SessionPool({ idleTimeout: 0 });
  cleanups.push(() => {
    pool.destroy();
    return undefined;
  });
  return pool;
}

/** Collects what reached process-level error handlers while `action` ran: a clean failure leaves it empty. */
async function withUncaughtWatch<Result>(action: () => Promise<Result>): Promise<[Result, unknown[]]> {
  const uncaught: unknown[] = [];
  const onError = (error: unknown) => uncaught.push(error);
  process.on('uncaughtException', onError);
  process.on('unhandledRejection', onError);
  try {
    const result = await action();
    // One more turn, for an error emitted just after the promise settled.
    await new Promise((resolve) => setTimeout(resolve, 20));
    return [result, uncaught];
  } finally {
    process.off('uncaughtException', onError);
    process.off('unhandledRejection', onError);
  }
}

// --- a hand-made HTTP/2 server: node:http2 cannot send DATA before HEADERS ---------------------------
//
// node:http2's ServerHttp2Stream sends its response HEADERS (an implicit `:status 200`) the moment anything is
// written to it: `stream.write()` before `respond()` leaves `stream.headersSent === true`, and the client sees
// `response` (200) before the bytes. So the frames here are written by hand (RFC 9113 §4.1 frame layout).

const CLIENT_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
const FRAME_DATA = 0x0;
const FRAME_HEADERS = 0x1;
const FRAME_SETTINGS = 0x4;
const FRAME_GOAWAY = 0x7;
const FLAG_ACK = 0x1;
const FLAG_END_STREAM = 0x1;
const SETTINGS_ENABLE_CONNECT_PROTOCOL = 0x8;

function http2Frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header.writeUInt8(type, 3);
  header.writeUInt8(flags, 4);
  header.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([header, payload]);
}

/**
 * A TCP server speaking just enough HTTP/2 to take an extended CONNECT: its SETTINGS advertise
 * SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3), it acknowledges the client's, and answers each request
 * HEADERS with `answer(streamId)`'s frames.
 */
async function startRawHttp2Server(
  answer: (streamId: number) => Buffer[],
  options: { isClosingOnGoaway?: boolean } = {},
) {
  const sockets = new Set<net.Socket>();
  /** The error code of each GOAWAY the client sent (RFC 9113 §6.8). */
  const goawayCodes: number[] = [];
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buffered = Buffer.alloc(0);
    let hasPreface = false;
    const settings = Buffer.alloc(6);
    settings.writeUInt16BE(SETTINGS_ENABLE_CONNECT_PROTOCOL, 0);
    settings.writeUInt32BE(1, 2);
    socket.write(http2Frame(FRAME_SETTINGS, 0, 0, settings));
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (!hasPreface) {
        if (buffered.length < CLIENT_PREFACE.length) return;
        hasPreface = true;
        buffered = buffered.subarray(CLIENT_PREFACE.length);
      }
      while (buffered.length >= 9) {
        const length = buffered.readUIntBE(0, 3);
        if (buffered.length < 9 + length) return;
        const type = buffered.readUInt8(3);
        const flags = buffered.readUInt8(4);
        const streamId = buffered.readUInt32BE(5) & 0x7fffffff;
        const payload = buffered.subarray(9, 9 + length);
        buffered = buffered.subarray(9 + length);
        if (type === FRAME_GOAWAY) {
          // RFC 9113 §6.8: last stream ID (4 bytes), then the error code.
          goawayCodes.push(payload.readUInt32BE(4));
          if (options.isClosingOnGoaway === true) socket.destroy();
        } else if (type === FRAME_SETTINGS && (flags & FLAG_ACK) === 0) {
          socket.write(http2Frame(FRAME_SETTINGS, FLAG_ACK, 0, Buffer.alloc(0)));
        } else if (type === FRAME_HEADERS) {
          for (const frame of answer(streamId)) socket.write(frame);
        }
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return { port: (server.address() as AddressInfo).port, goawayCodes };
}

describe('a server that answers an extended CONNECT badly', () => {
  it('node:http2 cannot produce DATA before HEADERS: a write before respond() sends :status 200 first', async () => {
    const server = http2.createServer({ settings: { enableConnectProtocol: true } });
    const headersSentAtWrite: boolean[] = [];
    server.on('session', (session) => cleanups.push(() => void session.destroy()));
    server.on('stream', (stream) => {
      stream.write(Buffer.from([0x81, 0x02, 0x68, 0x69]));
      headersSentAtWrite.push(stream.headersSent);
      // The client's close frame: end the stream rather than answer it (RFC 8441 §5: END_STREAM is the FIN).
      stream.once('data', () => stream.end());
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const socket = await connectHttp2(`ws://localhost:${port}/`, { sessionPool: newPool() });
    // The implicit response was a plain 200: hybi took it, and the bytes as the server's first frame.
    const [event] = (await once(socket, 'message')) as [MessageEvent];
    expect([headersSentAtWrite, event.data]).toEqual([[true], 'hi']);
    socket.close();
    await once(socket, 'close');
  });

  // nghttp2 (Node's HTTP/2) answers DATA on a stream whose response HEADERS never came with a connection error,
  // GOAWAY(PROTOCOL_ERROR) "DATA: stream not opened" (RFC 9113 §5.1, §5.4.1). Node then neither closes the TCP
  // connection (RFC 9113 §5.4.1 says it MUST) nor reads from it, so it does not even see the peer close it, and
  // emits nothing on the session or the stream: the client learns of it only from its handshake timeout, which
  // must reject cleanly, and with nothing uncaught.
  it.each([
    { peer: 'keeps the TCP connection open', isClosingOnGoaway: false },
    { peer: 'closes the TCP connection on GOAWAY', isClosingOnGoaway: true },
  ])(
    'rejects connect (by its handshake timeout) when DATA comes before the response HEADERS and the peer $peer',
    async ({ isClosingOnGoaway }) => {
      const { port, goawayCodes } = await startRawHttp2Server(
        (streamId) => [http2Frame(FRAME_DATA, 0, streamId, Buffer.from([0x81, 0x02, 0x68, 0x69]))],
        { isClosingOnGoaway },
      );
      const [failure, uncaught] = await withUncaughtWatch(() =>
        connectHttp2(`ws://localhost:${port}/`, { sessionPool: newPool(), handshakeTimeout: 500 }).then(
          () => undefined,
          (error: unknown) => error,
        ),
      );
      expect(failure).toBeInstanceOf(Error);
      expect((failure as Error).message).toMatch(/timed out after 500 ms/);
      expect(goawayCodes).toEqual([http2.constants.NGHTTP2_PROTOCOL_ERROR]);
      expect(uncaught).toEqual([]);
    },
  );

  it('rejects connect when DATA with END_STREAM comes before any HEADERS', async () => {
    const { port, goawayCodes } = await startRawHttp2Server((streamId) => [
      http2Frame(FRAME_DATA, FLAG_END_STREAM, streamId, Buffer.alloc(0)),
    ]);
    const [failure, uncaught] = await withUncaughtWatch(() =>
      connectHttp2(`ws://localhost:${port}/`, { sessionPool: newPool(), handshakeTimeout: 500 }).then(
        () => undefined,
        (error: unknown) => error,
      ),
    );
    expect(failure).toBeInstanceOf(Error);
    expect(goawayCodes).toEqual([http2.constants.NGHTTP2_PROTOCOL_ERROR]);
    expect(uncaught).toEqual([]);
  });

  it('rejects connect when a 200 response ends its stream at once, with no uncaught error', async () => {
    const server = http2.createServer({ settings: { enableConnectProtocol: true } });
    server.on('stream', (stream) => stream.respond({ ':status': 200 }, { endStream: true }));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const [outcome, uncaught] = await withUncaughtWatch(async () => {
      try {
        const socket = await connectHttp2(`ws://localhost:${port}/`, { sessionPool: newPool() });
        // Should it open, the stream is already over: the WebSocket must close abnormally (RFC 6455 §7.1.5).
        const [event] = (await once(socket, 'close')) as [{ code: number; wasClean: boolean }];
        return { opened: true, code: event.code, wasClean: event.wasClean };
      } catch (error) {
        return { opened: false, error };
      }
    });
    if (outcome.opened) expect(outcome).toMatchObject({ code: 1006, wasClean: false });
    else expect(outcome.error).toBeInstanceOf(Error);
    expect(uncaught).toEqual([]);
  });

  it('rejects connect with the status when a non-200 response carries a body', async () => {
    const server = http2.createServer({ settings: { enableConnectProtocol: true } });
    server.on('stream', (stream) => {
      stream.respond({ ':status': 403, 'content-type': 'text/plain' });
      stream.end('go away');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const [failure, uncaught] = await withUncaughtWatch(() =>
      connectHttp2(`ws://localhost:${port}/`, { sessionPool: newPool() }).then(
        () => undefined,
        (error: unknown) => error,
      ),
    );
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toMatch(/403/);
    expect(uncaught).toEqual([]);
  });
});

// --- the same hostile frames over both transports -----------------------------------------------------

const MASK = Buffer.from([0x11, 0x22, 0x33, 0x44]);

/** A client frame with its first byte given as is (FIN, RSV, opcode), masked unless told otherwise. */
function clientFrame(firstByte: number, payload: Buffer, options: { isMasked?: boolean } = {}): Buffer {
  const isMasked = options.isMasked ?? true;
  const maskBit = isMasked ? 0x80 : 0;
  let header: Buffer;
  if (payload.length < 126) header = Buffer.from([firstByte, maskBit | payload.length]);
  else {
    header = Buffer.alloc(4);
    header.writeUInt8(firstByte, 0);
    header.writeUInt8(maskBit | 126, 1);
    header.writeUInt16BE(payload.length, 2);
  }
  if (!isMasked) return Buffer.concat([header, payload]);
  const masked = Buffer.from(payload);
  for (let index = 0; index < masked.length; index++) masked[index]! ^= MASK[index % 4]!;
  return Buffer.concat([header, MASK, masked]);
}

function closePayload(code: number): Buffer {
  const payload = Buffer.alloc(2);
  payload.writeUInt16BE(code, 0);
  return payload;
}

/** A masked binary frame header announcing 2^63 - 1 bytes: the largest length RFC 6455 §5.2 allows. */
function hugeFrameHeader(): Buffer {
  const header = Buffer.alloc(10);
  header.writeUInt8(0x82, 0);
  header.writeUInt8(0x80 | 127, 1);
  header.writeBigUInt64BE(2n ** 63n - 1n, 2);
  return Buffer.concat([header, MASK]);
}

const hostileFrames: { name: string; bytes: Buffer; code: number }[] = [
  // RFC 6455 §5.1: a server MUST close the connection on an unmasked client frame.
  {
    name: 'an unmasked client frame',
    bytes: clientFrame(0x81, Buffer.from('hi'), { isMasked: false }),
    code: 1002,
  },
  // RFC 6455 §5.2: opcodes 0x3-0x7 and 0xB-0xF are reserved.
  { name: 'a reserved opcode (0x3)', bytes: clientFrame(0x83, Buffer.from('x')), code: 1002 },
  { name: 'a reserved control opcode (0xB)', bytes: clientFrame(0x8b, Buffer.alloc(0)), code: 1002 },
  // RFC 6455 §5.5: control frames MUST NOT be fragmented.
  { name: 'a fragmented ping', bytes: clientFrame(0x09, Buffer.from('ping')), code: 1002 },
  // RFC 6455 §8.1: text that is not UTF-8 fails the connection with 1007.
  {
    name: 'invalid UTF-8 in a text frame',
    bytes: clientFrame(0x81, Buffer.from([0xce, 0xba, 0xff, 0xfe])),
    code: 1007,
  },
  // RFC 6455 §7.4.1: 1004-1006 and 1015 are never sent; below 1000 is not a code.
  { name: 'a close frame with code 1005', bytes: clientFrame(0x88, closePayload(1005)), code: 1002 },
  { name: 'a close frame with code 999', bytes: clientFrame(0x88, closePayload(999)), code: 1002 },
  { name: 'a close frame with a 1-byte payload', bytes: clientFrame(0x88, Buffer.from([3])), code: 1002 },
  // RFC 6455 §7.4.1: 1009, a message too big to process (the server's limit is 64 MiB - 1).
  { name: 'a frame announcing 2^63 - 1 bytes', bytes: hugeFrameHeader(), code: 1009 },
  // RFC 6455 §5.2: RSV1-3 must be 0 unless an extension says otherwise; none was negotiated.
  { name: 'RSV1 set without an extension', bytes: clientFrame(0xc1, Buffer.from('hi')), code: 1002 },
  { name: 'RSV3 set', bytes: clientFrame(0x91, Buffer.from('hi')), code: 1002 },
];

/** Reads server frames (unmasked) from `chunks` and returns the close code of the first close frame. */
function closeCodeIn(chunks: Buffer): number | undefined {
  let offset = 0;
  while (offset + 2 <= chunks.length) {
    const opcode = chunks[offset]! & 0x0f;
    let length = chunks[offset + 1]! & 0x7f;
    let headerLength = 2;
    if (length === 126) {
      if (offset + 4 > chunks.length) return undefined;
      length = chunks.readUInt16BE(offset + 2);
      headerLength = 4;
    } else if (length === 127) {
      if (offset + 10 > chunks.length) return undefined;
      length = Number(chunks.readBigUInt64BE(offset + 2));
      headerLength = 10;
    }
    if (offset + headerLength + length > chunks.length) return undefined;
    if (opcode === 0x8) return length >= 2 ? chunks.readUInt16BE(offset + headerLength) : 1005;
    offset += headerLength + length;
  }
  return undefined;
}

/** Resolves with the code of the server's close frame read from `stream`, or 0 if it ended without one. */
function serverCloseCode(stream: NodeJS.ReadableStream): Promise<number> {
  return new Promise((resolve) => {
    let received = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const code = closeCodeIn(received);
      if (code !== undefined) finish(code);
    };
    const finish = (code: number) => {
      stream.off('data', onData);
      resolve(code);
    };
    stream.on('data', onData);
    stream.once('end', () => finish(closeCodeIn(received) ?? 0));
    stream.once('close', () => finish(closeCodeIn(received) ?? 0));
  });
}

async function startServers() {
  const http1Server = http.createServer();
  const http2Server = http2.createServer();
  const serverCloses: { protocol: string; code: number }[] = [];
  const servers = [
    new WebSocketServer({ server: http1Server }),
    new WebSocketServer({ server: http2Server }),
  ];
  for (const wss of servers) {
    wss.on('connection', (socket) => {
      socket.addEventListener('close', (event) =>
        serverCloses.push({ protocol: socket.httpProtocol, code: (event as WebSocketCloseEvent).code }),
      );
    });
  }
  const sessions = new Set<http2.ServerHttp2Session>();
  http2Server.on('session', (session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  for (const server of [http1Server, http2Server]) {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
  }
  cleanups.push(async () => {
    for (const session of sessions) session.destroy();
    for (const wss of servers) await wss.close();
    http1Server.closeAllConnections();
    await new Promise((resolve) => http1Server.close(resolve));
    await new Promise((resolve) => http2Server.close(resolve));
  });
  return {
    http1Port: (http1Server.address() as AddressInfo).port,
    http2Port: (http2Server.address() as AddressInfo).port,
    serverCloses,
  };
}

/** An HTTP/1.1 upgrade on a raw TCP socket; once the 101 arrived, writes `bytes` and reads the close code. */
async function overHttp1(port: number, bytes: Buffer): Promise<number> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  cleanups.push(() => {
    socket.destroy();
    return undefined;
  });
  await once(socket, 'connect');
  socket.write(rawUpgradeRequest('localhost'));
  let head = Buffer.alloc(0);
  while (head.indexOf('\r\n\r\n') === -1) {
    const [chunk] = (await once(socket, 'data')) as [Buffer];
    head = Buffer.concat([head, chunk]);
  }
  const end = head.indexOf('\r\n\r\n') + 4;
  expect(head.subarray(0, 12).toString()).toBe('HTTP/1.1 101');
  const closing = serverCloseCode(socket);
  if (head.length > end) socket.unshift(head.subarray(end));
  socket.write(bytes);
  const code = await closing;
  socket.destroy();
  return code;
}

/** An extended CONNECT on a raw node:http2 session; once the 200 arrived, writes `bytes`, reads the close code. */
async function overHttp2(port: number, bytes: Buffer): Promise<number> {
  const session = http2.connect(`http://localhost:${port}`);
  session.on('error', () => {});
  cleanups.push(() => {
    session.destroy();
    return undefined;
  });
  const stream = session.request(
    {
      ':method': 'CONNECT',
      ':protocol': 'websocket',
      ':path': '/',
      ':authority': `localhost:${port}`,
      'sec-websocket-version': '13',
    },
    { endStream: false },
  );
  stream.on('error', () => {});
  const [response] = (await once(stream, 'response')) as [http2.IncomingHttpStatusHeader];
  expect(response[':status']).toBe(200);
  const closing = serverCloseCode(stream);
  stream.write(bytes);
  const code = await closing;
  stream.close(http2.constants.NGHTTP2_CANCEL);
  return code;
}

describe('hostile RFC 6455 frames get the same close code over HTTP/2 as over HTTP/1.1', () => {
  it.each(hostileFrames)('fails with $code on $name, over both', async ({ bytes, code }) => {
    const { http1Port, http2Port, serverCloses } = await startServers();
    const [overHttp1Code, overHttp2Code] = await Promise.all([
      overHttp1(http1Port, bytes),
      overHttp2(http2Port, bytes),
    ]);
    expect({ http1: overHttp1Code, h2: overHttp2Code }).toEqual({ http1: code, h2: code });
    // The server's own close events report the code it sent, the same over both.
    while (serverCloses.length < 2) await new Promise((resolve) => setImmediate(resolve));
    const byProtocol = Object.fromEntries(serverCloses.map((entry) => [entry.protocol, entry.code]));
    expect(byProtocol).toEqual({ 'http/1.1': code, h2c: code });
  });
});
