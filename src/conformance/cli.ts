#!/usr/bin/env node
// Owns the hybi-conformance command: test a server by URL, serve the Autobahn runner protocol to test
// clients, or list the cases; print the summary, write the reports, exit 1 when a case FAILED.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isMainModule } from '../node/main-module.js';
import { casesFor, categoryTitle, createCatalogue, selectCases, subcategoryTitle } from './catalogue.js';
import { startClientTester } from './client-tester.js';
import { formatTimeLeft } from './progress.js';
import { writeReports } from './report-json.js';
import { caseReason, formatSummary, shouldColor } from './report-terminal.js';
import type { CaseResult, SuiteResult } from './result.js';
import { type CaseProgress, DEFAULT_STOP_AFTER_UNREACHABLE, testServer } from './runner.js';
import type { SuiteSettings } from './settings.js';

const USAGE = `hybi-conformance: a WebSocket conformance suite (RFC 6455, RFC 7692) in Autobahn's numbering.

Usage:
  hybi-conformance server <ws://host:port/path> [options]   test a server
  hybi-conformance client [--port 9001] [options]           serve the Autobahn runner protocol to test clients
  hybi-conformance list [--peer server|client] [--cases …]  list the cases

Options:
  --cases <patterns>      comma-separated ids or patterns, Autobahn's syntax: 1.*,6.4.*,7.7.1 (default: all)
  --exclude <patterns>    patterns to leave out
  --report <dir>          where report.json, index.json (Autobahn's format) and index.html go
                          (default: reports/servers or reports/clients)
  --agent <name>          the name the server is reported under (default: its host)
  --limits full|quick     category 9 sizes and 12/13 counts: Autobahn's (full, default) or quick: 9.x sizes ÷16,
                          9.7/9.8 counts ÷10, 12/13 counts ÷50
  --concurrency <n>       cases at once against a server (default 4; categories 9, 12, 13 always run alone)
  --pace <ms>             the wait that tells fail-fast from late failure (default 1000, as Autobahn)
  --timeout-scale <x>     multiply every case's time limit (default 1)
  --insecure              wss: do not verify the server's certificate
  --stop-after <n>        server mode: stop once n cases in a row could not connect (default ${DEFAULT_STOP_AFTER_UNREACHABLE}; 0: never)
  --port <n>, --host <h>  client mode: where to listen (default 127.0.0.1:9001)
  --once                  client mode: exit after the first /updateReports, with the verdict as exit code
  --quiet                 no per-case progress
  --help, --version

Exit status: 0 when no case FAILED, 1 when one did or the server stopped answering, 2 for a usage error.
`;

function version(): string {
  try {
    const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return manifest.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

class UsageError extends Error {}

function patterns(value: string | undefined): string[] {
  return value === undefined
    ? []
    : value
        .split(',')
        .map((pattern) => pattern.trim())
        .filter((pattern) => pattern !== '');
}

function numberOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isFinite(number) || number < 0)
    throw new UsageError(`--${name} needs a non-negative number, not ${value}`);
  return number;
}

function settingsFrom(values: Record<string, string | boolean | undefined>): Partial<SuiteSettings> {
  const limits = values.limits;
  if (limits !== undefined && limits !== 'full' && limits !== 'quick') {
    throw new UsageError(`--limits is full or quick, not ${String(limits)}`);
  }
  const settings: Partial<SuiteSettings> = {};
  if (limits !== undefined) settings.limits = limits;
  const pace = numberOption(values.pace as string | undefined, 'pace');
  if (pace !== undefined) settings.pace = pace;
  const concurrency = numberOption(values.concurrency as string | undefined, 'concurrency');
  if (concurrency !== undefined) {
    if (!Number.isInteger(concurrency) || concurrency < 1)
      throw new UsageError('--concurrency needs a positive integer');
    settings.concurrency = concurrency;
  }
  const scale = numberOption(values['timeout-scale'] as string | undefined, 'timeout-scale');
  if (scale !== undefined) settings.caseTimeoutScale = scale;
  return settings;
}

/** Runs the command; resolves with the exit status. */
export async function main(argv: readonly string[]): Promise<number> {
  let parsed: ReturnType<typeof parseCommandLine>;
  try {
    parsed = parseCommandLine(argv);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.version === true) {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  try {
    const command = positionals[0];
    if (command === 'server') return await runServerCommand(positionals[1], values);
    if (command === 'client') return await runClientCommand(values);
    if (command === 'list') return runListCommand(values);
    throw new UsageError(
      command === undefined
        ? 'Say what to test: server <url>, client, or list.'
        : `Unknown command ${command}.`,
    );
  } catch (error) {
    if (error instanceof UsageError || error instanceof TypeError) {
      process.stderr.write(`${error.message}\n\n${USAGE}`);
      return 2;
    }
    throw error;
  }
}

function parseCommandLine(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      cases: { type: 'string' },
      exclude: { type: 'string' },
      report: { type: 'string' },
      agent: { type: 'string' },
      limits: { type: 'string' },
      concurrency: { type: 'string' },
      pace: { type: 'string' },
      'timeout-scale': { type: 'string' },
      insecure: { type: 'boolean' },
      'stop-after': { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      peer: { type: 'string' },
      once: { type: 'boolean' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean' },
    },
  });
}

type Values = ReturnType<typeof parseCommandLine>['values'];

function progressReporter(isQuiet: boolean): (line: string, isFinal: boolean) => void {
  const isTerminal = process.stderr.isTTY === true;
  return (line, isFinal) => {
    if (isQuiet) return;
    if (isTerminal && !isFinal) process.stderr.write(`\r\u001b[2K${line}`);
    else process.stderr.write(`${isTerminal ? '\r\u001b[2K' : ''}${line}\n`);
  };
}

async function runServerCommand(url: string | undefined, values: Values): Promise<number> {
  if (url === undefined)
    throw new UsageError('server needs the URL of the server to test, e.g. ws://127.0.0.1:9001');
  const progress = progressReporter(values.quiet === true);
  const startedAt = Date.now();
  const stopAfter = numberOption(values['stop-after'], 'stop-after');
  const onCaseComplete = serverProgress(progress, values.insecure === true);
  const suite = await testServer(url, {
    ...settingsFrom(values),
    cases: patterns(values.cases),
    exclude: patterns(values.exclude),
    ...(values.agent === undefined ? {} : { agent: values.agent }),
    ...(values.insecure === true ? { rejectUnauthorized: false } : {}),
    ...(stopAfter === undefined ? {} : { stopAfterUnreachable: stopAfter }),
    onCaseComplete,
  });
  progress(`${suite.results.length} cases in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`, true);
  if (suite.stopped !== undefined) process.stderr.write(`hybi-conformance: ${suite.stopped}\n`);
  if (suite.results.length === 0) throw new UsageError('No case matches --cases / --exclude.');
  const status = await finishWithReports([suite], values.report ?? 'reports/servers');
  return suite.stopped === undefined ? status : 1;
}

/**
 * The per-case display of a server run. On a terminal one line is rewritten in place (count, percent,
 * time left, the last case) and only FAILED and NON-STRICT cases stay on screen; elsewhere (a log, CI)
 * those cases and a progress line every tenth of the run. UNIMPLEMENTED cases are left to the summary,
 * which folds them into one line per group. A certificate that does not verify gets one hint.
 */
function serverProgress(
  progress: (line: string, isFinal: boolean) => void,
  isInsecure: boolean,
): (result: CaseResult, completed: number, total: number, state: CaseProgress) => void {
  const isTerminal = process.stderr.isTTY === true;
  let hasHinted = false;
  let lastTenth = 0;
  return (result, completed, total, state) => {
    if (state.connection.isCertificateError && !hasHinted && !isInsecure) {
      hasHinted = true;
      progress(
        `hint: ${state.connection.error ?? 'the certificate does not verify'}: --insecure skips the check, ` +
          'or trust its CA with NODE_EXTRA_CA_CERTS=ca.pem',
        true,
      );
    }
    const percent = Math.floor((completed * 100) / total);
    const timeLeft = formatTimeLeft(state.timeLeft);
    const counter = `[${completed}/${total}] ${percent}%${timeLeft === '' ? '' : `, ${timeLeft}`}`;
    const isNotable = result.verdict === 'FAILED' || result.verdict === 'NON-STRICT';
    if (isNotable) progress(`${result.id} ${result.verdict}: ${caseReason(result)}`, true);
    if (isTerminal) {
      progress(`${counter} · ${result.id} ${result.verdict}`, false);
      return;
    }
    const tenth = Math.floor((completed * 10) / total);
    if (tenth > lastTenth && completed < total) {
      lastTenth = tenth;
      progress(counter, true);
    }
  };
}

async function finishWithReports(suites: SuiteResult[], directory: string): Promise<number> {
  process.stdout.write(`${formatSummary(suites, { isColored: shouldColor() })}\n`);
  const written = await writeReports(suites, resolve(directory));
  process.stdout.write(
    `\nReports: ${written.html}\n         ${written.json}\n         ${written.index} (Autobahn's index.json format)\n`,
  );
  return suites.some((suite) => suite.counts.FAILED > 0) ? 1 : 0;
}

async function runClientCommand(values: Values): Promise<number> {
  const port = numberOption(values.port, 'port') ?? 9001;
  const directory = values.report ?? 'reports/clients';
  const progress = progressReporter(values.quiet === true);
  let finish: ((status: number) => void) | undefined;
  const done = new Promise<number>((resolveDone) => {
    finish = resolveDone;
  });
  const reported = new Map<string, SuiteResult>();
  const tester = await startClientTester({
    ...settingsFrom(values),
    port,
    host: values.host ?? '127.0.0.1',
    cases: patterns(values.cases),
    exclude: patterns(values.exclude),
    onCaseComplete: (agent, result) => {
      // As for servers: FAILED and NON-STRICT stay on screen; UNIMPLEMENTED is folded in the summary.
      const isNotable = result.verdict === 'FAILED' || result.verdict === 'NON-STRICT';
      progress(
        `${agent}: ${result.id} ${result.verdict}${isNotable ? `: ${caseReason(result)}` : ''}`,
        isNotable,
      );
    },
    onReportsRequested: async (suite) => {
      reported.set(suite.agent, suite);
      const status = await finishWithReports([...reported.values()], directory);
      if (values.once === true) finish?.(status);
    },
  });
  process.stdout.write(
    `Testing clients: ${tester.cases.length} cases at ${tester.url}\nPoint an Autobahn client runner at it (/getCaseCount, /runCase?case=N&agent=A, /updateReports?agent=A).\n`,
  );
  const stop = (): void =>
    finish?.(
      reported.size === 0 ? 0 : [...reported.values()].some((suite) => suite.counts.FAILED > 0) ? 1 : 0,
    );
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const status = await done;
  await tester.close();
  return status;
}

function runListCommand(values: Values): number {
  const peer = values.peer;
  if (peer !== undefined && peer !== 'server' && peer !== 'client')
    throw new UsageError('--peer is server or client');
  const catalogue = createCatalogue({ limits: values.limits === 'quick' ? 'quick' : 'full' });
  const cases = selectCases(
    peer === undefined ? catalogue : casesFor(peer, catalogue),
    patterns(values.cases),
    patterns(values.exclude),
  );
  let group = '';
  for (const definition of cases) {
    const title = `${categoryTitle(definition.id)}${subcategoryTitle(definition.id) === undefined ? '' : ` · ${subcategoryTitle(definition.id)}`}`;
    if (title !== group) {
      group = title;
      process.stdout.write(`\n${title}\n`);
    }
    const target = definition.appliesTo === 'both' ? '' : ` [${definition.appliesTo} only]`;
    process.stdout.write(`  ${definition.id.padEnd(9)} ${definition.description}${target}\n`);
  }
  process.stdout.write(`\n${cases.length} cases\n`);
  return 0;
}

if (isMainModule(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (status) => {
      process.exitCode = status;
    },
    (error: unknown) => {
      process.stderr.write(`hybi-conformance: ${(error as Error).stack ?? String(error)}\n`);
      process.exitCode = 2;
    },
  );
}
