// Owns the report gate: reads Autobahn's reports/*/index.json (the native suite writes the same format)
// and fails, listing them, on every case whose behavior is not OK; INFORMATIONAL passes, NON-STRICT passes
// but is counted and listed.
//
//   npx tsx autobahn/gate.ts [reports-directory] [--allow-unimplemented] [--strict-close] [--strict]
// (--strict: NON-STRICT fails too, and so does a close behaviour that is not OK or INFORMATIONAL)

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

interface IndexEntry {
  behavior?: unknown;
  behaviorClose?: unknown;
  duration?: unknown;
  remoteCloseCode?: unknown;
  reportfile?: unknown;
}

export interface GateOptions {
  /** UNIMPLEMENTED (a peer without permessage-deflate in 12.x/13.x) passes instead of failing. */
  allowUnimplemented?: boolean;
  /** A behaviorClose other than OK/INFORMATIONAL fails the case too (otherwise it is listed as a note). */
  strictClose?: boolean;
  /** NON-STRICT fails the case instead of passing with a listing. */
  nonStrictFails?: boolean;
}

export interface GateResult {
  passed: boolean;
  /** Every index.json read. */
  files: string[];
  lines: string[];
}

/** Finds `index.json` in the directory itself and in each subdirectory (reports/servers, reports/clients). */
export function findIndexFiles(directory: string): string[] {
  const files: string[] = [];
  if (!existsSync(directory)) return files;
  const own = join(directory, 'index.json');
  if (existsSync(own)) files.push(own);
  for (const entry of readdirSync(directory).sort()) {
    const candidate = join(directory, entry, 'index.json');
    if (statSync(join(directory, entry)).isDirectory() && existsSync(candidate)) files.push(candidate);
  }
  return files;
}

/** Orders case ids part by part as numbers (6.9.1 before 6.10.1). */
function compareIds(first: string, second: string): number {
  const a = first.split('.').map(Number);
  const b = second.split('.').map(Number);
  for (let index = 0; index < Math.max(a.length, b.length); index++) {
    const difference = (a[index] ?? -1) - (b[index] ?? -1);
    if (difference !== 0) return difference;
  }
  return 0;
}

/** Reads the reports and decides. */
export function gateReports(directory: string, options: GateOptions = {}): GateResult {
  const files = findIndexFiles(directory);
  const lines: string[] = [];
  if (files.length === 0) {
    return {
      passed: false,
      files,
      lines: [`No index.json under ${directory}: run the suite first (reports/servers, reports/clients).`],
    };
  }
  let isPassing = true;
  for (const file of files) {
    let index: Record<string, Record<string, IndexEntry>>;
    try {
      index = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, IndexEntry>>;
    } catch (error) {
      lines.push(`${file}: not readable JSON (${(error as Error).message})`);
      isPassing = false;
      continue;
    }
    for (const [agent, cases] of Object.entries(index)) {
      const counts = new Map<string, number>();
      const failures: string[] = [];
      const nonStrict: string[] = [];
      const closeNotes: string[] = [];
      for (const id of Object.keys(cases).sort(compareIds)) {
        const entry = cases[id]!;
        const behavior = String(entry.behavior ?? 'MISSING');
        const behaviorClose = String(entry.behaviorClose ?? 'OK');
        counts.set(behavior, (counts.get(behavior) ?? 0) + 1);
        const where = typeof entry.reportfile === 'string' ? `  (${entry.reportfile})` : '';
        const line = `  ${id.padEnd(9)} ${behavior.padEnd(14)} close: ${behaviorClose}${entry.remoteCloseCode === null || entry.remoteCloseCode === undefined ? '' : ` (${String(entry.remoteCloseCode)})`}${where}`;
        const isCloseBad = behaviorClose !== 'OK' && behaviorClose !== 'INFORMATIONAL';
        if (
          behavior === 'OK' ||
          behavior === 'INFORMATIONAL' ||
          (behavior === 'UNIMPLEMENTED' && options.allowUnimplemented === true)
        ) {
          if (isCloseBad) (options.strictClose === true ? failures : closeNotes).push(line);
        } else if (behavior === 'NON-STRICT') {
          if (options.nonStrictFails === true) failures.push(line);
          else nonStrict.push(line);
          if (isCloseBad && options.strictClose === true && options.nonStrictFails !== true)
            failures.push(line);
        } else {
          failures.push(line);
        }
      }
      const summary = [...counts].map(([behavior, count]) => `${count} ${behavior}`).join(', ');
      lines.push(`${agent} (${file}): ${Object.keys(cases).length} cases: ${summary}`);
      if (nonStrict.length > 0) lines.push(` NON-STRICT (${nonStrict.length}, allowed):`, ...nonStrict);
      if (closeNotes.length > 0)
        lines.push(` close behaviour not OK (${closeNotes.length}, listed only):`, ...closeNotes);
      if (failures.length > 0) {
        lines.push(` FAILING (${failures.length}):`, ...failures);
        isPassing = false;
      }
    }
  }
  lines.push(isPassing ? 'gate: passed' : 'gate: FAILED');
  return { passed: isPassing, files, lines };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      'allow-unimplemented': { type: 'boolean', default: false },
      'strict-close': { type: 'boolean', default: false },
      strict: { type: 'boolean', default: false },
    },
  });
  const result = gateReports(resolve(positionals[0] ?? 'reports'), {
    allowUnimplemented: values['allow-unimplemented'],
    strictClose: values['strict-close'] || values.strict,
    nonStrictFails: values.strict,
  });
  process.stdout.write(`${result.lines.join('\n')}\n`);
  process.exitCode = result.passed ? 0 : 1;
}
