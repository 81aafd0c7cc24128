// Interop with a real browser: Debian's Chromium, headless, driven by playwright-core, against a hybi
// server with permessage-deflate. Skipped, with the reason printed, when Chromium is not installed.
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as hybi from '../../src/index.js';
import { FrameParser } from '../../src/protocol/frame-parser.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium)
  console.warn(`chromium interop skipped: ${CHROMIUM} is not installed (.ci/run installs it with apt)`);

interface ServerSide {
  extensionHeader: string;
  compressedFrames: number;
  messages: (string | Buffer)[];
  close: hybi.CloseEvent | undefined;
}

const PAGE = `<!doctype html><meta charset="utf-8"><title>hybi</title><script>
window.runExchange = (url) => new Promise((resolve) => {
  const socket = new WebSocket(url);
  socket.binaryType = 'arraybuffer';
  const received = [];
  socket.onopen = () => {
    socket.send('browser says ' + 'hello '.repeat(400));
    socket.send(new Uint8Array(5000).fill(7));
    socket.send('short');
  };
  socket.onmessage = (event) => {
    received.push(typeof event.data === 'string' ? event.data : Array.from(new Uint8Array(event.data)).slice(0, 3).concat([event.data.byteLength]));
    if (received.length === 3) socket.close(4001, 'browser done');
  };
  socket.onclose = (event) => resolve({ extensions: socket.extensions, received, code: event.code, reason: event.reason, wasClean: event.wasClean });
});
</script>`;

describe.skipIf(!hasChromium)('Chromium (headless) against a hybi server with permessage-deflate', () => {
  let server: http.Server;
  let baseUrl: string;
  const sides: ServerSide[] = [];
  const sockets = new Set<Socket>();

  beforeAll(async () => {
    server = http.createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      response.end(PAGE);
    });
    server.on('upgrade', (request, socket: Socket, head) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      const side: ServerSide = {
        extensionHeader: String(request.headers['sec-websocket-extensions'] ?? ''),
        compressedFrames: 0,
        messages: [],
        close: undefined,
      };
      sides.push(side);
      const driver = hybi.http(request, { perMessageDeflate: { threshold: 0 } });
      // Count client frames with RSV1 set on the wire (read with a second parser on a copy of the
      // bytes): proof the browser really compressed.
      const counter = new FrameParser(
        {
          onFrameHeader: (header) => {
            if (header.rsv1) side.compressedFrames++;
          },
          onFramePayload: () => {},
          onFrameEnd: () => false,
        },
        'masked',
      );
      socket.on('data', (chunk: Buffer) => {
        counter.push(Buffer.from(chunk));
        counter.parse();
      });
      if (head.length > 0) {
        counter.push(Buffer.from(head));
        counter.parse();
      }
      driver.io.write(head);
      socket.pipe(driver.io);
      driver.io.pipe(socket);
      socket.on('error', () => driver.io.end());
      driver.on('message', (event) => {
        side.messages.push(event.data);
        if (typeof event.data === 'string') driver.text(`echo: ${event.data}`);
        else driver.binary(event.data);
      });
      driver.on('close', (event) => {
        side.close = event;
        socket.end();
      });
      driver.start();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  it('negotiates permessage-deflate and exchanges compressed text and binary both ways', async () => {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
      ],
    });
    try {
      const page = await browser.newPage();
      await page.goto(`http://${baseUrl}/`);
      const result = (await page.evaluate(
        (url) => (globalThis as unknown as { runExchange(url: string): Promise<unknown> }).runExchange(url),
        `ws://${baseUrl}/echo`,
      )) as {
        extensions: string;
        received: unknown[];
        code: number;
        reason: string;
        wasClean: boolean;
      };
      const side = sides.at(-1)!;
      // Chrome's offer, as RFC 7692 lets it make it.
      expect(side.extensionHeader).toMatch(/permessage-deflate/);
      expect(side.extensionHeader).toMatch(/client_max_window_bits/);
      expect(result.extensions).toMatch(/^permessage-deflate/);
      expect(side.messages[0]).toBe(`browser says ${'hello '.repeat(400)}`);
      expect(
        Buffer.isBuffer(side.messages[1]) && (side.messages[1] as Buffer).equals(Buffer.alloc(5000, 7)),
      ).toBe(true);
      expect(side.messages[2]).toBe('short');
      expect(side.compressedFrames).toBeGreaterThan(0);
      expect(result.received).toEqual([
        `echo: browser says ${'hello '.repeat(400)}`,
        [7, 7, 7, 5000],
        'echo: short',
      ]);
      expect(result.code).toBe(4001);
      expect(result.wasClean).toBe(true);
      expect(side.close).toEqual({ code: 4001, reason: 'browser done' });
    } finally {
      await browser.close();
    }
  });
});
