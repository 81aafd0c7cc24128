// Owns the real Autobahn|Testsuite without Docker: the Python 3 port of wstest that lives beside the
// repository (../shared/autobahn, or $AUTOBAHN_HOME; its README says how to set it up from Debian's
// packages), run against hybi's server (wstest's fuzzingclient) and hybi's client (wstest's fuzzingserver).
// The test subset in test/interop/autobahn.test.ts and `npm run autobahn -- --local` (every case, for a
// release) both run through here.
//
//   npm run autobahn -- --local [--mode server|client|all] [--face websocket|driver]
//                               [--cases '["1.*","12.1.1"]'] [--reports reports] [--autobahn DIR]

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { WebSocketServer } from '../src/index.js';
import { startEchoServer } from './echo-server.js';
import { gateReports } from './gate.js';

const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Where the suite is looked for when neither `--autobahn` nor $AUTOBAHN_HOME says otherwise. */
export const DEFAULT_AUTOBAHN_HOME = resolve(repositoryRoot, '..', 'shared', 'autobahn');
/** The Python modules wstest imports (Debian: python3-twisted, -zope.interface, -txaio, -six, -jinja2). */
const PYTHON_MODULES = ['twisted', 'zope.interface', 'txaio', 'six', 'jinja2'];

export type LocalAutobahn =
  | { isAvailable: true; home: string; python: string }
  | { isAvailable: false; reason: string };

/**
 * Finds the suite and checks that its interpreter can import what it needs. The interpreter is the one
 * `bin/wstest` execs (Debian's /usr/bin/python3 there): a `python3` earlier on PATH may lack Twisted.
 */
export function locateLocalAutobahn(
  home: string = process.env.AUTOBAHN_HOME ?? DEFAULT_AUTOBAHN_HOME,
): LocalAutobahn {
  const wstest = join(home, 'bin', 'wstest');
  if (!existsSync(wstest)) return { isAvailable: false, reason: `${wstest} does not exist` };
  const python = /^exec "([^"]+)" -c /m.exec(readFileSync(wstest, 'utf8'))?.[1];
  if (python === undefined) return { isAvailable: false, reason: `${wstest} does not name its interpreter` };
  const check = spawnSync(python, ['-c', `import ${PYTHON_MODULES.join(', ')}`], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (check.error !== undefined) return { isAvailable: false, reason: `${python}: ${check.error.message}` };
  if (check.status !== 0) {
    const lastLine = check.stderr.trim().split('\n').at(-1) ?? `exit status ${check.status}`;
    return {
      isAvailable: false,
      reason: `${python} cannot import wstest's modules (${lastLine}); apt-get install python3-twisted python3-zope.interface python3-txaio python3-six python3-jinja2`,
    };
  }
  return { isAvailable: true, home, python };
}

export interface LocalRunOptions {
  /** The suite's directory (from locateLocalAutobahn). */
  home: string;
  /** Name the results are filed under. */
  agent: string;
  /** Case patterns as wstest takes them: `['*']`, `['1.*', '12.1.1']`. */
  cases: readonly string[];
  /** Case patterns to leave out. Default none. */
  exclude?: readonly string[];
  /** Where wstest writes index.json and one report per case. */
  outdir: string;
  /** The whole run is stopped (and fails) after this long. Default 2 hours. */
  timeoutMilliseconds?: number;
  /** Called about every 10 s with the cases begun so far, the total once wstest has said it, the last case. */
  onProgress?(begun: number, total: number | undefined, lastCase: string | undefined): void;
}

export interface LocalRunResult {
  /** The summary line the suite's script prints last: `OK=.. NON-STRICT=.. INFORMATIONAL=.. ...`. */
  summary: string;
  /** Everything the script printed (the cases that are not OK, then the summary). */
  output: string;
}

/** Tests the server at `url` (wstest -m fuzzingclient, through the suite's run-fuzzingclient.sh). */
export function runLocalFuzzingClient(options: LocalRunOptions & { url: string }): Promise<LocalRunResult> {
  return runScript(options, 'run-fuzzingclient.sh', [
    options.url,
    options.agent,
    JSON.stringify(options.cases),
    JSON.stringify(options.exclude ?? []),
  ]);
}

/**
 * Tests a client (wstest -m fuzzingserver on 127.0.0.1:`port`, through run-fuzzingserver.sh), which runs
 * `clientCommand` (a shell command line; it gets URL, AGENT and PORT in its environment).
 */
export function runLocalFuzzingServer(
  options: LocalRunOptions & { port: number; clientCommand: string },
): Promise<LocalRunResult> {
  return runScript(options, 'run-fuzzingserver.sh', [
    String(options.port),
    options.agent,
    JSON.stringify(options.cases),
    JSON.stringify(options.exclude ?? []),
    options.clientCommand,
  ]);
}

function runScript(options: LocalRunOptions, script: string, args: string[]): Promise<LocalRunResult> {
  return new Promise((resolveRun, rejectRun) => {
    // Its own process group, so that a timeout stops wstest and the client command with the script.
    const child = spawn(join(options.home, script), args, {
      env: { ...process.env, AUTOBAHN_HOME: options.home, OUTDIR: options.outdir },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      output += text;
    });
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      output += text;
    });
    const progress = setInterval(() => {
      if (options.onProgress === undefined) return;
      const log = join(options.outdir, 'wstest.log');
      if (!existsSync(log)) return;
      const text = readFileSync(log, 'utf8');
      const total = /will run (\d+) test cases/.exec(text)?.[1];
      const begun = [...text.matchAll(/^Running test case ID (\S+)/gm)];
      options.onProgress(begun.length, total === undefined ? undefined : Number(total), begun.at(-1)?.[1]);
    }, 10_000);
    const timeoutMilliseconds = options.timeoutMilliseconds ?? 2 * 60 * 60 * 1000;
    let isTimedOut = false;
    const deadline = setTimeout(() => {
      isTimedOut = true;
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGTERM');
    }, timeoutMilliseconds);
    child.on('error', (error) => {
      clearInterval(progress);
      clearTimeout(deadline);
      rejectRun(error);
    });
    child.on('close', (code) => {
      clearInterval(progress);
      clearTimeout(deadline);
      const summary = output.trim().split('\n').at(-1) ?? '';
      if (isTimedOut) {
        rejectRun(new Error(`${script} did not finish within ${timeoutMilliseconds} ms:\n${output}`));
      } else if (code !== 0 || !summary.startsWith('OK=')) {
        rejectRun(new Error(`${script} exited ${code}:\n${output}`));
      } else {
        resolveRun({ summary, output });
      }
    });
  });
}

/** A loopback port nothing listens on: the OS picks it and it is released before wstest binds it. */
export async function pickFreePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((closed) => server.close(() => closed()));
  return port;
}

/** The two faces a run can test: the browser-style WebSocket API or the websocket-driver API. */
export type Face = 'websocket' | 'driver';

export interface EchoTarget {
  url: string;
  close(): Promise<void>;
}

/** An echo server on a free loopback port, permessage-deflate on, every message echoed with its type. */
export async function startLocalEchoServer(face: Face): Promise<EchoTarget> {
  if (face === 'driver') return startEchoServer({ port: 0, host: '127.0.0.1', perMessageDeflate: true });
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: true });
  server.on('connection', (socket) => {
    socket.onmessage = (event) => socket.send(event.data as string | Buffer);
  });
  await new Promise<void>((listening) => server.once('listening', () => listening()));
  const { port } = server.address() as AddressInfo;
  return { url: `ws://127.0.0.1:${port}`, close: () => server.close() };
}

/** The shell command line that runs hybi's client runner for `face` (URL and AGENT come from wstest). */
export function clientRunnerCommand(face: Face): string {
  const tsx = join(repositoryRoot, 'node_modules', '.bin', 'tsx');
  const runner = join(
    repositoryRoot,
    'autobahn',
    face === 'driver' ? 'client-runner.ts' : 'websocket-client-runner.ts',
  );
  const quote = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;
  return `${quote(tsx)} ${quote(runner)} --url "$URL" --agent "$AGENT"`;
}

function parseCases(text: string): string[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) {
    const parsed: unknown = JSON.parse(trimmed);
    if (!Array.isArray(parsed) || !parsed.every((entry) => typeof entry === 'string'))
      throw new TypeError(`--cases must be a JSON list of strings, not ${text}`);
    return parsed;
  }
  return trimmed.split(',').map((entry) => entry.trim());
}

/**
 * One line per report: no estimate of the time left, because the cases are far from equal (12.x and 13.x,
 * where the Python side compresses every message, take most of a full run).
 */
function printProgress(
  label: string,
): (begun: number, total: number | undefined, lastCase: string | undefined) => void {
  const startedAt = Date.now();
  return (begun, total, lastCase) => {
    const minutes = Math.floor((Date.now() - startedAt) / 60_000);
    process.stdout.write(
      `${label}: ${begun}/${total ?? '?'} cases begun (now ${lastCase ?? 'none'}), ${minutes} min so far\n`,
    );
  };
}

/** `npm run autobahn -- --local ...`: returns the exit status (0 only when the strict gate passes). */
export async function runLocal(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      local: { type: 'boolean', default: true },
      mode: { type: 'string', default: 'all' },
      face: { type: 'string', default: 'websocket' },
      cases: { type: 'string', default: '["*"]' },
      exclude: { type: 'string', default: '[]' },
      reports: { type: 'string', default: 'reports' },
      autobahn: { type: 'string' },
    },
  });
  if (!['server', 'client', 'all'].includes(values.mode)) {
    process.stderr.write(`--mode is server, client or all, not ${values.mode}\n`);
    return 2;
  }
  if (values.face !== 'websocket' && values.face !== 'driver') {
    process.stderr.write(`--face is websocket or driver, not ${values.face}\n`);
    return 2;
  }
  const face: Face = values.face;
  const suite = locateLocalAutobahn(values.autobahn);
  if (!suite.isAvailable) {
    process.stderr.write(
      `npm run autobahn -- --local needs the Autobahn|Testsuite port (../shared/autobahn): ${suite.reason}.\n`,
    );
    return 1;
  }
  const cases = parseCases(values.cases);
  const exclude = parseCases(values.exclude);
  const reports = resolve(values.reports);
  const directories: string[] = [];

  if (values.mode !== 'client') {
    const outdir = join(reports, 'servers');
    await rm(outdir, { recursive: true, force: true });
    await mkdir(outdir, { recursive: true });
    const server = await startLocalEchoServer(face);
    process.stdout.write(`hybi ${face} echo server at ${server.url}; wstest -m fuzzingclient…\n`);
    try {
      const result = await runLocalFuzzingClient({
        home: suite.home,
        agent: `hybi-${face}-server`,
        cases,
        exclude,
        outdir,
        url: server.url,
        onProgress: printProgress('server'),
      });
      process.stdout.write(`server: ${result.summary}\n`);
    } finally {
      await server.close();
    }
    directories.push(outdir);
  }

  if (values.mode !== 'server') {
    const outdir = join(reports, 'clients');
    await rm(outdir, { recursive: true, force: true });
    await mkdir(outdir, { recursive: true });
    const port = await pickFreePort();
    process.stdout.write(`wstest -m fuzzingserver on 127.0.0.1:${port}; hybi ${face} client…\n`);
    const result = await runLocalFuzzingServer({
      home: suite.home,
      agent: `hybi-${face}-client`,
      cases,
      exclude,
      outdir,
      port,
      clientCommand: clientRunnerCommand(face),
      onProgress: printProgress('client'),
    });
    process.stdout.write(`client: ${result.summary}\n`);
    directories.push(outdir);
  }

  // Strict, as the issue that brought this in asks: NON-STRICT and a close behaviour other than OK or
  // INFORMATIONAL fail too.
  let isPassing = true;
  for (const directory of directories) {
    const gate = gateReports(directory, { strictClose: true, nonStrictFails: true });
    process.stdout.write(`${gate.lines.join('\n')}\n`);
    isPassing &&= gate.passed;
  }
  process.stdout.write(`reports (index.html, one page per case): ${directories.join(', ')}\n`);
  return isPassing ? 0 : 1;
}
