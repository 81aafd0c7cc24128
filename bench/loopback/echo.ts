// Measures loopback echo: a server and a client of the same library in two processes, a window of
// messages in flight, messages and MB per second at 16 B, 1 KiB, 64 KiB and 1 MiB, without and with
// permessage-deflate; the reference is raw node:net echoing the same bytes.
// Run: npx tsx bench/loopback/echo.ts

import { runChild, startChild } from '../support/children.js';
import { type Measurement, median, type Variant } from '../support/measurement.js';
import { WS_WITHOUT_ADDONS_ENV } from '../support/peers.js';

export const ECHO_SIZES: readonly { label: string; bytes: number }[] = [
  { label: '16 B', bytes: 16 },
  { label: '1 KiB', bytes: 1024 },
  { label: '64 KiB', bytes: 64 * 1024 },
  { label: '1 MiB', bytes: 1024 * 1024 },
];

export interface EchoOptions {
  warmupMs: number;
  windowMs: number;
  /** Measurement windows per client process; the figure is their median (over every run). */
  windows: number;
  /** Client processes per size, each after its own warmup. */
  runs: number;
}

/**
 * Messages in flight: 128 small ones, or 2 MiB's worth of large ones (at least 4). Much more than the
 * sockets' buffers hold can deadlock a pipe()-based echo (websocket-driver's, measured: 128 x 64 KiB
 * stalled once in three runs): both ends stop reading while their own writes wait.
 */
function inFlightFor(size: number): number {
  return Math.max(4, Math.min(128, Math.floor((2 * 1024 * 1024) / size)));
}

export const ECHO_VARIANTS: readonly Variant[] = [
  'hybi',
  'hybi-driver',
  'ws',
  'ws-no-addons',
  'websocket-driver',
  'reference',
];

/**
 * Every variant at every size, without and with compression. Rounds are interleaved: each round runs one
 * client per variant for a size before the next size, so that hybi and its peers are measured minutes,
 * not half an hour, apart. On this shared VM one client's consecutive windows differed up to 2.5x, and
 * measuring all of one library before the next turned that drift into a 3x "difference" at 1 MiB.
 */
export async function measureEcho(
  options: EchoOptions,
  variants: readonly Variant[] = ECHO_VARIANTS,
): Promise<Measurement[]> {
  const measurements: Measurement[] = [];
  for (const compression of [false, true]) {
    // Raw bytes have nothing to compress or not: the reference stands beside uncompressed rows only.
    const active = variants.filter((variant) => !(compression && variant === 'reference'));
    const servers = new Map<Variant, { port: number; stop: () => Promise<void> }>();
    const rates = new Map<string, number[]>();
    const failures = new Map<string, string>();
    try {
      for (const variant of active) {
        const server = startChild(
          new URL('../support/server-process.ts', import.meta.url),
          [variant, compression ? '1' : '0'],
          { env: envFor(variant), timeoutMs: 30 * 60 * 1000 },
        );
        try {
          const { port } = (await server.nextResult(30_000)) as { port: number };
          servers.set(variant, { port, stop: () => server.stop() });
        } catch (error) {
          await server.stop();
          throw error;
        }
      }
      for (let round = 0; round < options.runs; round++) {
        for (const size of ECHO_SIZES) {
          for (const variant of active) {
            const key = `${variant} ${size.label}`;
            if (failures.has(key)) continue;
            try {
              const [result] = (await runChild(
                new URL('./echo-client.ts', import.meta.url),
                [
                  variant,
                  String(servers.get(variant)!.port),
                  String(size.bytes),
                  compression ? '1' : '0',
                  String(inFlightFor(size.bytes)),
                  String(options.warmupMs),
                  String(options.windowMs),
                  String(options.windows),
                ],
                { env: envFor(variant), timeoutMs: 2 * 60 * 1000 },
              )) as { rates: number[] }[];
              rates.set(key, [...(rates.get(key) ?? []), ...result!.rates]);
            } catch (error) {
              // One library stalling must not cost the other figures: record the failure and go on.
              failures.set(key, error instanceof Error ? error.message : String(error));
            }
          }
        }
      }
    } finally {
      for (const server of servers.values()) await server.stop();
    }
    for (const variant of active) {
      for (const size of ECHO_SIZES) {
        const key = `${variant} ${size.label}`;
        const runs = rates.get(key) ?? [];
        const failure = failures.get(key);
        const value = failure === undefined ? median(runs) : Number.NaN;
        measurements.push({
          suite: compression ? 'loopback echo, permessage-deflate' : 'loopback echo',
          case: `${size.label}, ${inFlightFor(size.bytes)} in flight`,
          variant,
          unit: 'msg/s',
          value,
          bytesPerSecond: value * size.bytes,
          runs,
          ...(failure === undefined ? {} : { error: 'the client process failed (see the log)' }),
          ...(variant === 'reference' ? { label: 'node:net echo' } : {}),
        });
        process.stderr.write(
          `  echo ${variant}${compression ? ' +deflate' : ''} ${size.label}: ${Math.round(value)} msg/s\n`,
        );
      }
    }
  }
  return measurements;
}

function envFor(variant: Variant): Record<string, string> {
  return variant === 'ws-no-addons' ? WS_WITHOUT_ADDONS_ENV : {};
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  const { markdownTable } = await import('../support/table.js');
  console.log(markdownTable(await measureEcho({ warmupMs: 500, windowMs: 1000, windows: 2, runs: 2 })));
}
