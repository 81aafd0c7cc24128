// Owns writing figures down: bench/results/<date>.json (machine, figures, per kind of run) and latest.md.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { type Machine, machineLine } from './machine.js';
import type { Measurement } from './measurement.js';
import { markdownTable } from './table.js';

const RESULTS_DIRECTORY = new URL('../results/', import.meta.url);

export type RunKind = 'quick' | 'full';

interface ResultsFile {
  machine: Machine;
  runs: Partial<Record<RunKind, { finishedAt: string; measurements: Measurement[] }>>;
}

/** Writes (or adds this kind of run to) today's JSON file and rewrites latest.md; returns the JSON path. */
export function writeResults(
  kind: RunKind,
  machine: Machine,
  measurements: readonly Measurement[],
  notes: readonly string[],
): string {
  mkdirSync(RESULTS_DIRECTORY, { recursive: true });
  const finishedAt = new Date().toISOString();
  const jsonFile = new URL(`${finishedAt.slice(0, 10)}.json`, RESULTS_DIRECTORY);
  const existing: ResultsFile | undefined = existsSync(jsonFile)
    ? (JSON.parse(readFileSync(jsonFile, 'utf8')) as ResultsFile)
    : undefined;
  const contents: ResultsFile = {
    machine,
    runs: { ...existing?.runs, [kind]: { finishedAt, measurements } },
  };
  writeFileSync(jsonFile, `${JSON.stringify(contents, null, 2)}\n`);

  const markdown = [
    `<!-- Written by bench/${kind === 'full' ? 'full' : 'run'}.ts; do not edit by hand. -->`,
    `Measured ${finishedAt.slice(0, 16).replace('T', ' ')} UTC by \`npm run ${kind === 'full' ? 'bench:full' : 'bench'}\` on ${machineLine(machine)}.`,
    '',
    markdownTable(measurements),
    '',
    ...notes.map((note) => `- ${note}`),
    '',
  ].join('\n');
  writeFileSync(new URL('latest.md', RESULTS_DIRECTORY), markdown);
  return jsonFile.pathname;
}
