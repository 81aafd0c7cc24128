// Owns `npm run conformance`: the whole native suite against hybi's server and client, with and without
// permessage-deflate, and against ws and websocket-driver as references; one report; exit 1 when a hybi
// case FAILED.
//
//   npm run conformance [-- --full | --limits full] [--cases 1.*,6.*] [--report dir] [--no-reference] [--pace ms]

import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runAutobahnClient } from '../autobahn/client-runner.js';
import { startEchoServer } from '../autobahn/echo-server.js';
import { startClientTester } from '../src/conformance/client-tester.js';
import { writeReports } from '../src/conformance/report-json.js';
import { formatSummary, shouldColor } from '../src/conformance/report-terminal.js';
import type { SuiteResult } from '../src/conformance/result.js';
import { testServer } from '../src/conformance/runner.js';
import type { SuiteSettings } from '../src/conformance/settings.js';
import { startWebSocketDriverEchoServer } from './websocket-driver-peers.js';
import { runWsClient, startWsEchoServer } from './ws-peers.js';

const { values } = parseArgs({
  options: {
    limits: { type: 'string', default: 'quick' },
    /** Shorthand for `--limits full`: Autobahn's exact 9.x/12.x/13.x sizes (about an hour). */
    full: { type: 'boolean', default: false },
    cases: { type: 'string' },
    report: { type: 'string', default: 'reports/conformance' },
    pace: { type: 'string' },
    'no-reference': { type: 'boolean', default: false },
  },
});

if (values.full) values.limits = 'full';
if (values.limits !== 'full' && values.limits !== 'quick') {
  process.stderr.write(`--limits is full or quick, not ${values.limits}\n`);
  process.exit(2);
}
const settings: Partial<SuiteSettings> = {
  limits: values.limits,
  ...(values.pace === undefined ? {} : { pace: Number(values.pace) }),
};
const include = values.cases === undefined ? [] : values.cases.split(',');
/** Without permessage-deflate, categories 12 and 13 have nothing to test. */
const withoutCompression = ['12.*', '13.*'];
const suites: SuiteResult[] = [];
const startedAt = Date.now();

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

async function testHybiServer(perMessageDeflate: boolean): Promise<void> {
  const agent = perMessageDeflate ? 'hybi-server-deflate' : 'hybi-server';
  const server = await startEchoServer({ port: 0, perMessageDeflate });
  const began = Date.now();
  try {
    suites.push(
      await testServer(server.url, {
        ...settings,
        agent,
        cases: include,
        exclude: perMessageDeflate ? [] : withoutCompression,
      }),
    );
  } finally {
    await server.close();
  }
  log(`${agent}: ${((Date.now() - began) / 1000).toFixed(1)} s`);
}

async function testClient(
  agent: string,
  run: (url: string) => Promise<unknown>,
  hasCompression: boolean,
): Promise<void> {
  let suite: SuiteResult | undefined;
  const tester = await startClientTester({
    ...settings,
    port: 0,
    cases: include,
    exclude: hasCompression ? [] : withoutCompression,
    onReportsRequested: (reported) => {
      suite = reported;
    },
  });
  const began = Date.now();
  try {
    await run(tester.url);
  } finally {
    await tester.close();
  }
  if (suite === undefined) throw new Error(`${agent} never asked for /updateReports`);
  suites.push(suite);
  log(`${agent}: ${((Date.now() - began) / 1000).toFixed(1)} s`);
}

await testHybiServer(false);
await testHybiServer(true);
await testClient(
  'hybi-client',
  (url) => runAutobahnClient({ url, agent: 'hybi-client', perMessageDeflate: false }),
  false,
);
await testClient(
  'hybi-client-deflate',
  (url) => runAutobahnClient({ url, agent: 'hybi-client-deflate', perMessageDeflate: true }),
  true,
);
if (values['no-reference'] !== true) {
  const reference = await startWsEchoServer();
  const began = Date.now();
  try {
    suites.push(
      await testServer(reference.url, { ...settings, agent: 'ws-server (reference)', cases: include }),
    );
  } finally {
    await reference.close();
  }
  log(`ws-server: ${((Date.now() - began) / 1000).toFixed(1)} s`);
  // A second, independent reference server: with faye's permessage-deflate, like the ws one.
  const driverReference = await startWebSocketDriverEchoServer({ perMessageDeflate: true });
  const driverBegan = Date.now();
  try {
    suites.push(
      await testServer(driverReference.url, {
        ...settings,
        agent: 'websocket-driver-server (reference)',
        cases: include,
      }),
    );
  } finally {
    await driverReference.close();
  }
  log(`websocket-driver-server: ${((Date.now() - driverBegan) / 1000).toFixed(1)} s`);
  await testClient('ws-client (reference)', (url) => runWsClient(url, 'ws-client (reference)'), true);
}

process.stdout.write(`${formatSummary(suites, { isColored: shouldColor() })}\n`);
const written = await writeReports(suites, resolve(values.report));
const hybiFailures = suites.filter((suite) => suite.agent.startsWith('hybi') && suite.counts.FAILED > 0);
process.stdout.write(
  `\nlimits: ${values.limits}${values.limits === 'quick' ? ' (category 9 sizes ÷16, 9.7/9.8 counts ÷10, 12/13 counts ÷50; --limits full for Autobahn’s)' : ''}; ${((Date.now() - startedAt) / 1000).toFixed(1)} s in all\nHTML report: ${written.html}\n`,
);
if (hybiFailures.length > 0) {
  process.stdout.write(`FAILED cases in ${hybiFailures.map((suite) => suite.agent).join(', ')}\n`);
  process.exitCode = 1;
} else {
  process.stdout.write('No hybi case FAILED (reference results are reported, not gated).\n');
}
