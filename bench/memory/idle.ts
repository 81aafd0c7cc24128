// Measures idle memory: 10,000 open, idle WebSocket connections to one server, with and without
// permessage-deflate negotiated; the server's RSS and heap growth per connection after garbage collection.
// The clients are lean raw sockets in other processes, the same for every server. Optionally times
// broadcasts on the same (uncompressed) connections, so that bench:full opens them once.
// Run: npx tsx bench/memory/idle.ts [connections]

import { closeFleet, type Growth, measureGrowth, openFleet, timeBroadcast } from '../support/fleet.js';
import { type Measurement, median, type Variant } from '../support/measurement.js';

export const MEMORY_VARIANTS: readonly Variant[] = [
  'hybi',
  'hybi-driver',
  'ws',
  'ws-no-addons',
  'websocket-driver',
  'reference',
];

/** The broadcast figure, as bench/broadcast/broadcast.ts makes it. */
export function broadcastMeasurement(
  variant: Variant,
  connections: number,
  totals: number[],
  sendLoops: number[],
): Measurement {
  return {
    suite: 'broadcast',
    case: `100 B to ${connections.toLocaleString('en')} clients, until the last has it`,
    variant,
    unit: 'ms',
    value: median(totals),
    runs: totals,
    details: { sendLoopMs: median(sendLoops) },
    ...(variant === 'reference' ? { label: 'node:net writes of the ready frame' } : {}),
  };
}

/**
 * Every variant, with and without compression, `runs` times (`compressedRuns` with compression); the
 * figure is server RSS growth per connection (median run). With `broadcastRounds`, each uncompressed run also times that many broadcasts
 * after one untimed warmup broadcast (and broadcast figures are returned too).
 */
export async function measureIdleMemory(
  connections: number,
  runs: number,
  variants: readonly Variant[] = MEMORY_VARIANTS,
  broadcastRounds = 0,
  compressedRuns = runs,
): Promise<Measurement[]> {
  const measurements: Measurement[] = [];
  for (const compression of [false, true]) {
    for (const variant of variants) {
      if (compression && variant === 'reference') continue;
      const samples: Growth[] = [];
      const totals: number[] = [];
      const sendLoops: number[] = [];
      const runCount = compression ? compressedRuns : runs;
      let failure: string | undefined;
      for (let run = 0; run < runCount && failure === undefined; run++) {
        const started = Date.now();
        let fleet: Awaited<ReturnType<typeof openFleet>>;
        try {
          fleet = await openFleet(variant, compression, connections);
        } catch (error) {
          // One server failing must not cost the other figures: record the failure and go on.
          failure = error instanceof Error ? error.message : String(error);
          process.stderr.write(`  memory ${variant}${compression ? ' +deflate' : ''} failed: ${failure}\n`);
          break;
        }
        try {
          samples.push(await measureGrowth(fleet));
          if (!compression && broadcastRounds > 0) {
            await timeBroadcast(fleet);
            for (let round = 0; round < broadcastRounds; round++) {
              const { total, sendLoop } = await timeBroadcast(fleet);
              totals.push(total);
              sendLoops.push(sendLoop);
            }
          }
        } catch (error) {
          failure = error instanceof Error ? error.message : String(error);
          process.stderr.write(`  memory ${variant}${compression ? ' +deflate' : ''} failed: ${failure}\n`);
        } finally {
          await closeFleet(fleet);
        }
        if (failure !== undefined) break;
        process.stderr.write(
          `  memory ${variant}${compression ? ' +deflate' : ''} run ${run + 1}/${runCount}: ${((Date.now() - started) / 1000).toFixed(1)} s, rss ${(samples.at(-1)!.rss / 1024).toFixed(1)} KiB/conn\n`,
        );
      }
      if (samples.length === 0) {
        measurements.push({
          suite: 'idle memory',
          case: `${connections.toLocaleString('en')} idle connections, server RSS per connection${compression ? ', permessage-deflate negotiated' : ''}`,
          variant,
          unit: 'B/conn',
          value: Number.NaN,
          error: 'the server or its clients failed (see the log)',
        });
        continue;
      }
      const sorted = [...samples].sort((left, right) => left.rss - right.rss);
      const middle = sorted[sorted.length >> 1]!;
      measurements.push({
        suite: 'idle memory',
        case: `${connections.toLocaleString('en')} idle connections, server RSS per connection${compression ? ', permessage-deflate negotiated' : ''}`,
        variant,
        unit: 'B/conn',
        value: middle.rss,
        runs: samples.map((sample) => sample.rss),
        details: { heapPerConnection: middle.heap, externalPerConnection: middle.external },
        ...(variant === 'reference' ? { label: 'node:net, no WebSocket' } : {}),
      });
      if (totals.length > 0) measurements.push(broadcastMeasurement(variant, connections, totals, sendLoops));
    }
  }
  return measurements;
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  const { markdownTable } = await import('../support/table.js');
  const connections = Number(process.argv[2] ?? 10_000);
  console.log(markdownTable(await measureIdleMemory(connections, 1)));
}
