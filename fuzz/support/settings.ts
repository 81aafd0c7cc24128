// Owns how properties run: runs and time budget from the environment, replay by seed and path, the failure
// report with its replay command, and the executions-per-second record `npm run fuzz` prints.

import { appendFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { it } from 'vitest';

/** A property as `fc.property` or `fc.asyncProperty` makes it. */
type AnyProperty = fc.IProperty<unknown> | fc.IAsyncProperty<unknown>;

/** How long one property may run, at most, in a plain `npm test` (the CI share). */
const DEFAULT_SECONDS_CAP = 20;

function readNumber(name: string): number | undefined {
  const text = process.env[name];
  if (text === undefined || text.trim() === '') return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) {
    throw new TypeError(`${name} must be a positive number, not ${JSON.stringify(text)}`);
  }
  return value;
}

/** The settings every property reads from the environment. */
export interface FuzzEnvironment {
  /** FUZZ_RUNS: runs per property, overriding each property's default. */
  runs: number | undefined;
  /** FUZZ_SECONDS: time budget per property; runs stop (as a success) when it is spent. */
  seconds: number | undefined;
  /** FUZZ_SEED and FUZZ_PATH: replay one run (FUZZ_PATH needs FUZZ_SEED). */
  seed: number | undefined;
  path: string | undefined;
  /** FUZZ_STATS_FILE: where to append one JSON line per property (runs, time, outcome). */
  statsFile: string | undefined;
}

export function fuzzEnvironment(): FuzzEnvironment {
  const seedText = process.env.FUZZ_SEED;
  return {
    runs: readNumber('FUZZ_RUNS'),
    seconds: readNumber('FUZZ_SECONDS'),
    seed: seedText === undefined || seedText === '' ? undefined : Number(seedText) | 0,
    path: process.env.FUZZ_PATH || undefined,
    statsFile: process.env.FUZZ_STATS_FILE || undefined,
  };
}

/** What a property file says about one property. */
export interface FuzzTestOptions {
  /** Runs in a plain `npm test`; modest, so all properties together stay within the CI share. */
  runs: number;
  /** `import.meta.url` of the property file, for the replay command. */
  file: string;
}

/** One line of the stats file reporting counts (see {@link recordCounts}). */
export interface FuzzCounts {
  kind: 'counts';
  file: string;
  title: string;
  counts: Record<string, number>;
}

/** One line of the stats file about a property run. */
export interface FuzzStats {
  kind?: 'property';
  file: string;
  name: string;
  runs: number;
  milliseconds: number;
  executionsPerSecond: number;
  failed: boolean;
  seed: number;
  path?: string | undefined;
  replay?: string | undefined;
}

/**
 * Declares a vitest test that checks `makeProperty()` with fast-check: FUZZ_RUNS and FUZZ_SECONDS set the
 * budget, FUZZ_SEED and FUZZ_PATH replay a failure. A failure's message carries the seed, the path, the
 * counterexample and the command that replays exactly that case.
 */
export function fuzzTest(name: string, options: FuzzTestOptions, makeProperty: () => AnyProperty): void {
  const environment = fuzzEnvironment();
  const seconds = environment.seconds ?? DEFAULT_SECONDS_CAP;
  // vitest must wait for the whole budget plus the shrinking of a failure.
  const timeout = (seconds + 120) * 1000;
  it(
    name,
    async () => {
      const parameters: fc.Parameters<unknown> = {
        numRuns: environment.runs ?? options.runs,
        plugins: [fc.interruptAfterTimeLimit(seconds * 1000)],
        ...(environment.seed === undefined ? {} : { seed: environment.seed }),
        ...(environment.path === undefined ? {} : { path: environment.path }),
      };
      const started = performance.now();
      const details = await fc.check(makeProperty() as fc.IAsyncProperty<unknown>, parameters);
      const milliseconds = performance.now() - started;
      const file = relative(process.cwd(), fileURLToPath(options.file));
      const replay = details.failed
        ? `FUZZ_SEED=${details.seed} FUZZ_PATH=${details.counterexamplePath ?? ''} npx vitest run ${file} -t ${shellQuote(escapeRegExp(name))}`
        : undefined;
      recordStats(environment, {
        kind: 'property',
        file,
        name,
        runs: details.numRuns,
        milliseconds: Math.round(milliseconds),
        executionsPerSecond: Math.round((details.numRuns / milliseconds) * 1000),
        failed: details.failed,
        seed: details.seed,
        path: details.counterexamplePath ?? undefined,
        replay,
      });
      if (details.failed) {
        const report = fc.defaultReportMessage(details) ?? 'property failed';
        throw new Error(
          `${name} failed.\n  seed: ${details.seed}\n  path: ${details.counterexamplePath}\n  replay: ${replay}\n\n${report}`,
          { cause: details.errorInstance },
        );
      }
    },
    timeout,
  );
}

/**
 * Counts a property file wants reported (how often each divergence occurred, say), appended to the stats
 * file as one line for `npm run fuzz` to print. Does nothing outside `npm run fuzz`.
 */
export function recordCounts(file: string, title: string, counts: ReadonlyMap<string, number>): void {
  const environment = fuzzEnvironment();
  if (environment.statsFile === undefined || counts.size === 0) return;
  const line = {
    kind: 'counts',
    file: relative(process.cwd(), fileURLToPath(file)),
    title,
    counts: Object.fromEntries(counts),
  };
  appendFileSync(environment.statsFile, `${JSON.stringify(line)}\n`);
}

function recordStats(environment: FuzzEnvironment, stats: FuzzStats): void {
  if (environment.statsFile === undefined) return;
  appendFileSync(environment.statsFile, `${JSON.stringify(stats)}\n`);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
