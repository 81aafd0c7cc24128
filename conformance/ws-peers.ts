// Owns the reference peers the conformance run compares hybi with: a ws echo server and a ws client runner
// that follows the Autobahn runner protocol, both with permessage-deflate on (ws's defaults otherwise).

import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';

export interface ReferenceServer {
  url: string;
  close(): Promise<void>;
}

/** A ws echo server on a free port: every message back with its type. */
export async function startWsEchoServer(): Promise<ReferenceServer> {
  const server = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    perMessageDeflate: true,
    maxPayload: 100 * 1024 * 1024,
  });
  server.on('connection', (socket) => {
    // Protocol errors close the connection; without a listener ws would throw them.
    socket.on('error', () => {});
    socket.on('message', (data, isBinary) => socket.send(data as Buffer, { binary: isBinary }));
  });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of server.clients) client.terminate();
        server.close(() => resolve());
      }),
  };
}

/** Runs every case of a client tester with ws as the client, then asks for the reports. */
export async function runWsClient(url: string, agent: string): Promise<number> {
  const base = url.replace(/\/+$/, '');
  const countText = await openAndCollect(`${base}/getCaseCount`);
  const caseCount = Number(JSON.parse(countText ?? '0'));
  for (let caseNumber = 1; caseNumber <= caseCount; caseNumber++) {
    await openAndCollect(`${base}/runCase?case=${caseNumber}&agent=${encodeURIComponent(agent)}`, true);
  }
  await openAndCollect(`${base}/updateReports?agent=${encodeURIComponent(agent)}`);
  return caseCount;
}

/** Opens a connection, echoes (or keeps the first message), resolves when it is closed or failed. */
function openAndCollect(url: string, isEcho = false): Promise<string | undefined> {
  return new Promise((resolve) => {
    let first: string | undefined;
    const socket = new WebSocket(url, { perMessageDeflate: true, maxPayload: 100 * 1024 * 1024 });
    socket.on('message', (data, isBinary) => {
      if (isEcho) socket.send(data as Buffer, { binary: isBinary });
      else first ??= String(data);
    });
    // Handshake failures and protocol errors end the case; the tester judges them.
    socket.on('error', () => {});
    socket.on('close', () => resolve(first));
  });
}
