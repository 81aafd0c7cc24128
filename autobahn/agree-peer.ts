// Owns the peers `npm run autobahn:agree` puts in front of both suites, each in a process of its own so that
// the suite under comparison never shares an event loop with it: echo servers (hybi's WebSocketServer, ws,
// websocket-driver with permessage-deflate) and Autobahn-runner-protocol clients (hybi's WebSocket, ws).
//
//   npx tsx autobahn/agree-peer.ts server <hybi|ws|websocket-driver> [--hybi-src dir] [--face iterator]
//       listens on a free 127.0.0.1 port, prints `listening ws://127.0.0.1:PORT`, runs until killed
//   URL=ws://127.0.0.1:9001 AGENT=name npx tsx autobahn/agree-peer.ts client <hybi|ws> [--hybi-src dir]
//       runs every case the fuzzing server offers (/getCaseCount, /runCase, /updateReports), then exits
//
// --hybi-src loads hybi from another checkout's src/ (e.g. an older commit's, to show what a suite catches);
// --face iterator makes hybi's echo a `for await (const message of socket)` loop instead of onmessage.

import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { startWebSocketDriverEchoServer } from '../conformance/websocket-driver-peers.js';
import { runWsClient, startWsEchoServer } from '../conformance/ws-peers.js';

/** The part of hybi's browser-style WebSocket an echo needs. */
interface EchoSocket extends AsyncIterable<unknown> {
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: (() => void) | null;
  onerror: (() => void) | null;
  send(data: string | Buffer): void;
}
interface HybiModule {
  WebSocket: new (url: string, protocols: string[], options: { perMessageDeflate: boolean }) => EchoSocket;
  WebSocketServer: new (options: {
    port: number;
    host: string;
    perMessageDeflate: boolean;
  }) => {
    on(event: 'connection', listener: (socket: EchoSocket) => void): void;
    once(event: 'listening', listener: () => void): void;
    address(): AddressInfo | string | null;
    close(): Promise<void>;
  };
}

export const SERVER_PEERS = ['hybi', 'ws', 'websocket-driver'] as const;
export const CLIENT_PEERS = ['hybi', 'ws'] as const;

async function loadHybi(source: string | undefined): Promise<HybiModule> {
  const entry =
    source === undefined
      ? new URL('../src/index.js', import.meta.url).href
      : pathToFileURL(resolve(source, 'index.ts')).href;
  return (await import(entry)) as HybiModule;
}

/** How the echo reads: the onmessage handler, or a `for await` loop over the socket. */
type Face = 'onmessage' | 'iterator';

/** An echo: text back as text, binary (a Buffer, hybi's default binaryType) back as binary. */
function echo(socket: EchoSocket, face: Face): void {
  // Protocol errors end the case; the suite judges them.
  socket.onerror = () => {};
  const answer = (data: unknown): void => {
    if (typeof data === 'string' || Buffer.isBuffer(data)) socket.send(data);
  };
  if (face === 'onmessage') {
    socket.onmessage = (event) => answer(event.data);
    return;
  }
  void (async () => {
    try {
      for await (const data of socket) answer(data);
    } catch {
      // The loop ends with the connection, failed or not; the suite judges the connection.
    }
  })();
}

async function startServer(name: string, face: Face, source: string | undefined): Promise<string> {
  if (name === 'ws') return (await startWsEchoServer()).url;
  if (name === 'websocket-driver')
    return (await startWebSocketDriverEchoServer({ perMessageDeflate: true })).url;
  if (name !== 'hybi') throw new Error(`no server peer named ${name}`);
  const { WebSocketServer } = await loadHybi(source);
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: true });
  server.on('connection', (socket) => echo(socket, face));
  await new Promise<void>((done) => server.once('listening', done));
  const address = server.address() as AddressInfo;
  return `ws://127.0.0.1:${address.port}`;
}

/** Opens one connection; resolves with its first message once it closed, echoing every message when asked. */
function openAndCollect(
  hybi: HybiModule,
  url: string,
  echoFace: Face | undefined,
): Promise<string | undefined> {
  return new Promise((done) => {
    let first: string | undefined;
    const socket = new hybi.WebSocket(url, [], { perMessageDeflate: true });
    if (echoFace !== undefined) echo(socket, echoFace);
    else {
      socket.onmessage = (event) => {
        first ??= String(event.data);
      };
      socket.onerror = () => {};
    }
    socket.onclose = () => done(first);
  });
}

/** hybi's `new WebSocket(url, [], { perMessageDeflate: true })` through the Autobahn runner protocol. */
async function runHybiClient(
  url: string,
  agent: string,
  face: Face,
  source: string | undefined,
): Promise<number> {
  const hybi = await loadHybi(source);
  const base = url.replace(/\/+$/, '');
  const query = encodeURIComponent(agent);
  const caseCount = Number(
    JSON.parse((await openAndCollect(hybi, `${base}/getCaseCount`, undefined)) ?? '0'),
  );
  for (let caseNumber = 1; caseNumber <= caseCount; caseNumber++) {
    await openAndCollect(hybi, `${base}/runCase?case=${caseNumber}&agent=${query}`, face);
  }
  await openAndCollect(hybi, `${base}/updateReports?agent=${query}`, undefined);
  return caseCount;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { 'hybi-src': { type: 'string' }, face: { type: 'string', default: 'onmessage' } },
  });
  const [role, name] = positionals;
  const source = values['hybi-src'];
  const face = values.face;
  if (face !== 'onmessage' && face !== 'iterator')
    throw new Error(`--face is onmessage or iterator, not ${face}`);
  if (role === 'server' && name !== undefined) {
    process.stdout.write(`listening ${await startServer(name, face, source)}\n`);
    return;
  }
  if (role === 'client' && name !== undefined) {
    const url = process.env.URL;
    const agent = process.env.AGENT ?? name;
    if (url === undefined) throw new Error('set URL to the fuzzing server, e.g. ws://127.0.0.1:9001');
    if (name !== 'ws' && name !== 'hybi') throw new Error(`no client peer named ${name}`);
    const count =
      name === 'ws' ? await runWsClient(url, agent) : await runHybiClient(url, agent, face, source);
    process.stdout.write(`ran ${count} cases as ${agent}\n`);
    return;
  }
  throw new Error(
    'usage: agree-peer.ts server <hybi|ws|websocket-driver> | client <hybi|ws> [--hybi-src dir]',
  );
}

await main();
