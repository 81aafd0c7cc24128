// Owns the terminal summary: a table of categories against peers, and the cases that were not OK with why.

import { CATEGORY_TITLES, compareCaseIds } from './catalogue.js';
import type { CaseResult, SuiteResult } from './result.js';
import type { Verdict } from './verdict.js';

export interface TerminalOptions {
  /** ANSI colours; default: when stdout is a terminal and NO_COLOR is unset. */
  isColored?: boolean;
  /** Also list NON-STRICT, INFORMATIONAL and UNIMPLEMENTED cases (FAILED ones are always listed). */
  listAllNonOk?: boolean;
}

const COLORS: Readonly<Record<Verdict, string>> = {
  OK: '\u001b[32m',
  'NON-STRICT': '\u001b[33m',
  INFORMATIONAL: '\u001b[36m',
  UNIMPLEMENTED: '\u001b[90m',
  FAILED: '\u001b[31m',
};
const RESET = '\u001b[0m';

export function shouldColor(): boolean {
  return process.stdout.isTTY === true && process.env.NO_COLOR === undefined;
}

/**
 * Renders the summary: per category and peer, `OK/total` plus the other verdicts that occurred; then the
 * totals; then every case that was not OK.
 */
export function formatSummary(suites: readonly SuiteResult[], options: TerminalOptions = {}): string {
  const isColored = options.isColored ?? shouldColor();
  const paint = (verdict: Verdict, text: string): string =>
    isColored ? `${COLORS[verdict]}${text}${RESET}` : text;
  const categories = [
    ...new Set(suites.flatMap((suite) => suite.results.map((result) => result.category))),
  ].sort(compareCaseIds);
  const header = ['Category', ...suites.map((suite) => suite.agent)];
  const rows: { cells: string[]; worst: (Verdict | undefined)[] }[] = [];
  for (const category of categories) {
    const cells = [`${category.padStart(2)} ${CATEGORY_TITLES[category] ?? ''}`];
    const worst: (Verdict | undefined)[] = [undefined];
    for (const suite of suites) {
      const results = suite.results.filter((result) => result.category === category);
      if (results.length === 0) {
        cells.push('–');
        worst.push(undefined);
        continue;
      }
      const count = (verdict: Verdict): number =>
        results.filter((result) => result.verdict === verdict).length;
      const extras = (['NON-STRICT', 'INFORMATIONAL', 'UNIMPLEMENTED', 'FAILED'] as const)
        .filter((verdict) => count(verdict) > 0)
        .map((verdict) => `${count(verdict)} ${shortName(verdict)}`);
      cells.push(`${count('OK')}/${results.length}${extras.length === 0 ? '' : ` (${extras.join(', ')})`}`);
      worst.push(count('FAILED') > 0 ? 'FAILED' : count('NON-STRICT') > 0 ? 'NON-STRICT' : 'OK');
    }
    rows.push({ cells, worst });
  }
  const totals = ['Total', ...suites.map((suite) => `${suite.counts.OK}/${suite.results.length}`)];
  const detail = [
    '',
    ...suites.map(
      (suite) =>
        `${suite.counts['NON-STRICT']} ns, ${suite.counts.INFORMATIONAL} info, ${suite.counts.UNIMPLEMENTED} unimpl, ${suite.counts.FAILED} failed`,
    ),
  ];
  const duration = ['Time', ...suites.map((suite) => `${(suite.durationMilliseconds / 1000).toFixed(1)} s`)];
  const widths = header.map((_, column) =>
    Math.max(
      ...[header, ...rows.map((row) => row.cells), totals, detail, duration].map(
        (cells) => (cells[column] ?? '').length,
      ),
    ),
  );
  const line = (cells: readonly string[], worst: readonly (Verdict | undefined)[] = []): string =>
    cells
      .map((cell, column) => {
        const padded = cell.padEnd(widths[column]!);
        const verdict = worst[column];
        return verdict === undefined ? padded : paint(verdict, padded);
      })
      .join('  ')
      .trimEnd();
  const output = [line(header), line(widths.map((width) => '─'.repeat(width)))];
  for (const row of rows) output.push(line(row.cells, row.worst));
  output.push(line(widths.map((width) => '─'.repeat(width))), line(totals), line(detail), line(duration));

  for (const suite of suites) {
    const listed = suite.results.filter(
      (result) => result.verdict === 'FAILED' || (options.listAllNonOk !== false && result.verdict !== 'OK'),
    );
    if (listed.length > 0) {
      output.push('', `${suite.agent} (${suite.mode} ${suite.target}): ${listed.length} not OK`);
      // UNIMPLEMENTED cases come in whole groups (compressed cases without deflate): one line per group.
      const unimplemented = groupBySubcategory(listed.filter((result) => result.verdict === 'UNIMPLEMENTED'));
      for (const result of listed) {
        if (result.verdict !== 'UNIMPLEMENTED') {
          output.push(
            `  ${result.id.padEnd(9)} ${paint(result.verdict, result.verdict.padEnd(13))} ${caseReason(result)}`,
          );
          continue;
        }
        const group = unimplemented.get(subcategoryOf(result.id));
        if (group === undefined || group[0] !== result) continue;
        output.push(
          group.length === 1
            ? `  ${result.id.padEnd(9)} ${paint('UNIMPLEMENTED', 'UNIMPLEMENTED')} ${result.reason}`
            : `  ${`${subcategoryOf(result.id)}.*`.padEnd(9)} ${paint('UNIMPLEMENTED', 'UNIMPLEMENTED')} ${group.length} cases (${result.id} to ${group.at(-1)?.id}): ${sharedReason(group)}`,
        );
      }
    }
    if (suite.stopped !== undefined) output.push('', `${suite.agent}: ${paint('FAILED', suite.stopped)}`);
  }
  return output.join('\n');
}

/**
 * One case's reason as a terminal line shows it: a refused handshake also gives the server's status line,
 * which otherwise only the report shows.
 */
export function caseReason(result: CaseResult): string {
  const handshake = result.handshake;
  if (handshake?.outcome !== 'refused' || handshake.response === undefined) return result.reason;
  const statusLine = handshake.response.split('\r\n', 1)[0] ?? '';
  return result.reason.includes(statusLine) ? result.reason : `${result.reason} [${statusLine}]`;
}

/** `12.1` for `12.1.7`, `1` for `1.1`: the level Autobahn's report groups cases by. */
function subcategoryOf(id: string): string {
  const parts = id.split('.');
  return parts.length > 2 ? parts.slice(0, 2).join('.') : (parts[0] ?? id);
}

function groupBySubcategory(results: readonly CaseResult[]): Map<string, CaseResult[]> {
  const groups = new Map<string, CaseResult[]>();
  for (const result of results) {
    const key = subcategoryOf(result.id);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [result]);
    else group.push(result);
  }
  return groups;
}

function sharedReason(results: readonly CaseResult[]): string {
  const reasons = new Set(results.map((result) => result.reason));
  return reasons.size === 1 ? results[0]!.reason : `${reasons.size} different reasons (see the report)`;
}

function shortName(verdict: Verdict): string {
  switch (verdict) {
    case 'NON-STRICT':
      return 'non-strict';
    case 'INFORMATIONAL':
      return 'info';
    case 'UNIMPLEMENTED':
      return 'unimpl';
    case 'FAILED':
      return 'FAILED';
    default:
      return 'ok';
  }
}
