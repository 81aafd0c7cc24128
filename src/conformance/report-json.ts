// Owns the machine-readable reports: the full JSON report, and an Autobahn-style index.json (agent → case →
// behavior) so tools that read Autobahn's reports, the gate in autobahn/ among them, read ours too.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { anchorFor, renderHtmlReport } from './report-html.js';
import type { SuiteResult } from './result.js';

/** One case in Autobahn's index.json. */
export interface AutobahnIndexEntry {
  behavior: string;
  behaviorClose: string;
  duration: number;
  remoteCloseCode: number | null;
  reportfile: string;
}

export type AutobahnIndex = Record<string, Record<string, AutobahnIndexEntry>>;

/** Autobahn's index.json shape for our suites (agents must be unique; a suffix keeps them apart). */
export function toAutobahnIndex(suites: readonly SuiteResult[]): AutobahnIndex {
  const index: AutobahnIndex = {};
  for (const suite of suites) {
    let agent = suite.agent;
    for (let suffix = 2; index[agent] !== undefined; suffix++) agent = `${suite.agent} (${suffix})`;
    const cases: Record<string, AutobahnIndexEntry> = {};
    for (const result of suite.results) {
      cases[result.id] = {
        behavior: result.verdict,
        behaviorClose: closeBehavior(result.verdict, result.close.wasKilled),
        duration: result.durationMilliseconds,
        remoteCloseCode: result.close.peerClose?.code ?? null,
        reportfile: `index.html#${anchorFor(suites.indexOf(suite), result.id)}`,
      };
    }
    index[agent] = cases;
  }
  return index;
}

function closeBehavior(verdict: string, wasKilled: boolean): string {
  if (wasKilled) return 'FAILED';
  return verdict === 'FAILED' || verdict === 'NON-STRICT'
    ? verdict
    : verdict === 'INFORMATIONAL'
      ? 'INFORMATIONAL'
      : 'OK';
}

export interface WrittenReports {
  json: string;
  index: string;
  html: string;
}

/** Writes report.json, index.json and index.html into `directory` (created if missing). */
export async function writeReports(
  suites: readonly SuiteResult[],
  directory: string,
): Promise<WrittenReports> {
  await mkdir(directory, { recursive: true });
  const paths: WrittenReports = {
    json: join(directory, 'report.json'),
    index: join(directory, 'index.json'),
    html: join(directory, 'index.html'),
  };
  await writeFile(
    paths.json,
    `${JSON.stringify({ tool: 'hybi-conformance', generatedAt: new Date().toISOString(), suites }, null, 1)}\n`,
  );
  await writeFile(paths.index, `${JSON.stringify(toAutobahnIndex(suites), null, 2)}\n`);
  await writeFile(paths.html, renderHtmlReport(suites));
  return paths;
}
