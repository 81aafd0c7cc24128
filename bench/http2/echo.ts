// Owns the echo benchmark over HTTP/2 (RFC 8441) beside HTTP/1.1: hybi's client against hybi's server in a
// child process, messages/s and MB/s per transport and size; and, run as `echo.ts server`, that child server
// (bench/http2/setup.ts starts it too).
//
//   npx tsx bench/http2/echo.ts [seconds per run, default 1.5]
//
// Transports: ws:// (HTTP/1.1 upgrade, cleartext), h2c (HTTP/2 cleartext), and when openssl is there, wss://
// over HTTP/1.1 and h2 (HTTP/2 over TLS) from one http2.createSecureServer with allowHTTP1. No
// permessage-deflate: this measures the transports, not zlib.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hybiSource, importHybi } from '../support/hybi.js';

const hybi = await importHybi<typeof import('../../src/index.js')>('index.js');
const { Http2SessionPool } = await importHybi<typeof import('../../src/node/http2-session-pool.js')>(
  'node/http2-session-pool.js',
);

export type Transport = 'ws' | 'h2c' | 'wss' | 'h2';

/** The ports of a running child server: cleartext HTTP/1.1, h2c, and TLS (HTTP/1.1 and h2) when it has a certificate. */
export interface ServerPorts {
  http1: number;
  h2c: number;
  tls: number | undefined;
}

// --- the child server ----------------------------------------------------------------------------------

async function runServer(): Promise<void> {
  const http1Server = http.createServer();
  const h2cServer = http2.createServer();
  const keyPath = process.env.HYBI_BENCH_KEY;
  const certPath = process.env.HYBI_BENCH_CERT;
  const tlsServer =
    keyPath !== undefined && certPath !== undefined
      ? http2.createSecureServer({
          key: readFileSync(keyPath),
          cert: readFileSync(certPath),
          allowHTTP1: true,
        })
      : undefined;
  for (const server of [http1Server, h2cServer, tlsServer]) {
    if (server === undefined) continue;
    // Attached before listen: the extended CONNECT setting (RFC 8441 §3) goes to sessions started afterwards.
    const wss = new hybi.WebSocketServer({ server, perMessageDeflate: false });
    wss.on('connection', (socket) => {
      socket.binaryType = 'nodebuffer';
      socket.addEventListener('message', (event) => socket.send(event.data as Buffer));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
  }
  const port = (server: { address(): unknown } | undefined) =>
    server === undefined ? undefined : (server.address() as AddressInfo).port;
  const ports: ServerPorts = { http1: port(http1Server)!, h2c: port(h2cServer)!, tls: port(tlsServer) };
  process.stdout.write(`${JSON.stringify(ports)}\n`);
  // The parent closing our stdin is the signal to go.
  process.stdin.resume();
  process.stdin.once('end', () => process.exit(0));
}

// --- shared with setup.ts ------------------------------------------------------------------------------

/** A self-signed certificate for localhost in a temporary directory, or undefined without openssl. */
export function makeCertificate(): { keyPath: string; certPath: string; remove(): void } | undefined {
  if (spawnSync('openssl', ['version']).status !== 0) return undefined;
  const directory = mkdtempSync(path.join(tmpdir(), 'hybi-bench-h2-'));
  const keyPath = path.join(directory, 'key.pem');
  const certPath = path.join(directory, 'cert.pem');
  const result = spawnSync('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-days',
    '1',
    '-keyout',
    keyPath,
    '-out',
    certPath,
  ]);
  if (result.status !== 0) throw new Error(`openssl failed: ${result.stderr}`);
  return { keyPath, certPath, remove: () => rmSync(directory, { recursive: true, force: true }) };
}

/** Starts `echo.ts server` in a child process (`process.execPath --import tsx`) and reads its ports. */
export async function startServerProcess(
  certificate: { keyPath: string; certPath: string } | undefined,
): Promise<{ child: ChildProcess; ports: ServerPorts; stop(): Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), 'server'], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: {
      ...process.env,
      ...(certificate === undefined
        ? {}
        : { HYBI_BENCH_KEY: certificate.keyPath, HYBI_BENCH_CERT: certificate.certPath }),
    },
  });
  let line = '';
  for await (const chunk of child.stdout!) {
    line += String(chunk);
    if (line.includes('\n')) break;
  }
  const ports = JSON.parse(line) as ServerPorts;
  return {
    child,
    ports,
    async stop() {
      child.stdin!.end();
      if (child.exitCode === null) await once(child, 'exit');
    },
  };
}

/** The URL and client options that reach `transport` on the child server. */
export function target(
  transport: Transport,
  ports: ServerPorts,
  ca: Buffer | undefined,
  pool: InstanceType<typeof Http2SessionPool>,
): { url: string; options: import('../../src/node/client-options.js').ClientOptions } {
  const base = { perMessageDeflate: false, sessionPool: pool } as const;
  switch (transport) {
    case 'ws':
      return { url: `ws://localhost:${ports.http1}/`, options: { ...base, http2: 'off' } };
    case 'h2c':
      return { url: `ws://localhost:${ports.h2c}/`, options: { ...base, http2: 'require' } };
    case 'wss':
      return {
        url: `wss://localhost:${ports.tls}/`,
        options: { ...base, http2: 'off', ...(ca ? { ca } : {}) },
      };
    case 'h2':
      return {
        url: `wss://localhost:${ports.tls}/`,
        options: { ...base, http2: 'require', ...(ca ? { ca } : {}) },
      };
  }
}

export function median(values: number[]): number {
  const sorted = [...values].sort((left, right) => left - right);
  return sorted[Math.floor(sorted.length / 2)]!;
}

// --- the echo client -----------------------------------------------------------------------------------

const SIZES = [16, 1024, 64 * 1024, 1024 * 1024];
const WINDOW = 32;
const RUNS = 3;

function sizeName(size: number): string {
  if (size >= 1024 * 1024) return `${size / 1024 / 1024} MiB`;
  if (size >= 1024) return `${size / 1024} KiB`;
  return `${size} B`;
}

/** Echoes `size`-byte messages with WINDOW in flight for `seconds`; returns messages/s. */
async function echoRun(socket: import('../../src/websocket.js').WebSocket, size: number, seconds: number) {
  const payload = Buffer.alloc(size, 0x61);
  let received = 0;
  let inFlight = 0;
  let isSending = true;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const finished = new Promise<number>((resolve) => {
    const onMessage = () => {
      received++;
      inFlight--;
      if (isSending && performance.now() < deadline) {
        socket.send(payload);
        inFlight++;
        return;
      }
      isSending = false;
      if (inFlight === 0) {
        socket.removeEventListener('message', onMessage);
        resolve(received / ((performance.now() - started) / 1000));
      }
    };
    socket.addEventListener('message', onMessage);
  });
  for (let index = 0; index < WINDOW; index++) {
    socket.send(payload);
    inFlight++;
  }
  return finished;
}

async function runClient(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 1.5);
  const certificate = makeCertificate();
  const ca = certificate === undefined ? undefined : readFileSync(certificate.certPath);
  const server = await startServerProcess(certificate);
  const transports: Transport[] = certificate === undefined ? ['ws', 'h2c'] : ['ws', 'h2c', 'wss', 'h2'];
  const rows: { transport: Transport; size: number; messagesPerSecond: number; runs: number[] }[] = [];
  try {
    for (const size of SIZES) {
      for (const transport of transports) {
        const runs: number[] = [];
        for (let run = 0; run < RUNS; run++) {
          const pool = new Http2SessionPool({ idleTimeout: 0 });
          const { url, options } = target(transport, server.ports, ca, pool);
          const socket = await hybi.connect(url, options);
          if (socket.httpProtocol !== (transport === 'ws' || transport === 'wss' ? 'http/1.1' : transport)) {
            throw new Error(`${transport}: the WebSocket went over ${socket.httpProtocol}`);
          }
          socket.binaryType = 'nodebuffer';
          runs.push(await echoRun(socket, size, seconds));
          socket.close();
          await once(socket, 'close');
          pool.destroy();
        }
        rows.push({ transport, size, messagesPerSecond: median(runs), runs });
        process.stderr.write('.');
      }
    }
  } finally {
    await server.stop();
    certificate?.remove();
  }
  process.stderr.write('\n');
  console.log(
    `hybi client ↔ hybi server (child process), ${WINDOW} messages in flight, ${seconds} s per run, median of ${RUNS}; hybi from ${hybiSource()}; Node ${process.version}\n`,
  );
  console.log('| size | transport | messages/s | MB/s (payload, one way) | runs (messages/s) |');
  console.log('| ---- | --------- | ---------: | ----------------------: | ----------------- |');
  for (const row of rows) {
    const megabytes = (row.messagesPerSecond * row.size) / 1e6;
    console.log(
      `| ${sizeName(row.size)} | ${row.transport} | ${Math.round(row.messagesPerSecond).toLocaleString('en')} | ${megabytes.toFixed(1)} | ${row.runs.map((value) => Math.round(value)).join(', ')} |`,
    );
  }
}

const isEntry =
  process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isEntry && process.argv[2] === 'server') await runServer();
else if (isEntry) await runClient();
