// Owns the heap breakdown of idle connections: where the bytes of one idle connection go, by object kind,
// from two heap snapshots (before and after opening the connections). The idle-memory benchmark says how
// much; this says what, and is how this session's memory fixes were found.
// Run: npm run bench:heap -- [variant hybi|hybi-driver|ws|websocket-driver|reference] [connections] [0|1 compression]

import { readFileSync, unlinkSync } from 'node:fs';
import { writeHeapSnapshot } from 'node:v8';
import { startChild } from '../support/children.js';
import type { Variant } from '../support/measurement.js';
import { startServer } from '../support/servers.js';

const VARIANTS: readonly Variant[] = ['hybi', 'hybi-driver', 'ws', 'websocket-driver', 'reference'];
const SHOWN_ROWS = 30;

interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
  nodes: number[];
  strings: string[];
}

/** Objects and closures by constructor name; strings together; the rest by V8's node type. */
function kindOf(type: string, name: string): string {
  if (type === 'object' || type === 'closure') return `${type} ${name || '(anonymous)'}`;
  if (type === 'string' || type === 'concatenated string' || type === 'sliced string') return 'strings';
  return `${type} ${name.slice(0, 40)}`;
}

/** Writes a snapshot after a full GC and returns count and bytes per kind (the file is removed). */
function takeSnapshot(collectGarbage: () => void): Map<string, { count: number; bytes: number }> {
  collectGarbage();
  const file = writeHeapSnapshot();
  const snapshot = JSON.parse(readFileSync(file, 'utf8')) as HeapSnapshot;
  unlinkSync(file);
  const fields = snapshot.snapshot.meta.node_fields;
  const stride = fields.length;
  const typeField = fields.indexOf('type');
  const nameField = fields.indexOf('name');
  const sizeField = fields.indexOf('self_size');
  const types = snapshot.snapshot.meta.node_types[0];
  const kinds = new Map<string, { count: number; bytes: number }>();
  const nodes = snapshot.nodes;
  for (let index = 0; index < nodes.length; index += stride) {
    const kind = kindOf(types[nodes[index + typeField]!]!, snapshot.strings[nodes[index + nameField]!]!);
    const entry = kinds.get(kind) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += nodes[index + sizeField]!;
    kinds.set(kind, entry);
  }
  return kinds;
}

const [variantText = 'hybi', connectionsText = '2000', compressionText = '0'] = process.argv.slice(2);
const variant = variantText as Variant;
if (!VARIANTS.includes(variant)) throw new Error(`variant is one of ${VARIANTS.join(', ')}`);
const connections = Number(connectionsText);
const compression = compressionText === '1';
const collectGarbage = (globalThis as { gc?: () => void }).gc;
if (collectGarbage === undefined) throw new Error('run with node --expose-gc (npm run bench:heap does)');

const server = await startServer(variant, compression);
const before = takeSnapshot(collectGarbage);
const clients = startChild(
  new URL('../support/raw-clients.ts', import.meta.url),
  [String(server.port), String(connections), compression ? '1' : '0'],
  { timeoutMs: 5 * 60 * 1000 },
);
try {
  await clients.nextResult(120_000);
  // Let the last handshakes' garbage go before the second snapshot.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const after = takeSnapshot(collectGarbage);
  const rows = [...after]
    .map(([kind, { count, bytes }]) => {
      const earlier = before.get(kind) ?? { count: 0, bytes: 0 };
      return {
        kind,
        count: (count - earlier.count) / connections,
        bytes: (bytes - earlier.bytes) / connections,
      };
    })
    .filter((row) => row.bytes > 0)
    .sort((left, right) => right.bytes - left.bytes);
  const total = rows.reduce((sum, row) => sum + row.bytes, 0);
  console.log(
    `${variant}${compression ? ' +deflate' : ''}: ${server.connectionCount()} connections, ` +
      `${(total / 1024).toFixed(2)} KiB of heap per connection (kinds that grew)`,
  );
  console.log('| bytes per connection | objects per connection | kind |\n| ---: | ---: | --- |');
  for (const row of rows.slice(0, SHOWN_ROWS)) {
    console.log(`| ${row.bytes.toFixed(0)} | ${row.count.toFixed(2)} | ${row.kind} |`);
  }
} finally {
  await clients.stop();
  server.close();
}
process.exit(0);
