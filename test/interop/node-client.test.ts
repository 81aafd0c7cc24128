// Interop with Node's built-in WebSocket client (undici; behind --experimental-websocket in Node 20):
// a child process talks to a hybi server and reports what it saw as JSON on stdout.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type WebSocket, type WebSocketCloseEvent, WebSocketServer } from '../../src/index.js';

const cleanups: (() => Promise<unknown> | undefined)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/**
 * The child: opens `url` offering the 'chat' subprotocol, sends a text, a Uint8Array and a Blob, and
 * either closes with 4000 after three echoes ('client-closes') or asks the server to close ('server-closes').
 */
const CLIENT_SCRIPT = `
const [url, mode] = process.argv.slice(1);
const socket = new WebSocket(url, ['chat']);
socket.binaryType = 'arraybuffer';
const report = { protocol: '', extensions: '', messages: [], errors: 0, close: null };
socket.onopen = () => {
  report.protocol = socket.protocol;
  report.extensions = socket.extensions;
  socket.send('hello from undici ✓');
  socket.send(new Uint8Array([1, 2, 3, 0, 255]));
  socket.send(new Blob(['blob bytes']));
};
socket.onmessage = (event) => {
  report.messages.push(typeof event.data === 'string' ? event.data : [...new Uint8Array(event.data)]);
  if (report.messages.length === 3) {
    if (mode === 'client-closes') socket.close(4000, 'undici is done');
    else socket.send('please close');
  }
};
socket.onerror = () => { report.errors++; };
socket.onclose = (event) => {
  report.close = { code: event.code, reason: event.reason, wasClean: event.wasClean };
  console.log(JSON.stringify(report));
};
`;

interface ClientReport {
  protocol: string;
  extensions: string;
  messages: (string | number[])[];
  errors: number;
  close: { code: number; reason: string; wasClean: boolean } | null;
}

async function runNodeClient(url: string, mode: 'client-closes' | 'server-closes'): Promise<ClientReport> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--experimental-websocket', '--no-warnings', '--input-type=module', '-e', CLIENT_SCRIPT, url, mode],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  cleanups.push(() => {
    if (child.exitCode === null) child.kill();
    return undefined;
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const [exitCode] = (await once(child, 'exit')) as [number | null];
  expect(stderr).toBe('');
  expect(exitCode).toBe(0);
  return JSON.parse(stdout) as ClientReport;
}

async function startServer(perMessageDeflate: boolean) {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1', protocols: ['chat'], perMessageDeflate });
  cleanups.push(() => server.close());
  await once(server, 'listening');
  const serverCloses: Promise<WebSocketCloseEvent>[] = [];
  server.on('connection', (socket: WebSocket) => {
    serverCloses.push(once(socket, 'close').then(([event]) => event as WebSocketCloseEvent));
    socket.addEventListener('message', (event) => {
      if (event.data === 'please close') socket.close(4001, 'hybi is done');
      else socket.send(event.data);
    });
  });
  const { port } = server.address() as AddressInfo;
  return { url: `ws://127.0.0.1:${port}/undici`, serverCloses };
}

describe("Node's built-in WebSocket client → hybi server", () => {
  for (const perMessageDeflate of [false, true]) {
    const mode = perMessageDeflate ? 'with permessage-deflate' : 'without extensions';

    it(`echoes text, bytes and a Blob, then closes with the client's code, ${mode}`, async () => {
      const { url, serverCloses } = await startServer(perMessageDeflate);
      const report = await runNodeClient(url, 'client-closes');
      expect(report.protocol).toBe('chat');
      expect(report.extensions.startsWith('permessage-deflate')).toBe(perMessageDeflate);
      expect(report.messages).toEqual([
        'hello from undici ✓',
        [1, 2, 3, 0, 255],
        [...Buffer.from('blob bytes')],
      ]);
      expect(report.errors).toBe(0);
      // hybi's reply echoes the client's code and reason, as ws and websocket-driver do.
      expect(report.close).toEqual({ code: 4000, reason: 'undici is done', wasClean: true });
      const serverEvent = await serverCloses[0]!;
      expect([serverEvent.code, serverEvent.reason, serverEvent.wasClean]).toEqual([
        4000,
        'undici is done',
        true,
      ]);
    });
  }

  it("reports the hybi server's close code and reason", async () => {
    const { url, serverCloses } = await startServer(false);
    const report = await runNodeClient(url, 'server-closes');
    expect(report.messages).toHaveLength(3);
    expect(report.close).toEqual({ code: 4001, reason: 'hybi is done', wasClean: true });
    const serverEvent = await serverCloses[0]!;
    expect([serverEvent.code, serverEvent.wasClean]).toEqual([4001, true]);
  });
});
