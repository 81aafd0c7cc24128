// Owns the shape of one benchmark figure and how figures from repeated runs combine (the median).

/**
 * Who produced a figure. `hybi` is the sans-IO core (or hybi's server, in the socket benchmarks),
 * `hybi-driver` hybi's websocket-driver-compatible API, `ws-no-addons` ws with WS_NO_BUFFER_UTIL and
 * WS_NO_UTF_8_VALIDATE set, `reference` the floor a library is held to (Buffer.copy, buffer.isUtf8, raw node:net).
 */
export type Variant = 'hybi' | 'hybi-driver' | 'ws' | 'ws-no-addons' | 'websocket-driver' | 'reference';

export const VARIANTS: readonly Variant[] = [
  'hybi',
  'hybi-driver',
  'ws',
  'ws-no-addons',
  'websocket-driver',
  'reference',
];

/** msg/s and B/s: higher is better; ms and B/conn: lower is better. */
export type Unit = 'msg/s' | 'B/s' | 'ms' | 'B/conn';

export interface Measurement {
  /** The benchmark: parse, serialize, mask, utf8, deflate, loopback, memory, broadcast. */
  suite: string;
  /** What was measured, e.g. 'text 1 KiB, 64 KiB chunks'. */
  case: string;
  variant: Variant;
  /** What exactly ran, when the column does not say it (e.g. 'Buffer.copy', 'ws + bufferutil'). */
  label?: string;
  unit: Unit;
  /** The figure ratios are computed from: the median over runs. */
  value: number;
  /** Payload throughput beside a msg/s figure. */
  bytesPerSecond?: number;
  /** Every run's figure, when there were several. */
  runs?: number[];
  /** tinybench's relative margin of error of the (last) run, in percent. */
  relativeMarginOfError?: number;
  samples?: number;
  /** Secondary figures (heap per connection beside RSS, and so on). */
  details?: Record<string, number>;
  /** Why there is no figure: the run failed (a stalled connection, a crash); `value` is NaN then. */
  error?: string;
}

export function isHigherBetter(unit: Unit): boolean {
  return unit === 'msg/s' || unit === 'B/s';
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((left, right) => left - right);
  const middle = sorted.length >> 1;
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * Merges the figures of several runs of the same benchmarks: one figure per (suite, case, variant),
 * its value the median of the runs and `runs` listing them all.
 */
export function mergeRuns(measurements: readonly Measurement[]): Measurement[] {
  const groups = new Map<string, Measurement[]>();
  for (const measurement of measurements) {
    const key = `${measurement.suite}\u0000${measurement.case}\u0000${measurement.variant}`;
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [measurement]);
    else group.push(measurement);
  }
  const merged: Measurement[] = [];
  for (const group of groups.values()) {
    const first = group[0]!;
    if (group.length === 1) {
      merged.push(first);
      continue;
    }
    const values = group.flatMap((measurement) => measurement.runs ?? [measurement.value]);
    const result: Measurement = { ...first, value: median(values), runs: values };
    // Bytes per message are fixed for a case, so the payload rate follows the median message rate.
    if (first.bytesPerSecond !== undefined)
      result.bytesPerSecond = (first.bytesPerSecond / first.value) * result.value;
    const detailNames = new Set(group.flatMap((measurement) => Object.keys(measurement.details ?? {})));
    if (detailNames.size > 0) {
      result.details = {};
      for (const name of detailNames) {
        const detailValues = group
          .map((measurement) => measurement.details?.[name])
          .filter((value) => value !== undefined);
        result.details[name] = median(detailValues);
      }
    }
    merged.push(result);
  }
  return merged;
}
