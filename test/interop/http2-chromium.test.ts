// Interop with a real browser over HTTP/2: headless Chromium, driven by playwright-core, loads a page over h2
// from a hybi TLS server and opens a wss:// WebSocket, which arrives as an extended CONNECT stream (RFC 8441).
// Skipped, with the reason printed, when Chromium or openssl is not installed.

import { once } from 'node:events';
import { existsSync } from 'node:fs';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type WebSocket, type WebSocketCloseEvent, WebSocketServer } from '../../src/index.js';
import { createSelfSignedCertificate } from '../support/certificates.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`http2-chromium.test.ts skipped: ${CHROMIUM} is not installed`);
// Made only when the browser is there to use it.
const certificate = hasChromium ? createSelfSignedCertificate('http2-chromium.test.ts') : undefined;

// Chromium's default since version 71 ("Intent to ship: WebSockets over HTTP/2", blink-dev, 2018): a wss://
// WebSocket goes over an HTTP/2 connection to its origin that is already open and whose SETTINGS carried
// SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3). No flag is needed, so none is passed: loading the page over
// h2 first is what opens that connection. HTTP/2 is TLS-only in Chromium, hence wss:// and a certificate.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--ignore-certificate-errors',
];

const PAGE = `<!doctype html><meta charset="utf-8"><title>hybi over h2</title><script>
window.runExchange = () => new Promise((resolve) => {
  const socket = new WebSocket('wss://' + location.host + '/ws');
  const received = [];
  socket.onopen = () => { socket.send('hello over ' + 'h2 '.repeat(100)); socket.send(new Uint8Array(70000).fill(9)); };
  socket.binaryType = 'arraybuffer';
  socket.onmessage = (event) => {
    received.push(typeof event.data === 'string' ? event.data : event.data.byteLength);
    if (received.length === 2) socket.close(4002, 'browser done');
  };
  socket.onclose = (event) => resolve({ received, code: event.code, reason: event.reason, wasClean: event.wasClean });
});
</script>`;

describe.skipIf(!hasChromium || certificate === undefined)(
  'Chromium (headless) against a hybi HTTP/2 TLS server',
  () => {
    let server: http2.Http2SecureServer;
    let wss: WebSocketServer;
    const sessions = new Set<http2.ServerHttp2Session>();
    const arrivals: { httpProtocol: string; pageProtocol: string; closed: Promise<WebSocketCloseEvent> }[] =
      [];
    const pageProtocols: string[] = [];
    let origin = '';

    beforeAll(async () => {
      server = http2.createSecureServer({
        key: certificate?.key,
        cert: certificate?.cert,
        allowHTTP1: true,
      });
      server.on('session', (session) => {
        sessions.add(session);
        session.once('close', () => sessions.delete(session));
      });
      // Attached before listen: the extended CONNECT setting goes to sessions that start afterwards.
      wss = new WebSocketServer({ server, path: '/ws' });
      wss.on('connection', (socket: WebSocket) => {
        const closed = once(socket, 'close').then(([event]) => event as WebSocketCloseEvent);
        arrivals.push({
          httpProtocol: socket.httpProtocol,
          pageProtocol: pageProtocols.at(-1) ?? '',
          closed,
        });
        socket.addEventListener('message', (event) => socket.send(event.data as Buffer | string));
      });
      server.on('request', (request, response) => {
        if (request.method === 'CONNECT') return;
        // The page only: Chromium asks for /favicon.ico too.
        if (request.url === '/') pageProtocols.push(request.httpVersion === '2.0' ? 'h2' : 'http/1.1');
        response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        response.end(PAGE);
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      origin = `https://localhost:${(server.address() as AddressInfo).port}`;
    });

    afterAll(async () => {
      await wss?.close();
      for (const session of sessions) session.destroy();
      if (server !== undefined) await new Promise((resolve) => server.close(resolve));
      certificate?.cleanup();
    });

    it('opens its wss:// WebSocket as an extended CONNECT stream on the h2 connection of the page', async () => {
      const { chromium } = await import('playwright-core');
      const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
      try {
        const context = await browser.newContext({ ignoreHTTPSErrors: true });
        const page = await context.newPage();
        await page.goto(`${origin}/`);
        const result = (await page.evaluate(() =>
          (globalThis as unknown as { runExchange(): Promise<unknown> }).runExchange(),
        )) as { received: unknown[]; code: number; reason: string; wasClean: boolean };
        expect(pageProtocols).toEqual(['h2']);
        expect(arrivals.map(({ httpProtocol, pageProtocol }) => ({ httpProtocol, pageProtocol }))).toEqual([
          { httpProtocol: 'h2', pageProtocol: 'h2' },
        ]);
        // The browser sees the code hybi echoed (RFC 6455 §5.5.1); the reason it gave reached the server.
        expect(result).toMatchObject({
          received: [`hello over ${'h2 '.repeat(100)}`, 70000],
          code: 4002,
          wasClean: true,
        });
        const serverClose = await arrivals[0]!.closed;
        expect({
          code: serverClose.code,
          reason: serverClose.reason,
          wasClean: serverClose.wasClean,
        }).toEqual({
          code: 4002,
          reason: 'browser done',
          wasClean: true,
        });
        // One TLS connection carried the page and the WebSocket.
        expect(sessions.size).toBe(1);
        await context.close();
      } finally {
        await browser.close();
      }
    });
  },
);
