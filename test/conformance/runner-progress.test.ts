// The server runner's reporting side: a dead server stops the run and says so, a refused handshake shows
// its status line, a certificate that does not verify points at --insecure, UNIMPLEMENTED cases fold into
// one summary line per group, and the time-left estimate.

import { once } from 'node:events';
import https from 'node:https';
import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { startEchoServer } from '../../autobahn/echo-server.js';
import { estimateTimeLeft, formatDuration, formatTimeLeft } from '../../src/conformance/progress.js';
import { caseReason, formatSummary } from '../../src/conformance/report-terminal.js';
import { type CaseProgress, testServer } from '../../src/conformance/runner.js';
import { WebSocketServer } from '../../src/index.js';
import { createSelfSignedCertificate } from '../support/certificates.js';

const FAST = { limits: 'quick', pace: 200, settleTime: 100 } as const;
const certificate = createSelfSignedCertificate('the certificate hint of the conformance runner');
afterAll(() => certificate?.cleanup());

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('a server that is not there', () => {
  it('stops after 5 unreachable cases in a row and says no case ever connected', async () => {
    const port = await closedPort();
    const progress: CaseProgress[] = [];
    const totals: number[] = [];
    const suite = await testServer(`ws://127.0.0.1:${port}`, {
      ...FAST,
      cases: ['1.*', '2.*'],
      concurrency: 1,
      onCaseComplete: (_result, _completed, total, state) => {
        progress.push(state);
        totals.push(total);
      },
    });
    expect(suite.results).toHaveLength(5);
    expect(progress.map((state) => state.connection.isReached)).toEqual([false, false, false, false, false]);
    expect(progress[0]?.connection.error).toBe(`connect ECONNREFUSED 127.0.0.1:${port}`);
    const total = totals[0]!;
    expect(suite.stopped).toBe(
      `stopped after 5 cases in a row could not connect to ws://127.0.0.1:${port}/ (connect ECONNREFUSED 127.0.0.1:${port}): no case ever connected; is the server running at that address? (${total - 5} of ${total} cases were not run)`,
    );
    expect(formatSummary([suite], { isColored: false })).toContain(
      `(${total - 5} of ${total} cases were not run)`,
    );
  });

  it('names the last case answered when the server goes down mid-run', async () => {
    const server = await startEchoServer({ port: 0, perMessageDeflate: false });
    let opened = 0;
    const suite = await testServer(server.url, {
      ...FAST,
      cases: ['1.1.*', '1.2.*'],
      concurrency: 1,
      onCaseComplete: () => {
        // After three cases the server is gone: its port refuses from then on.
        if (++opened === 3) void server.close();
      },
    });
    expect(suite.results.slice(0, 3).map((result) => result.verdict)).toEqual(['OK', 'OK', 'OK']);
    expect(suite.results).toHaveLength(8);
    expect(suite.stopped).toMatch(
      /^stopped after 5 cases in a row could not connect to .* the server answered until case 1\.1\.3 and seems to have gone down \(8 of 16 cases were not run\)$/,
    );
  });

  it('runs every case with stopAfterUnreachable: 0', async () => {
    const suite = await testServer(`ws://127.0.0.1:${await closedPort()}`, {
      ...FAST,
      cases: ['1.1.*'],
      stopAfterUnreachable: 0,
    });
    expect(suite.results).toHaveLength(8);
    expect(suite.stopped).toBeUndefined();
  });
});

describe('terminal lines', () => {
  it('show the status line of a refused handshake', async () => {
    const server = new WebSocketServer({
      port: 0,
      host: '127.0.0.1',
      verifyRequest: () => ({ status: 403 }),
    });
    await once(server, 'listening');
    try {
      const { port } = server.address() as net.AddressInfo;
      const suite = await testServer(`ws://127.0.0.1:${port}`, { ...FAST, cases: ['1.1.1'] });
      expect(caseReason(suite.results[0]!)).toBe(
        'the opening handshake did not complete (refused) [HTTP/1.1 403 Forbidden]',
      );
      expect(formatSummary([suite], { isColored: false })).toContain('[HTTP/1.1 403 Forbidden]');
    } finally {
      await server.close();
    }
  });

  it.skipIf(certificate === undefined)(
    'point at --insecure when the certificate does not verify',
    async () => {
      const httpsServer = https.createServer({ key: certificate!.key, cert: certificate!.cert });
      const server = new WebSocketServer({ server: httpsServer });
      server.on('connection', (socket) =>
        socket.addEventListener('message', (event) => socket.send(event.data)),
      );
      httpsServer.listen(0, '127.0.0.1');
      await once(httpsServer, 'listening');
      try {
        const { port } = httpsServer.address() as net.AddressInfo;
        const connections: CaseProgress['connection'][] = [];
        const suite = await testServer(`wss://localhost:${port}`, {
          ...FAST,
          cases: ['1.*'],
          concurrency: 1,
          onCaseComplete: (_result, _completed, _total, state) => connections.push(state.connection),
        });
        expect(connections[0]).toEqual({
          isReached: false,
          error: 'self-signed certificate',
          isCertificateError: true,
        });
        expect(suite.stopped).toContain(
          "the server's certificate does not verify; --insecure skips the check",
        );
        const insecure = await testServer(`wss://localhost:${port}`, {
          ...FAST,
          cases: ['1.1.1'],
          rejectUnauthorized: false,
        });
        expect([insecure.results[0]?.verdict, insecure.results[0]?.reason]).toEqual([
          'OK',
          'the peer did what the RFC requires',
        ]);
      } finally {
        await server.close();
        await new Promise<void>((resolve) => httpsServer.close(() => resolve()));
      }
    },
  );

  it('fold UNIMPLEMENTED cases into one line per group', async () => {
    const server = await startEchoServer({ port: 0, perMessageDeflate: false });
    try {
      const suite = await testServer(server.url, { ...FAST, cases: ['12.1.*', '1.1.1'] });
      const unimplemented = suite.results.filter((result) => result.verdict === 'UNIMPLEMENTED');
      expect(unimplemented.length).toBeGreaterThan(1);
      const lines = formatSummary([suite], { isColored: false }).split('\n');
      const groupLines = lines.filter((line) => line.includes('UNIMPLEMENTED'));
      expect(groupLines).toEqual([
        `  12.1.*    UNIMPLEMENTED ${unimplemented.length} cases (12.1.1 to ${unimplemented.at(-1)?.id}): ${unimplemented[0]?.reason}`,
      ]);
    } finally {
      await server.close();
    }
  });
});

describe('time left', () => {
  it('is the cases left times the cost of a done case, per group', () => {
    expect(
      estimateTimeLeft([
        { completed: 10, remaining: 30, spentMilliseconds: 2_000 },
        { completed: 2, remaining: 3, spentMilliseconds: 10_000 },
      ]),
    ).toEqual({ milliseconds: 6_000 + 15_000, isLowerBound: false });
  });

  it('borrows the mean of the timed groups for an untimed one, as a lower bound', () => {
    expect(
      estimateTimeLeft([
        { completed: 4, remaining: 0, spentMilliseconds: 4_000 },
        { completed: 0, remaining: 5, spentMilliseconds: 0 },
      ]),
    ).toEqual({ milliseconds: 5_000, isLowerBound: true });
    expect(estimateTimeLeft([{ completed: 0, remaining: 5, spentMilliseconds: 0 }])).toBeUndefined();
  });

  it('reads at a glance', () => {
    expect(formatDuration(45_400)).toBe('45 s');
    expect(formatDuration(125_000)).toBe('2 min 05 s');
    expect(formatDuration(3_780_000)).toBe('1 h 03 min');
    expect(formatTimeLeft({ milliseconds: 125_000, isLowerBound: true })).toBe('at least 2 min 05 s left');
    expect(formatTimeLeft({ milliseconds: 400, isLowerBound: false })).toBe('under a second left');
  });
});
