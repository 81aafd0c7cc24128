// Owns the in-process suites' contract and how they are timed: tinybench, one process per variant, every
// case repeated in rounds and processes, the figure being the median over all of them.

import { Bench } from 'tinybench';
import { runChild } from './children.js';
import { type Measurement, median, mergeRuns, type Unit, type Variant } from './measurement.js';
import { WS_WITHOUT_ADDONS_ENV, wsAddons } from './peers.js';

export interface SuiteOptions {
  /** Rounds: every task runs once per round; its figure is the median over rounds. */
  rounds: number;
  /** tinybench's time budget per task and round, ms. */
  time: number;
  /** Warmup per task, first round only, ms. */
  warmupTime: number;
  /** Minimum samples per task and round. */
  iterations: number;
  /** Separate child processes per variant group, each doing all rounds; figures are medians over all. */
  processes: number;
}

export const QUICK_OPTIONS: SuiteOptions = {
  rounds: 2,
  time: 50,
  warmupTime: 30,
  iterations: 3,
  processes: 1,
};
export const FULL_OPTIONS: SuiteOptions = {
  rounds: 3,
  time: 80,
  warmupTime: 60,
  iterations: 5,
  processes: 2,
};

export interface Suite {
  readonly name: string;
  /** The variants measured. ws-no-addons runs in a process of its own (ws reads its switches once, at load). */
  readonly variants: readonly Variant[];
  /** In the child: the cases of one variant. Every variant should name its cases alike. */
  cases(variant: Variant): BenchCase[] | Promise<BenchCase[]>;
}

/** One tinybench task: a function doing `messagesPerOp` messages (or `bytesPerOp` bytes) of work. */
export interface BenchCase {
  name: string;
  fn: () => unknown;
  /** Untimed preparation before each call (e.g. a fresh copy of input that gets unmasked in place). */
  beforeEach?: () => void;
  /** Whether `fn` returns a promise (declared, so tinybench does not call `fn` once to find out). */
  isAsync?: boolean;
  /** Headline unit: msg/s (with MB/s beside it) or B/s for kernels. */
  unit: Extract<Unit, 'msg/s' | 'B/s'>;
  messagesPerOp: number;
  bytesPerOp: number;
  label?: string;
}

const collectGarbage = (globalThis as { gc?: () => void }).gc;

/**
 * In the child: measures every case of the variants given (one, as runSuite calls it), repeated
 * `options.rounds` times. BENCH_FILTER=<regular expression> keeps only the
 * cases whose name matches (for profiling one of them).
 */
export async function measureInterleaved(
  suite: Suite,
  variants: readonly Variant[],
  options: SuiteOptions,
): Promise<Measurement[]> {
  const filter = process.env.BENCH_FILTER === undefined ? undefined : new RegExp(process.env.BENCH_FILTER);
  const tasks: {
    variant: Variant;
    benchCase: BenchCase;
    key: string;
    values: number[];
    rates: number[];
    rme: number;
    samples: number;
  }[] = [];
  const byVariant = new Map<Variant, BenchCase[]>();
  for (const variant of variants) {
    byVariant.set(
      variant,
      (await suite.cases(variant)).filter((benchCase) => filter?.test(benchCase.name) ?? true),
    );
  }
  // Case-major order: the variants of one case run next to each other in time.
  const caseNames = [...new Set([...byVariant.values()].flat().map((benchCase) => benchCase.name))];
  for (const name of caseNames) {
    for (const variant of variants) {
      const benchCase = byVariant.get(variant)?.find((candidate) => candidate.name === name);
      if (benchCase !== undefined) {
        tasks.push({
          variant,
          benchCase,
          key: `${variant}: ${name}`,
          values: [],
          rates: [],
          rme: 0,
          samples: 0,
        });
      }
    }
  }
  for (let round = 0; round < options.rounds; round++) {
    const bench = new Bench({
      name: `${suite.name} round ${round + 1}`,
      time: options.time,
      warmup: round === 0,
      warmupTime: options.warmupTime,
      warmupIterations: 2,
      iterations: options.iterations,
      throws: true,
      // A collection between tasks, so one task's garbage is not collected on the next one's clock.
      setup: () => collectGarbage?.(),
    });
    for (const task of tasks) {
      bench.add(task.key, task.benchCase.fn, {
        async: task.benchCase.isAsync === true,
        ...(task.benchCase.beforeEach === undefined ? {} : { beforeEach: task.benchCase.beforeEach }),
      });
    }
    await bench.run();
    for (const task of tasks) {
      const result = bench.getTask(task.key)?.result;
      if (
        result === undefined ||
        (result.state !== 'completed' && result.state !== 'aborted-with-statistics')
      ) {
        throw new Error(`${suite.name} ${task.key}: ${result?.state ?? 'no result'}`);
      }
      const opsPerSecond = 1000 / result.latency.p50;
      const benchCase = task.benchCase;
      task.values.push(
        opsPerSecond * (benchCase.unit === 'msg/s' ? benchCase.messagesPerOp : benchCase.bytesPerOp),
      );
      task.rates.push(opsPerSecond * benchCase.bytesPerOp);
      task.rme = result.latency.rme;
      task.samples += result.latency.samplesCount;
    }
  }
  return tasks.map((task) => {
    const measurement: Measurement = {
      suite: suite.name,
      case: task.benchCase.name,
      variant: task.variant,
      unit: task.benchCase.unit,
      value: median(task.values),
      bytesPerSecond: median(task.rates),
      runs: task.values,
      relativeMarginOfError: task.rme,
      samples: task.samples,
    };
    if (task.benchCase.label !== undefined) measurement.label = task.benchCase.label;
    return measurement;
  });
}

/** A label for ws in this process: with or without its native addons. */
export function wsLabel(): string {
  return wsAddons().bufferutil ? 'ws + bufferutil' : 'ws, pure JS (bufferutil not installed or disabled)';
}

const CHILD_ENTRY = new URL('./suite-child.ts', import.meta.url);

/**
 * Parent side: runs each variant of a suite file in a child process of its own, `options.processes`
 * times in turn (hybi, ws, ..., hybi, ws, ...); figures are medians over every round of every process.
 *
 * Why one process per variant: V8 shares type feedback between everything one piece of code calls, so
 * a harness calling hybi's and ws's functions in one process slows whichever it meets second (measured:
 * ws's JS unmask loop ran 3x slower after websocket-driver's had run in the same process). An
 * application runs one library, so each is measured alone.
 */
export async function runSuite(
  suiteFile: URL,
  variants: readonly Variant[],
  options: SuiteOptions,
): Promise<Measurement[]> {
  const all: Measurement[] = [];
  const name = suiteFile.pathname.split('/').pop();
  for (let run = 0; run < options.processes; run++) {
    for (const variant of variants) {
      const started = Date.now();
      const results = await runChild(CHILD_ENTRY, [suiteFile.href, variant, JSON.stringify(options)], {
        env: variant === 'ws-no-addons' ? WS_WITHOUT_ADDONS_ENV : {},
        nodeArguments: ['--expose-gc'],
        timeoutMs: 10 * 60 * 1000,
      });
      for (const result of results) all.push(...(result as Measurement[]));
      process.stderr.write(
        `  ${name} ${variant} process ${run + 1}/${options.processes}: ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
      );
    }
  }
  return mergeRuns(all);
}

/**
 * When a suite file is run directly (`npx tsx bench/parse.bench.ts [--full]`): run it in children
 * and print its rows of the table. Does nothing when the file is imported.
 */
export async function runIfMain(suiteFile: URL, suite: Suite): Promise<void> {
  const entry = process.argv[1];
  if (entry === undefined || suiteFile.pathname !== entry) return;
  const { markdownTable } = await import('./table.js');
  const options = process.argv.includes('--full') ? FULL_OPTIONS : QUICK_OPTIONS;
  console.log(markdownTable(await runSuite(suiteFile, suite.variants, options)));
}
