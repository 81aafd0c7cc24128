// Measures broadcast: one 100-byte binary message sent by the server to 10,000 connected clients, timed
// from the start of the server's send loop until the last client process has received it (clients are
// lean raw sockets in other processes; process.hrtime is one monotonic clock for every process here).
// Run: npx tsx bench/broadcast/broadcast.ts [connections]

import { broadcastMeasurement } from '../memory/idle.js';
import { closeFleet, openFleet, timeBroadcast } from '../support/fleet.js';
import type { Measurement, Variant } from '../support/measurement.js';

/** Broadcasts per run, after one untimed warmup broadcast. */
export const BROADCAST_ROUNDS = 5;

export const BROADCAST_VARIANTS: readonly Variant[] = [
  'hybi',
  'hybi-driver',
  'ws',
  'ws-no-addons',
  'websocket-driver',
  'reference',
];

/** Each variant's server, `runs` times; the figure is the median over every broadcast of every run. */
export async function measureBroadcast(
  connections: number,
  runs: number,
  variants: readonly Variant[] = BROADCAST_VARIANTS,
): Promise<Measurement[]> {
  const measurements: Measurement[] = [];
  for (const variant of variants) {
    const totals: number[] = [];
    const sendLoops: number[] = [];
    for (let run = 0; run < runs; run++) {
      const started = Date.now();
      const fleet = await openFleet(variant, false, connections);
      try {
        await timeBroadcast(fleet);
        for (let round = 0; round < BROADCAST_ROUNDS; round++) {
          const { total, sendLoop } = await timeBroadcast(fleet);
          totals.push(total);
          sendLoops.push(sendLoop);
        }
      } finally {
        await closeFleet(fleet);
      }
      process.stderr.write(
        `  broadcast ${variant} run ${run + 1}/${runs}: ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
      );
    }
    measurements.push(broadcastMeasurement(variant, connections, totals, sendLoops));
  }
  return measurements;
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  const { markdownTable } = await import('../support/table.js');
  console.log(markdownTable(await measureBroadcast(Number(process.argv[2] ?? 10_000), 1)));
}
