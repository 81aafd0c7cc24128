// Owns `npm run fuzz`: every property run long (FUZZ_SECONDS each), one file at a time so that executions per
// second are measured alone, then a table of runs and rates, and for each failure its seed, path and replay command.
//
// Usage: npm run fuzz [-- <vitest filters, e.g. fuzz/properties/differential.test.ts>]
// Environment: FUZZ_SECONDS (default 60, per property), FUZZ_RUNS (default unlimited: the time decides),
// FUZZ_SEED and FUZZ_PATH (replay), FUZZ_PARALLEL=1 (run files in parallel: faster, rates less clean).

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FuzzCounts, FuzzStats } from './support/settings.js';

const DEFAULT_SECONDS = 60;
/** Large enough that the time budget, not the count, ends every property. */
const UNLIMITED_RUNS = 1_000_000_000;

const directory = mkdtempSync(join(tmpdir(), 'hybi-fuzz-'));
const statsFile = join(directory, 'stats.jsonl');
const seconds = process.env.FUZZ_SECONDS ?? String(DEFAULT_SECONDS);
const filters = process.argv.slice(2);
const vitestArguments = [
  'vitest',
  'run',
  ...(filters.length > 0 ? filters : ['fuzz/properties']),
  // Only the default reporter: the JSON report .ci/run reads belongs to `npm test`.
  '--reporter=default',
  ...(process.env.FUZZ_PARALLEL === '1' ? [] : ['--no-file-parallelism']),
];

console.log(
  `Fuzzing for ${seconds} s per property${process.env.FUZZ_RUNS === undefined ? '' : ` (at most ${process.env.FUZZ_RUNS} runs)`}` +
    `${process.env.FUZZ_SEED === undefined ? '' : `, seed ${process.env.FUZZ_SEED}`}${process.env.FUZZ_PATH === undefined ? '' : `, path ${process.env.FUZZ_PATH}`}.`,
);
const result = spawnSync('npx', vitestArguments, {
  stdio: 'inherit',
  env: {
    ...process.env,
    FUZZ_SECONDS: seconds,
    FUZZ_RUNS: process.env.FUZZ_RUNS ?? String(UNLIMITED_RUNS),
    FUZZ_STATS_FILE: statsFile,
  },
});

const lines: (FuzzStats | FuzzCounts)[] = existsSync(statsFile)
  ? readFileSync(statsFile, 'utf8')
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as FuzzStats | FuzzCounts)
  : [];
rmSync(directory, { recursive: true, force: true });
const stats = lines.filter((line): line is FuzzStats => line.kind !== 'counts');

if (stats.length > 0) {
  console.log(
    '\nProperty                                                                          runs   exec/s  result',
  );
  for (const entry of stats) {
    const name = `${entry.file.replace(/^fuzz\/properties\//, '')}: ${entry.name}`;
    const shown = name.length > 78 ? `${name.slice(0, 77)}…` : name.padEnd(78);
    console.log(
      `${shown}  ${String(entry.runs).padStart(9)}  ${String(entry.executionsPerSecond).padStart(7)}  ${entry.failed ? 'FAILED' : 'ok'}`,
    );
  }
  const failures = stats.filter((entry) => entry.failed);
  for (const failure of failures) {
    console.log(
      `\nFAILED ${failure.file}: ${failure.name}\n  seed: ${failure.seed}\n  path: ${failure.path}\n  replay: ${failure.replay}`,
    );
  }
  if (failures.length > 0) {
    console.log(
      '\nTurn each counterexample into a test in test/regress/<named-after-what-it-caught>.test.ts (fuzz/README.md).',
    );
  }
}
for (const line of lines) {
  if (line.kind !== 'counts') continue;
  const counts = Object.entries(line.counts).map(([name, count]) => `${name} ${count}`);
  console.log(`\n${line.file}, ${line.title}: ${counts.join(', ')}`);
}
process.exitCode = result.status ?? 1;
