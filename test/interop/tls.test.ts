// wss:// both ways with a self-signed certificate made for the test: hybi's client against a ws server on
// https, ws's client against hybi's WebSocketServer on https, certificate checks, and wss through a proxy.

import { once } from 'node:events';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { WebSocket as WsClient, WebSocketServer as WsServer } from 'ws';
import { connect, type WebSocket, type WebSocketCloseEvent, WebSocketServer } from '../../src/index.js';
import { createSelfSignedCertificate } from '../support/certificates.js';

const selfSigned = createSelfSignedCertificate('tls.test.ts');
const hasOpenssl = selfSigned !== undefined;
const certificate = { key: selfSigned?.key ?? Buffer.alloc(0), cert: selfSigned?.cert ?? Buffer.alloc(0) };

afterAll(() => selfSigned?.cleanup());

const cleanups: (() => Promise<unknown> | undefined)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startHttpsServer(): Promise<{ server: https.Server; port: number }> {
  const server = https.createServer(certificate);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  });
  return { server, port: (server.address() as AddressInfo).port };
}

async function startWsWssServer() {
  const { server, port } = await startHttpsServer();
  const wss = new WsServer({ server });
  cleanups.push(
    () =>
      new Promise((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(resolve);
      }),
  );
  const closes: Promise<{ code: number; reason: string }>[] = [];
  wss.on('connection', (peer) => {
    peer.on('message', (data, isBinary) => peer.send(data, { binary: isBinary }));
    closes.push(
      new Promise((resolve) =>
        peer.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
      ),
    );
  });
  return { port, closes };
}

async function startHybiWssServer() {
  const { server, port } = await startHttpsServer();
  const wss = new WebSocketServer({ server });
  cleanups.push(() => wss.close());
  const connections: WebSocket[] = [];
  wss.on('connection', (socket) => {
    connections.push(socket);
    socket.addEventListener('message', (event) => socket.send(event.data));
  });
  return { port, connections };
}

/** A CONNECT proxy (RFC 9110 §9.3.6) in a few lines; records each request line. */
async function startConnectProxy() {
  const requestLines: string[] = [];
  const sockets = new Set<net.Socket>();
  const proxy = net.createServer((client) => {
    sockets.add(client);
    client.on('error', () => {});
    client.once('data', (head: Buffer) => {
      const requestLine = head.toString('latin1').split('\r\n')[0]!;
      requestLines.push(requestLine);
      const [host, port] = requestLine.split(' ')[1]!.split(':');
      const upstream = net.connect(Number(port), host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        client.pipe(upstream).pipe(client);
      });
      sockets.add(upstream);
      upstream.on('error', () => client.destroy());
    });
  });
  proxy.listen(0, '127.0.0.1');
  await once(proxy, 'listening');
  cleanups.push(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => proxy.close(resolve));
  });
  return { url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, requestLines };
}

function nextMessage(socket: WebSocket): Promise<unknown> {
  return once(socket, 'message').then(([event]) => (event as MessageEvent).data);
}

function closed(socket: WebSocket): Promise<WebSocketCloseEvent> {
  return once(socket, 'close').then(([event]) => event as WebSocketCloseEvent);
}

async function exchangeAndClose(socket: WebSocket): Promise<WebSocketCloseEvent> {
  socket.send('over tls ✓');
  expect(await nextMessage(socket)).toBe('over tls ✓');
  socket.send(Buffer.alloc(100_000, 0xab));
  expect(await nextMessage(socket)).toEqual(Buffer.alloc(100_000, 0xab));
  const closing = closed(socket);
  socket.close(4000, 'tls done');
  return closing;
}

describe.skipIf(!hasOpenssl)('wss://', () => {
  it('hybi client (trusting the test CA) → ws server on https, by host name and by IP', async () => {
    const { port, closes } = await startWsWssServer();
    for (const host of ['localhost', '127.0.0.1']) {
      const socket = await connect(`wss://${host}:${port}/secure`, { ca: certificate.cert });
      expect(socket.url).toBe(`wss://${host}:${port}/secure`);
      const event = await exchangeAndClose(socket);
      expect([event.code, event.wasClean]).toEqual([4000, true]);
    }
    expect(await Promise.all(closes)).toEqual([
      { code: 4000, reason: 'tls done' },
      { code: 4000, reason: 'tls done' },
    ]);
  });

  it('ws client → hybi WebSocketServer on an https server', async () => {
    const { port, connections } = await startHybiWssServer();
    const client = new WsClient(`wss://localhost:${port}/secure`, { ca: certificate.cert });
    cleanups.push(() => {
      client.terminate();
      return undefined;
    });
    await once(client, 'open');
    expect(connections[0]!.url).toBe(`wss://localhost:${port}/secure`);
    client.send('from ws over tls');
    expect(((await once(client, 'message'))[0] as Buffer).toString()).toBe('from ws over tls');
    client.send(Buffer.alloc(70_000, 1));
    expect((await once(client, 'message'))[0]).toEqual(Buffer.alloc(70_000, 1));
    const serverClosed = closed(connections[0]!);
    const clientClosed = once(client, 'close');
    client.close(4001, 'ws leaves');
    const serverEvent = await serverClosed;
    expect([serverEvent.code, serverEvent.reason, serverEvent.wasClean]).toEqual([4001, 'ws leaves', true]);
    expect((await clientClosed)[0]).toBe(4001);
  });

  it('rejects a certificate it was not told to trust, with the TLS error as cause', async () => {
    const { port } = await startHybiWssServer();
    const failure = (await connect(`wss://localhost:${port}/`).catch((error: unknown) => error)) as Error;
    expect(failure.message).toMatch(
      /Could not open a WebSocket to wss:\/\/localhost:\d+\/: self.signed certificate/,
    );
    expect((failure.cause as NodeJS.ErrnoException).code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
    // The message says what to pass: a newcomer with a test certificate should not have to search for it.
    expect(failure.message).toContain('pass its CA as `ca:');
    expect(failure.message).toContain('`rejectUnauthorized: false` skips the check');
  });

  it('rejects a certificate for another name (SNI and host name checked)', async () => {
    const { port } = await startHybiWssServer();
    const failure = (await connect(`wss://localhost:${port}/`, {
      ca: certificate.cert,
      servername: 'example.com',
    }).catch((error: unknown) => error)) as Error;
    expect((failure.cause as NodeJS.ErrnoException).code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    expect(failure.message).toContain('the certificate is for another host name');
  });

  it('hybi client → CONNECT proxy → TLS in the tunnel → hybi wss server', async () => {
    const { port, connections } = await startHybiWssServer();
    const proxy = await startConnectProxy();
    const socket = await connect(`wss://localhost:${port}/tunnelled`, {
      ca: certificate.cert,
      proxy: proxy.url,
    });
    expect(proxy.requestLines).toEqual([`CONNECT localhost:${port} HTTP/1.1`]);
    const serverClosed = closed(connections[0]!);
    const event = await exchangeAndClose(socket);
    expect([event.code, event.wasClean]).toEqual([4000, true]);
    const serverEvent = await serverClosed;
    expect([serverEvent.code, serverEvent.reason]).toEqual([4000, 'tls done']);
  });
});
