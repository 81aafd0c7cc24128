// Owns how the benchmarks load hybi: its compiled JavaScript in dist/ (what users run), not its
// TypeScript through tsx. tsx compiles with esbuild's keepNames, which wraps every named function and
// arrow in a __name() call that gives each closure an own `name` property: measured, that added 5.6 KiB of
// heap to each idle hybi connection and costs a call per closure created. ws and websocket-driver are
// plain JavaScript, so running hybi through tsx would handicap hybi alone. HYBI_BENCH_SOURCE=src loads
// src/ through tsx instead (for profiling a change before building).

import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = new URL('../../', import.meta.url);
const fromSource = process.env.HYBI_BENCH_SOURCE === 'src';

/** The newest modification time of any file under `directory`. */
function newestModification(directory: string): number {
  let newest = 0;
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const entryPath = path.join(directory, entry.name);
    newest = Math.max(
      newest,
      entry.isDirectory() ? newestModification(entryPath) : statSync(entryPath).mtimeMs,
    );
  }
  return newest;
}

/** Set once the first process checked dist/: its children (started later) trust that check. */
const CHECKED_ENV = 'HYBI_BENCH_BUILD_CHECKED';

/**
 * Refuses to measure a dist/ older than src/: the figures would belong to code that no longer exists.
 * Checked once, by the process that starts the run; edits to src/ during a run do not stop it.
 */
function checkBuild(): void {
  if (process.env[CHECKED_ENV] === '1' || fromSource) return;
  process.env[CHECKED_ENV] = '1';
  const built = (() => {
    try {
      return statSync(new URL('dist/index.js', ROOT)).mtimeMs;
    } catch {
      return 0;
    }
  })();
  if (built < newestModification(fileURLToPath(new URL('src/', ROOT)))) {
    throw new Error(
      'bench: dist/ is missing or older than src/: run `npm run build` first (npm run bench does), or set HYBI_BENCH_SOURCE=src',
    );
  }
}

/** Imports hybi's module `modulePath` (relative to src/, with its .js ending) from dist/, or src/ when asked. */
export async function importHybi<Module>(modulePath: string): Promise<Module> {
  checkBuild();
  return (await import(new URL(`${fromSource ? 'src' : 'dist'}/${modulePath}`, ROOT).href)) as Module;
}

/** Which build the figures come from, for the results file. */
export function hybiSource(): string {
  return fromSource ? 'src/ through tsx (keepNames: closures carry a name property)' : 'dist/ (tsc output)';
}

export const { Connection } =
  await importHybi<typeof import('../../src/protocol/connection.js')>('protocol/connection.js');
export const { applyMask, copyMasked } =
  await importHybi<typeof import('../../src/protocol/mask.js')>('protocol/mask.js');
export const { Utf8Validator } =
  await importHybi<typeof import('../../src/protocol/utf8.js')>('protocol/utf8.js');
export const { permessageDeflate } = await importHybi<
  typeof import('../../src/extensions/permessage-deflate.js')
>('extensions/permessage-deflate.js');
export const { http, client } =
  await importHybi<typeof import('../../src/driver/index.js')>('driver/index.js');
export const { WebSocketServer } =
  await importHybi<typeof import('../../src/node/server.js')>('node/server.js');
export const { connect } = await importHybi<typeof import('../../src/node/connect.js')>('node/connect.js');
