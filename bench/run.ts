// `npm run bench`: the in-process suites (parse, serialize, masking, UTF-8, permessage-deflate), each
// library in its own process, printed as one table of figures and ratios and written to bench/results/.

import { describeMachine, machineLine } from './support/machine.js';
import type { Measurement } from './support/measurement.js';
import { writeResults } from './support/results-file.js';
import { QUICK_OPTIONS, runSuite, type Suite, type SuiteOptions } from './support/suite.js';
import { markdownTable } from './support/table.js';

/** The in-process suites, in the order the table lists them. */
export const SUITE_FILES: readonly string[] = [
  'parse.bench.ts',
  'serialize.bench.ts',
  'mask.bench.ts',
  'utf8.bench.ts',
  'compression.bench.ts',
];

export async function runInProcessSuites(options: SuiteOptions): Promise<Measurement[]> {
  const measurements: Measurement[] = [];
  for (const file of SUITE_FILES) {
    const url = new URL(file, import.meta.url);
    const { suite } = (await import(url.href)) as { suite: Suite };
    measurements.push(...(await runSuite(url, suite.variants, options)));
  }
  return measurements;
}

/** Notes printed under every table: what the columns are and what to keep in mind reading them. */
export function tableNotes(machine: ReturnType<typeof describeMachine>): string[] {
  return [
    'Ratios are hybi ÷ peer on the figure shown first in each cell (msg/s, B/s): above 1 means hybi is faster; for ms and bytes per connection, below 1 means hybi is better.',
    '"parse"/"serialize" rows compare hybi\'s sans-IO core with ws\'s Receiver/Sender; "(driver API)" rows compare hybi\'s websocket-driver-compatible driver with websocket-driver.',
    machine.wsAddons.bufferutil
      ? 'The ws column loads bufferutil; "ws (no addons)" runs with WS_NO_BUFFER_UTIL=1 WS_NO_UTF_8_VALIDATE=1.'
      : "bufferutil is NOT installed: both ws columns run ws's pure-JS masking (Node ≥ 18.14 makes ws use buffer.isUtf8, so utf-8-validate never matters).",
    'Each library runs in its own process; each figure is the median over rounds (and processes, in bench:full). This machine is shared and noisy: differences under ~20% are within run-to-run variation.',
    `hybi runs from ${machine.hybiBuild}; ws and websocket-driver are plain JavaScript from node_modules.`,
  ];
}

const isMain = process.argv[1] === new URL(import.meta.url).pathname;
if (isMain) {
  const started = Date.now();
  const machine = describeMachine();
  console.error(`bench: ${machineLine(machine)}`);
  const measurements = await runInProcessSuites(QUICK_OPTIONS);
  console.log(markdownTable(measurements));
  const notes = tableNotes(machine);
  for (const note of notes) console.log(`- ${note}`);
  const file = writeResults('quick', machine, measurements, notes);
  console.error(
    `bench: ${((Date.now() - started) / 1000).toFixed(0)} s; written to ${file} and bench/results/latest.md`,
  );
}
