// A short run of the native conformance suite: a representative subset against hybi's own server and client,
// with and without permessage-deflate (no case may FAIL), and against peers that are wrong on purpose, to prove
// the suite tells them apart. The full run is `npm run conformance`.

import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { runAutobahnClient } from '../../autobahn/client-runner.js';
import { startEchoServer } from '../../autobahn/echo-server.js';
import { gateReports } from '../../autobahn/gate.js';
import { startClientTester } from '../../src/conformance/client-tester.js';
import { writeReports } from '../../src/conformance/report-json.js';
import type { SuiteResult } from '../../src/conformance/result.js';
import { testServer } from '../../src/conformance/runner.js';

/** Every case, at the quick profile's sizes (9.x, 12.x and 13.x scaled down; `--limits full` is Autobahn's). */
const SUBSET = ['*'];
/** Fail-fast waits of 200 ms instead of Autobahn's second: plenty on loopback. */
const FAST = { limits: 'quick', pace: 200, settleTime: 100 } as const;

/** Strict: every case OK, but where the RFC leaves a choice (INFORMATIONAL) or deflate is off (UNIMPLEMENTED). */
function notOk(suite: SuiteResult): string[] {
  return suite.results
    .filter((result) => result.verdict === 'FAILED' || result.verdict === 'NON-STRICT')
    .map((result) => `${result.id}: ${result.reason}\n${result.observed}`);
}

const directories: string[] = [];
afterAll(async () => {
  for (const directory of directories) await rm(directory, { recursive: true, force: true });
});

describe('the conformance suite against hybi', () => {
  for (const perMessageDeflate of [false, true]) {
    it(`finds every case OK (or INFORMATIONAL) in hybi's server ${perMessageDeflate ? 'with' : 'without'} permessage-deflate`, async () => {
      const server = await startEchoServer({ port: 0, perMessageDeflate });
      try {
        const suite = await testServer(server.url, {
          ...FAST,
          cases: SUBSET,
          exclude: perMessageDeflate ? [] : ['12.*', '13.*'],
        });
        expect(suite.results.length).toBeGreaterThan(320);
        expect(notOk(suite)).toEqual([]);
        // 14.1.11, 14.1.12 and 14.2.* need permessage-deflate agreed.
        expect(suite.counts.UNIMPLEMENTED).toBe(perMessageDeflate ? 0 : 13);
      } finally {
        await server.close();
      }
    });

    it(`finds every case OK (or INFORMATIONAL) in hybi's client ${perMessageDeflate ? 'with' : 'without'} permessage-deflate`, async () => {
      let suite: SuiteResult | undefined;
      const tester = await startClientTester({
        ...FAST,
        port: 0,
        cases: SUBSET,
        exclude: perMessageDeflate ? [] : ['12.*', '13.*'],
        onReportsRequested: (reported) => {
          suite = reported;
        },
      });
      try {
        const count = await runAutobahnClient({ url: tester.url, agent: 'hybi', perMessageDeflate });
        expect(count).toBe(tester.cases.length);
      } finally {
        await tester.close();
      }
      expect(suite?.results).toHaveLength(tester.cases.length);
      expect(notOk(suite!)).toEqual([]);
    });
  }

  it('writes reports the Autobahn gate reads', async () => {
    const server = await startEchoServer({ port: 0 });
    const directory = await mkdtemp(join(tmpdir(), 'hybi-conformance-'));
    directories.push(directory);
    try {
      const suite = await testServer(server.url, { ...FAST, cases: ['1.1.*', '7.13.*'], agent: 'hybi <&>' });
      expect(suite.results).toHaveLength(10);
      const written = await writeReports([suite], join(directory, 'servers'));
      const html = await readFile(written.html, 'utf8');
      expect(html).toContain('hybi &lt;&amp;&gt;');
      expect(html).toContain('id="s0-1_1_8"');
      const gate = gateReports(directory);
      expect(gate.passed).toBe(true);
      expect(gate.lines[0]).toBe(
        `hybi <&> (${join(directory, 'servers', 'index.json')}): 10 cases: 8 OK, 2 INFORMATIONAL`,
      );
    } finally {
      await server.close();
    }
  });
});

describe('the conformance suite against peers that are wrong', () => {
  async function wsServer(options: { skipUTF8Validation?: boolean }) {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0, ...options });
    server.on('connection', (socket) => {
      socket.on('error', () => {});
      socket.on('message', (data, isBinary) => socket.send(data as Buffer, { binary: isBinary }));
    });
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    const { port } = server.address() as net.AddressInfo;
    return {
      url: `ws://127.0.0.1:${port}`,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  }

  it('judges a peer that checks UTF-8 only at the end of a message NON-STRICT (ws)', async () => {
    const server = await wsServer({});
    try {
      const suite = await testServer(server.url, { ...FAST, cases: ['6.4.*'] });
      expect(suite.results.map((result) => result.verdict)).toEqual([
        'NON-STRICT',
        'NON-STRICT',
        'NON-STRICT',
        'NON-STRICT',
      ]);
    } finally {
      await server.close();
    }
  });

  it('fails a peer that echoes invalid UTF-8, with the rule it broke', async () => {
    const server = await wsServer({ skipUTF8Validation: true });
    try {
      const suite = await testServer(server.url, {
        ...FAST,
        cases: ['6.3.1', '6.20.1', '6.2.1'],
        failTimeout: 500,
      });
      const verdicts = Object.fromEntries(suite.results.map((result) => [result.id, result.verdict]));
      expect(verdicts).toEqual({ '6.2.1': 'OK', '6.3.1': 'FAILED', '6.20.1': 'FAILED' });
      expect(suite.results.find((result) => result.id === '6.3.1')?.reason).toMatch(
        /RFC 6455 §8\.1: text message that is not valid UTF-8/,
      );
    } finally {
      await server.close();
    }
  });

  it('fails a hung peer within the case limits instead of hanging', async () => {
    // Answers the handshake of the first connection, then ignores everything; never answers the second.
    const sockets: net.Socket[] = [];
    let connections = 0;
    const server = net.createServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => {});
      if (connections++ > 0) return;
      socket.once('data', (request) => {
        const key = /Sec-WebSocket-Key: (\S+)/i.exec(request.toString('latin1'))?.[1] ?? '';
        const accept = createHash('sha1')
          .update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
          .digest('base64');
        socket.write(
          `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const { port } = server.address() as net.AddressInfo;
    try {
      const startedAt = Date.now();
      const suite = await testServer(`ws://127.0.0.1:${port}`, {
        ...FAST,
        cases: ['2.1', '2.2'],
        concurrency: 1,
        responseTimeout: 200,
        closeTimeout: 200,
        handshakeTimeout: 300,
      });
      expect(Date.now() - startedAt).toBeLessThan(5_000);
      expect(suite.results.map((result) => result.verdict)).toEqual(['FAILED', 'FAILED']);
      expect(suite.results[0]?.reason).toBe('what the peer sent differs from every acceptable outcome');
      expect(suite.results[1]?.reason).toMatch(/^the opening handshake did not complete \(timeout/);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
