// Owns `npm run autobahn:agree`: the real Autobahn|Testsuite (../shared/autobahn, Python 3, no Docker) and
// hybi's native suite on the same peers and the same cases, one run at a time, compared case by case. Prints
// a table of verdict counts per peer and suite, then every case where the two verdicts differ, and writes
// both as JSON. Bounded: each run is stopped after --run-timeout seconds. Exit status 1 when a disagreement
// is not on the DOCUMENTED list below, 2 when a run could not finish.
//
//   npm run autobahn:agree [-- --peers hybi-server,ws-client] [--old-hybi-src /tmp/old-hybi/src]
//                          [--cases 1.*,2.*] [--out reports/agree] [--run-timeout 600]
//
// Peers: hybi-server, ws-server, websocket-driver-server, hybi-client, ws-client (all with
// permessage-deflate offered/accepted); --old-hybi-src adds hybi-client-old, the client loaded from another
// checkout's src/ (to show that a suite tells an older behaviour apart).

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startClientTester } from '../src/conformance/client-tester.js';
import type { SuiteResult } from '../src/conformance/result.js';
import { testServer } from '../src/conformance/runner.js';
import { VERDICTS, type Verdict } from '../src/conformance/verdict.js';

const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const tsx = join(repositoryRoot, 'node_modules', '.bin', 'tsx');
const peerScript = join(repositoryRoot, 'autobahn', 'agree-peer.ts');

/** Cases 1-10 and the compression subset that the CI run of the real suite uses (issue 18). */
const DEFAULT_CASES = [
  ...['1', '2', '3', '4', '5', '6', '7', '9', '10'].map((category) => `${category}.*`),
  ...[1, 2, 3, 4, 5, 6].flatMap((index) => [`12.1.${index}`, `13.1.${index}`, `13.7.${index}`]),
];

/**
 * Disagreements that are understood, with why: the script reports them apart and does not fail on them.
 * `peers` limits an entry to peers whose name starts with one of these.
 */
const DOCUMENTED: readonly { ids: readonly string[]; peers?: readonly string[]; why: string }[] = [
  {
    ids: ['7.1.1'],
    why: "deliberate: the native 7.1.1 sends a close frame right behind the message, in the same write, as Autobahn's description of 7.1.1 says; Autobahn's code has that sendClose commented out and closes only after the echo, so only the native case sees a peer drop the echo of a message that arrived with a close",
  },
  {
    ids: ['3.3', '3.4', '4.1.5', '4.2.5'],
    peers: ['hybi-client-old'],
    why: 'a race in the peer, in both suites: its first-turn hold loses the echo only when the later writes (synced frames, one-octet chops) reach it before its next turn, so each run of either suite may call these OK or NON-STRICT',
  },
];

function documentedWhy(peer: string, id: string): string | undefined {
  return DOCUMENTED.find(
    (entry) =>
      entry.ids.includes(id) &&
      (entry.peers === undefined || entry.peers.some((name) => peer.startsWith(name))),
  )?.why;
}

interface Peer {
  name: string;
  role: 'server' | 'client';
  /** agree-peer.ts arguments. */
  args: string[];
}

const { values } = parseArgs({
  options: {
    peers: { type: 'string' },
    cases: { type: 'string' },
    'old-hybi-src': { type: 'string' },
    out: { type: 'string', default: 'reports/agree' },
    'run-timeout': { type: 'string', default: '600' },
    suites: { type: 'string', default: 'autobahn,native' },
  },
});

const autobahnHome = resolve(process.env.AUTOBAHN_HOME ?? join(repositoryRoot, '..', 'shared', 'autobahn'));
const cases = values.cases === undefined ? DEFAULT_CASES : values.cases.split(',').map((c) => c.trim());
const runTimeoutMilliseconds = Number(values['run-timeout']) * 1000;
const suitesToRun = new Set(values.suites.split(','));
if (suitesToRun.has('autobahn') && !existsSync(join(autobahnHome, 'bin', 'wstest'))) {
  process.stderr.write(
    `the real Autobahn|Testsuite is not at ${autobahnHome} (set AUTOBAHN_HOME, or --suites native)\n`,
  );
  process.exit(2);
}
const allPeers: Peer[] = [
  { name: 'hybi-server', role: 'server', args: ['server', 'hybi'] },
  { name: 'ws-server', role: 'server', args: ['server', 'ws'] },
  { name: 'websocket-driver-server', role: 'server', args: ['server', 'websocket-driver'] },
  { name: 'hybi-client', role: 'client', args: ['client', 'hybi'] },
  { name: 'hybi-client-iterator', role: 'client', args: ['client', 'hybi', '--face', 'iterator'] },
  { name: 'ws-client', role: 'client', args: ['client', 'ws'] },
];
const oldSource = values['old-hybi-src'];
if (oldSource !== undefined) {
  allPeers.push(
    { name: 'hybi-client-old', role: 'client', args: ['client', 'hybi', '--hybi-src', resolve(oldSource)] },
    {
      name: 'hybi-client-old-iterator',
      role: 'client',
      args: ['client', 'hybi', '--face', 'iterator', '--hybi-src', resolve(oldSource)],
    },
  );
}
const wanted = values.peers?.split(',').map((name) => name.trim());
const peers = wanted === undefined ? allPeers : allPeers.filter((peer) => wanted.includes(peer.name));
if (wanted !== undefined && peers.length !== wanted.length) {
  process.stderr.write(
    `unknown peer among ${wanted.join(', ')}; known: ${allPeers.map((p) => p.name).join(', ')}\n`,
  );
  process.exit(2);
}

/** One suite's verdicts on one peer: case id → verdict (Autobahn's close behaviour kept beside it). */
interface SuiteVerdicts {
  verdicts: Map<string, Verdict>;
  /** Autobahn only: behaviorClose where it is not OK or INFORMATIONAL. */
  closeNotes: Map<string, string>;
  /** Per case, one line the report keeps (native: the reason; Autobahn: result text). */
  reasons: Map<string, string>;
  seconds: number;
  error?: string;
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null) done(child.exitCode);
    else child.once('exit', (code) => done(code));
  });
}

/** Kills a child we started, by its pid, and waits for it. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exitOf(child);
  clearTimeout(timer);
}

/** Starts an echo server peer in its own process; resolves with the process and its URL. */
async function startServerPeer(peer: Peer): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(tsx, [peerScript, ...peer.args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((done, fail) => {
    let output = '';
    const timer = setTimeout(() => fail(new Error(`${peer.name} did not start within 30 s`)), 30_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening (ws:\/\/\S+)/.exec(output);
      if (match?.[1] !== undefined) {
        clearTimeout(timer);
        done(match[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`${peer.name} exited (${code}) before listening`));
    });
  });
  return { child, url };
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const port = (server.address() as AddressInfo).port;
  await new Promise((done) => server.close(done));
  return port;
}

/** Runs a command with a time limit; resolves with its exit code (null when it had to be killed). */
async function runBounded(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  milliseconds: number,
): Promise<{ code: number | null; output: string }> {
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  // A command that cannot start (ENOENT) ends as an exit with no code, reported by the caller.
  child.on('error', (error) => {
    output += `${error.message}\n`;
  });
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  let isKilled = false;
  const timer = setTimeout(() => {
    isKilled = true;
    void stop(child);
  }, milliseconds);
  const code = await exitOf(child);
  clearTimeout(timer);
  return { code: isKilled ? null : code, output };
}

const AUTOBAHN_VERDICTS = new Set<string>(['OK', 'NON-STRICT', 'INFORMATIONAL', 'UNIMPLEMENTED']);

async function readAutobahnIndex(outdir: string, result: SuiteVerdicts): Promise<void> {
  const index = JSON.parse(await readFile(join(outdir, 'index.json'), 'utf8')) as Record<
    string,
    Record<
      string,
      { behavior: string; behaviorClose: string; remoteCloseCode: number | null; reportfile?: string }
    >
  >;
  const entries = Object.values(index)[0] ?? {};
  for (const [id, entry] of Object.entries(entries)) {
    // Autobahn's own summary counts `behavior`; WRONG CODE, UNCLEAN and the like count as FAILED there.
    result.verdicts.set(id, AUTOBAHN_VERDICTS.has(entry.behavior) ? (entry.behavior as Verdict) : 'FAILED');
    if (entry.behaviorClose !== 'OK' && entry.behaviorClose !== 'INFORMATIONAL') {
      result.closeNotes.set(id, `close ${entry.behaviorClose}, code ${entry.remoteCloseCode}`);
    }
    if (entry.reportfile !== undefined) {
      try {
        const report = JSON.parse(await readFile(join(outdir, entry.reportfile), 'utf8')) as {
          result?: string;
          resultClose?: string;
        };
        result.reasons.set(id, `${report.result ?? ''} ${report.resultClose ?? ''}`.trim());
      } catch {
        // A missing per-case file leaves the reason out, nothing more.
      }
    }
  }
}

async function runAutobahn(peer: Peer): Promise<SuiteVerdicts> {
  const result: SuiteVerdicts = {
    verdicts: new Map(),
    closeNotes: new Map(),
    reasons: new Map(),
    seconds: 0,
  };
  const began = Date.now();
  const outdir = await mkdtemp(join(tmpdir(), `hybi-agree-autobahn-${peer.name}-`));
  const env = { ...process.env, AUTOBAHN_HOME: autobahnHome, OUTDIR: outdir };
  const caseList = JSON.stringify(cases);
  try {
    if (peer.role === 'server') {
      const { child, url } = await startServerPeer(peer);
      try {
        const run = await runBounded(
          join(autobahnHome, 'run-fuzzingclient.sh'),
          [url, peer.name, caseList, '[]'],
          env,
          runTimeoutMilliseconds,
        );
        if (run.code !== 0)
          result.error = `run-fuzzingclient.sh exited ${run.code}: ${run.output.slice(-400)}`;
      } finally {
        await stop(child);
      }
    } else {
      const port = await freePort();
      const client = [tsx, peerScript, ...peer.args].map((part) => `'${part}'`).join(' ');
      const run = await runBounded(
        join(autobahnHome, 'run-fuzzingserver.sh'),
        [String(port), peer.name, caseList, '[]', client],
        env,
        runTimeoutMilliseconds,
      );
      if (run.code !== 0) result.error = `run-fuzzingserver.sh exited ${run.code}: ${run.output.slice(-400)}`;
    }
    if (existsSync(join(outdir, 'index.json'))) await readAutobahnIndex(outdir, result);
  } finally {
    await rm(outdir, { recursive: true, force: true });
  }
  result.seconds = (Date.now() - began) / 1000;
  return result;
}

function fromSuite(suite: SuiteResult, result: SuiteVerdicts): void {
  for (const caseResult of suite.results) {
    result.verdicts.set(caseResult.id, caseResult.verdict);
    result.reasons.set(caseResult.id, caseResult.reason);
  }
}

async function runNative(peer: Peer): Promise<SuiteVerdicts> {
  const result: SuiteVerdicts = {
    verdicts: new Map(),
    closeNotes: new Map(),
    reasons: new Map(),
    seconds: 0,
  };
  const began = Date.now();
  if (peer.role === 'server') {
    const { child, url } = await startServerPeer(peer);
    try {
      let timer: NodeJS.Timeout | undefined;
      const suite = await Promise.race([
        testServer(url, { agent: peer.name, cases, limits: 'full' }),
        new Promise<undefined>((done) => {
          timer = setTimeout(() => done(undefined), runTimeoutMilliseconds);
        }),
      ]);
      clearTimeout(timer);
      if (suite === undefined)
        result.error = `the native run did not finish within ${runTimeoutMilliseconds / 1000} s`;
      else fromSuite(suite, result);
    } finally {
      await stop(child);
    }
  } else {
    let suite: SuiteResult | undefined;
    const tester = await startClientTester({
      port: 0,
      cases,
      limits: 'full',
      onReportsRequested: (reported) => {
        suite = reported;
      },
    });
    try {
      const run = await runBounded(
        tsx,
        [peerScript, ...peer.args],
        { ...process.env, URL: tester.url, AGENT: peer.name },
        runTimeoutMilliseconds,
      );
      if (run.code !== 0) result.error = `the client exited ${run.code}: ${run.output.slice(-400)}`;
    } finally {
      await tester.close();
    }
    if (suite === undefined) result.error ??= 'the client never asked for /updateReports';
    else fromSuite(suite, result);
  }
  result.seconds = (Date.now() - began) / 1000;
  return result;
}

function counts(verdicts: Map<string, Verdict>, ids: readonly string[]): Record<Verdict, number> {
  const tally = Object.fromEntries(VERDICTS.map((verdict) => [verdict, 0])) as Record<Verdict, number>;
  for (const id of ids) {
    const verdict = verdicts.get(id);
    if (verdict !== undefined) tally[verdict]++;
  }
  return tally;
}

function compareIds(first: string, second: string): number {
  const a = first.split('.').map(Number);
  const b = second.split('.').map(Number);
  for (let index = 0; index < Math.max(a.length, b.length); index++) {
    const difference = (a[index] ?? -1) - (b[index] ?? -1);
    if (difference !== 0) return difference;
  }
  return 0;
}

interface PeerComparison {
  peer: string;
  shared: string[];
  onlyAutobahn: string[];
  onlyNative: string[];
  autobahn: Record<Verdict, number>;
  native: Record<Verdict, number>;
  disagreements: {
    id: string;
    autobahn: Verdict;
    native: Verdict;
    autobahnWhy: string;
    nativeWhy: string;
    /** Why the difference is expected, when it is. */
    documented: string | undefined;
  }[];
  errors: string[];
  seconds: { autobahn: number; native: number };
  /** Every case's verdict in each suite, for the JSON report. */
  verdicts: Record<string, { autobahn: Verdict | undefined; native: Verdict | undefined }>;
}

const comparisons: PeerComparison[] = [];
const startedAt = Date.now();
for (const peer of peers) {
  const empty = (): SuiteVerdicts => ({
    verdicts: new Map(),
    closeNotes: new Map(),
    reasons: new Map(),
    seconds: 0,
  });
  log(`${peer.name}: the real Autobahn…`);
  const autobahn = suitesToRun.has('autobahn') ? await runAutobahn(peer) : empty();
  log(
    `${peer.name}: Autobahn ${autobahn.verdicts.size} cases in ${autobahn.seconds.toFixed(0)} s; the native suite…`,
  );
  const native = suitesToRun.has('native') ? await runNative(peer) : empty();
  log(`${peer.name}: native ${native.verdicts.size} cases in ${native.seconds.toFixed(0)} s`);
  const shared = [...autobahn.verdicts.keys()].filter((id) => native.verdicts.has(id)).sort(compareIds);
  const comparison: PeerComparison = {
    peer: peer.name,
    shared,
    onlyAutobahn: [...autobahn.verdicts.keys()].filter((id) => !native.verdicts.has(id)).sort(compareIds),
    onlyNative: [...native.verdicts.keys()].filter((id) => !autobahn.verdicts.has(id)).sort(compareIds),
    autobahn: counts(autobahn.verdicts, shared),
    native: counts(native.verdicts, shared),
    disagreements: shared
      .filter((id) => autobahn.verdicts.get(id) !== native.verdicts.get(id))
      .map((id) => ({
        id,
        autobahn: autobahn.verdicts.get(id)!,
        native: native.verdicts.get(id)!,
        autobahnWhy: [autobahn.closeNotes.get(id), autobahn.reasons.get(id)].filter(Boolean).join('; '),
        nativeWhy: native.reasons.get(id) ?? '',
        documented: documentedWhy(peer.name, id),
      })),
    errors: [autobahn.error, native.error].filter((error): error is string => error !== undefined),
    seconds: { autobahn: autobahn.seconds, native: native.seconds },
    verdicts: Object.fromEntries(
      [...new Set([...autobahn.verdicts.keys(), ...native.verdicts.keys()])]
        .sort(compareIds)
        .map((id) => [id, { autobahn: autobahn.verdicts.get(id), native: native.verdicts.get(id) }]),
    ),
  };
  comparisons.push(comparison);
  for (const error of comparison.errors) log(`${peer.name}: ${error}`);
}

const format = (tally: Record<Verdict, number>): string =>
  VERDICTS.map((verdict) => tally[verdict]).join(' | ');
const lines = [
  `| peer | suite | shared cases | ${VERDICTS.join(' | ')} |`,
  `|---|---|---:|${VERDICTS.map(() => '---:').join('|')}|`,
];
for (const comparison of comparisons) {
  for (const [suite, tally] of [
    ['Autobahn', comparison.autobahn],
    ['native', comparison.native],
  ] as const) {
    lines.push(`| ${comparison.peer} | ${suite} | ${comparison.shared.length} | ${format(tally)} |`);
  }
}
lines.push('');
for (const comparison of comparisons) {
  const header = `${comparison.peer}: ${comparison.disagreements.length} disagreement(s) on ${comparison.shared.length} shared cases (Autobahn ${comparison.seconds.autobahn.toFixed(0)} s, native ${comparison.seconds.native.toFixed(0)} s)`;
  lines.push(header);
  for (const item of comparison.disagreements) {
    lines.push(
      `  ${item.id}: Autobahn ${item.autobahn}, native ${item.native}${item.documented === undefined ? ' (UNDOCUMENTED)' : ''}`,
    );
    if (item.documented !== undefined) lines.push(`    documented: ${item.documented}`);
    if (item.autobahnWhy !== '') lines.push(`    Autobahn: ${item.autobahnWhy.slice(0, 240)}`);
    if (item.nativeWhy !== '') lines.push(`    native:   ${item.nativeWhy.slice(0, 240)}`);
  }
  if (comparison.onlyAutobahn.length > 0)
    lines.push(`  only in Autobahn: ${comparison.onlyAutobahn.join(' ')}`);
  if (comparison.onlyNative.length > 0)
    lines.push(`  only in the native suite: ${comparison.onlyNative.join(' ')}`);
  for (const error of comparison.errors) lines.push(`  error: ${error}`);
}
process.stdout.write(`${lines.join('\n')}\n`);
const out = resolve(values.out);
await mkdir(out, { recursive: true });
await writeFile(join(out, 'agreement.json'), `${JSON.stringify({ cases, comparisons }, null, 2)}\n`);
await writeFile(join(out, 'agreement.md'), `${lines.join('\n')}\n`);
log(`${((Date.now() - startedAt) / 1000).toFixed(0)} s in all; written to ${out}/agreement.{md,json}`);
const hasErrors = comparisons.some((comparison) => comparison.errors.length > 0);
const hasDisagreements = comparisons.some((comparison) =>
  comparison.disagreements.some((item) => item.documented === undefined),
);
process.exitCode = hasErrors ? 2 : hasDisagreements ? 1 : 0;
