// Owns the real Autobahn|Testsuite in the test run: cases 1-10 and a compression subset (12.1.1-6, 13.1.1-6,
// 13.7.1-6) against hybi's WebSocketServer and hybi's WebSocket client, strictly: anything but OK or
// INFORMATIONAL fails, the close behaviour included. Uses the Python 3 port beside the repository
// (../shared/autobahn, or $AUTOBAHN_HOME); skips, saying why, where it or its Python packages are absent.
// Every case, both ways: `npm run autobahn -- --local`.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gateReports } from '../../autobahn/gate.js';
import {
  clientRunnerCommand,
  locateLocalAutobahn,
  pickFreePort,
  runLocalFuzzingClient,
  runLocalFuzzingServer,
  startLocalEchoServer,
} from '../../autobahn/local.js';

const CASES = [
  // The suite has no sections 8 and 11.
  ...['1', '2', '3', '4', '5', '6', '7', '9', '10'].map((section) => `${section}.*`),
  ...[1, 2, 3, 4, 5, 6].flatMap((index) => [`12.1.${index}`, `13.1.${index}`, `13.7.${index}`]),
];
/** Cases 1-10 are 301 of the 517; the compression subset adds 18. */
const CASE_COUNT = 319;
/** About 1 min each on a 2-core machine; the bound is for a machine busy with other work. */
const RUN_TIMEOUT_MILLISECONDS = 300_000;

const suite = locateLocalAutobahn();
if (!suite.isAvailable) console.warn(`The real Autobahn|Testsuite tests are skipped: ${suite.reason}`);

/** Runs the strict gate on a run's reports; the listing of every failing case is the assertion message. */
function expectStrictPass(outdir: string): void {
  const gate = gateReports(outdir, { strictClose: true, nonStrictFails: true });
  expect(gate.passed, gate.lines.join('\n')).toBe(true);
  expect(gate.lines[0], gate.lines.join('\n')).toContain(`${CASE_COUNT} cases: `);
}

// The two runs use their own ports and directories and wait mostly on wstest: side by side they take the
// time of one.
describe
  .skipIf(!suite.isAvailable)
  .concurrent('the real Autobahn|Testsuite on cases 1-10, 12.1.1-6, 13.1.1-6 and 13.7.1-6, strictly', () => {
    const home = suite.isAvailable ? suite.home : '';

    it('finds nothing but OK and INFORMATIONAL in hybi WebSocketServer({ perMessageDeflate: true })', {
      timeout: RUN_TIMEOUT_MILLISECONDS + 10_000,
    }, async () => {
      const server = await startLocalEchoServer('websocket');
      const outdir = await mkdtemp(join(tmpdir(), 'hybi-autobahn-server-'));
      try {
        const result = await runLocalFuzzingClient({
          home,
          agent: 'hybi-websocket-server',
          cases: CASES,
          outdir,
          url: server.url,
          timeoutMilliseconds: RUN_TIMEOUT_MILLISECONDS,
        });
        expect(result.summary).toMatch(/^OK=\d+ NON-STRICT=0 INFORMATIONAL=\d+ UNIMPLEMENTED=0 FAILED=0$/);
        expectStrictPass(outdir);
      } finally {
        await server.close();
        await rm(outdir, { recursive: true, force: true });
      }
    });

    it('finds nothing but OK and INFORMATIONAL in hybi new WebSocket(url, [], { perMessageDeflate: true })', {
      timeout: RUN_TIMEOUT_MILLISECONDS + 10_000,
    }, async () => {
      const outdir = await mkdtemp(join(tmpdir(), 'hybi-autobahn-client-'));
      try {
        const result = await runLocalFuzzingServer({
          home,
          agent: 'hybi-websocket-client',
          cases: CASES,
          outdir,
          port: await pickFreePort(),
          clientCommand: clientRunnerCommand('websocket'),
          timeoutMilliseconds: RUN_TIMEOUT_MILLISECONDS,
        });
        expect(result.summary).toMatch(/^OK=\d+ NON-STRICT=0 INFORMATIONAL=\d+ UNIMPLEMENTED=0 FAILED=0$/);
        expectStrictPass(outdir);
      } finally {
        await rm(outdir, { recursive: true, force: true });
      }
    });
  });
