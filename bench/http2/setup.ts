// Owns the connection set-up benchmark: 1,000 WebSockets opened as streams of one HTTP/2 session (RFC 8441)
// against 1,000 TCP connections each with its HTTP/1.1 upgrade (and TLS beside them when openssl is there).
//
//   npx tsx bench/http2/setup.ts [connections, default 1000]
//
// The server is bench/http2/echo.ts's child process. All connections are started at once; the figures are the
// time until every one is open, and then until every one has closed (close() from the client, the close
// handshake of RFC 6455 §7 completed), median of 3 runs.

import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { hybiSource, importHybi } from '../support/hybi.js';
import { makeCertificate, median, startServerProcess, type Transport, target } from './echo.js';

const hybi = await importHybi<typeof import('../../src/index.js')>('index.js');
const { Http2SessionPool } = await importHybi<typeof import('../../src/node/http2-session-pool.js')>(
  'node/http2-session-pool.js',
);

const RUNS = 3;
const count = Number(process.argv[2] ?? 1000);
const certificate = makeCertificate();
const ca = certificate === undefined ? undefined : readFileSync(certificate.certPath);
const server = await startServerProcess(certificate);
const transports: Transport[] = certificate === undefined ? ['ws', 'h2c'] : ['ws', 'h2c', 'wss', 'h2'];
const rows: { transport: Transport; open: number; close: number; sessions: number }[] = [];

try {
  for (const transport of transports) {
    const opens: number[] = [];
    const closes: number[] = [];
    let sessions = 0;
    for (let run = 0; run < RUNS; run++) {
      const pool = new Http2SessionPool({ idleTimeout: 0 });
      const { url, options } = target(transport, server.ports, ca, pool);
      const started = performance.now();
      const sockets = await Promise.all(Array.from({ length: count }, () => hybi.connect(url, options)));
      opens.push(performance.now() - started);
      sessions = pool.size;
      const closing = performance.now();
      await Promise.all(
        sockets.map((socket) => {
          const closed = once(socket, 'close');
          socket.close();
          return closed;
        }),
      );
      closes.push(performance.now() - closing);
      pool.destroy();
    }
    rows.push({ transport, open: median(opens), close: median(closes), sessions });
    process.stderr.write('.');
  }
} finally {
  await server.stop();
  certificate?.remove();
}
process.stderr.write('\n');
console.log(
  `${count} WebSockets opened at once, then closed; hybi client ↔ hybi server (child process); median of ${RUNS}; hybi from ${hybiSource()}; Node ${process.version}\n`,
);
console.log('| transport | HTTP/2 sessions | all open (ms) | per connection (µs) | all closed (ms) |');
console.log('| --------- | --------------: | ------------: | ------------------: | --------------: |');
for (const row of rows) {
  console.log(
    `| ${row.transport} | ${row.transport.startsWith('h2') ? row.sessions : '–'} | ${row.open.toFixed(0)} | ${((row.open * 1000) / count).toFixed(0)} | ${row.close.toFixed(0)} |`,
  );
}
