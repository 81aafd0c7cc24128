// Owns the results table: one row per benchmark case, one column per library, and the ratios of hybi to each.

import { isHigherBetter, type Measurement, type Variant } from './measurement.js';

function significant(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const magnitude = Math.abs(value);
  return magnitude >= 100 ? value.toFixed(0) : magnitude >= 10 ? value.toFixed(1) : value.toFixed(2);
}

function rate(perSecond: number, unit: string): string {
  if (perSecond >= 1e9) return `${significant(perSecond / 1e9)} G${unit}`;
  if (perSecond >= 1e6) return `${significant(perSecond / 1e6)} M${unit}`;
  if (perSecond >= 1e3) return `${significant(perSecond / 1e3)} k${unit}`;
  return `${significant(perSecond)} ${unit}`;
}

/** A figure as a cell: throughput with its payload rate, bytes per connection, or milliseconds. */
export function formatValue(measurement: Measurement): string {
  if (measurement.error !== undefined) return `failed: ${measurement.error}`;
  switch (measurement.unit) {
    case 'msg/s': {
      const messages = rate(measurement.value, 'msg/s').replace(' Mmsg', ' M msg').replace(' kmsg', ' k msg');
      return measurement.bytesPerSecond === undefined
        ? messages
        : `${rate(measurement.bytesPerSecond, 'B/s')} · ${messages}`;
    }
    case 'B/s':
      return rate(measurement.value, 'B/s');
    case 'B/conn': {
      const bytes = (value: number) =>
        Math.abs(value) >= 1024 ? `${significant(value / 1024)} KiB` : `${significant(value)} B`;
      const heap = measurement.details?.heapPerConnection;
      return heap === undefined
        ? bytes(measurement.value)
        : `${bytes(measurement.value)} (heap ${bytes(heap)})`;
    }
    case 'ms': {
      const sendLoop = measurement.details?.sendLoopMs;
      return sendLoop === undefined
        ? `${significant(measurement.value)} ms`
        : `${significant(measurement.value)} ms (send loop ${significant(sendLoop)} ms)`;
    }
  }
}

/** hybi over a peer, always as hybi's figure divided by the peer's (for ms and bytes, lower is better). */
export function ratio(hybi: Measurement | undefined, peer: Measurement | undefined): number | undefined {
  if (hybi === undefined || peer === undefined || peer.value === 0) return undefined;
  if (!Number.isFinite(hybi.value) || !Number.isFinite(peer.value)) return undefined;
  return hybi.value / peer.value;
}

export interface TableRow {
  benchmark: string;
  case: string;
  cells: Partial<Record<Variant, Measurement>>;
  /** Which measurement stands in the hybi column. */
  hybi: Measurement | undefined;
}

/** Groups figures into rows; a case with a `hybi-driver` figure gets a second, driver-API row. */
export function tableRows(measurements: readonly Measurement[]): TableRow[] {
  const groups = new Map<string, Measurement[]>();
  for (const measurement of measurements) {
    const key = `${measurement.suite}\u0000${measurement.case}`;
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [measurement]);
    else group.push(measurement);
  }
  const rows: TableRow[] = [];
  for (const group of groups.values()) {
    const cells: Partial<Record<Variant, Measurement>> = {};
    for (const measurement of group) cells[measurement.variant] = measurement;
    const first = group[0]!;
    const lowerIsBetter = isHigherBetter(first.unit) ? '' : ' (lower is better)';
    if (cells['hybi-driver'] === undefined) {
      rows.push({ benchmark: first.suite, case: `${first.case}${lowerIsBetter}`, cells, hybi: cells.hybi });
      continue;
    }
    // The sans-IO core compares with ws's Receiver/Sender; the driver API with websocket-driver's.
    const { 'websocket-driver': driverPeer, ...coreCells } = cells;
    rows.push({
      benchmark: first.suite,
      case: `${first.case}${lowerIsBetter}`,
      cells: coreCells,
      hybi: cells.hybi,
    });
    const driverCells: Partial<Record<Variant, Measurement>> = {};
    if (driverPeer !== undefined) driverCells['websocket-driver'] = driverPeer;
    rows.push({
      benchmark: `${first.suite} (driver API)`,
      case: `${first.case}${lowerIsBetter}`,
      cells: driverCells,
      hybi: cells['hybi-driver'],
    });
  }
  return rows;
}

function ratioCell(value: number | undefined): string {
  return value === undefined ? '' : `${value >= 10 ? value.toFixed(1) : value.toFixed(2)}×`;
}

const COLUMNS: readonly { variant: Variant; title: string }[] = [
  { variant: 'ws', title: 'ws' },
  { variant: 'ws-no-addons', title: 'ws (no addons)' },
  { variant: 'websocket-driver', title: 'websocket-driver' },
  { variant: 'reference', title: 'reference' },
];

/** The whole table as Markdown. */
export function markdownTable(measurements: readonly Measurement[]): string {
  const header = [
    'Benchmark',
    'Case',
    'hybi',
    ...COLUMNS.map((column) => column.title),
    ...COLUMNS.map((column) => `hybi ÷ ${column.title}`),
  ];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => ' --- ').join('|')}|`];
  for (const row of tableRows(measurements)) {
    const cellText = (measurement: Measurement | undefined) => {
      if (measurement === undefined) return '';
      const text = formatValue(measurement);
      return measurement.variant === 'reference' && measurement.label !== undefined
        ? `${text} (${measurement.label})`
        : text;
    };
    lines.push(
      `| ${[
        row.benchmark,
        row.case,
        cellText(row.hybi),
        ...COLUMNS.map((column) => cellText(row.cells[column.variant])),
        ...COLUMNS.map((column) => ratioCell(ratio(row.hybi, row.cells[column.variant]))),
      ].join(' | ')} |`,
    );
  }
  return lines.join('\n');
}
