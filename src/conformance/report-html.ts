// Owns the HTML report: one self-contained page (no external files or scripts from elsewhere) with a
// colour-coded matrix of cases against peers, and every case expandable to its evidence and wire log.

import { categoryOf, categoryTitle, compareCaseIds, subcategoryOf, subcategoryTitle } from './catalogue.js';
import type { CaseResult, SuiteResult } from './result.js';
import { VERDICTS, type Verdict } from './verdict.js';
import type { WireLogEntry } from './wire-log.js';

/** Rows of a wire log shown per case; longer logs say how many were left out. */
const WIRE_LOG_ROWS = 250;

const VERDICT_CLASSES: Readonly<Record<Verdict, string>> = {
  OK: 'ok',
  'NON-STRICT': 'nonstrict',
  INFORMATIONAL: 'info',
  UNIMPLEMENTED: 'unimpl',
  FAILED: 'failed',
};

const OPCODE_NAMES: Readonly<Record<number, string>> = {
  0: 'CONT',
  1: 'TEXT',
  2: 'BINARY',
  8: 'CLOSE',
  9: 'PING',
  10: 'PONG',
};

/** The id of a case's entry in the HTML report. */
export function anchorFor(suiteIndex: number, caseId: string): string {
  return `s${suiteIndex}-${caseId.replaceAll('.', '_')}`;
}

export function escapeHtml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:0 2rem 4rem;color:#1d2129;background:#fafbfc}
h1{font-size:1.6rem;margin:1.5rem 0 .3rem}h2{font-size:1.25rem;margin:2.2rem 0 .6rem;border-bottom:1px solid #d0d4da;padding-bottom:.3rem}
h3{font-size:1.05rem;margin:1.4rem 0 .4rem}
table{border-collapse:collapse;margin:.4rem 0}th,td{border:1px solid #d0d4da;padding:.2rem .5rem;text-align:left;vertical-align:top}
th{background:#eef0f3}
.ok{background:#c7efcf}.nonstrict{background:#f8e6a0}.info{background:#cfe2ff}.unimpl{background:#e2e3e5}.failed{background:#f5b7b1}
.matrix td{white-space:nowrap;font-size:12px}.matrix td a{color:inherit;text-decoration:none;display:block}
.matrix tr.sub td{background:#f3f4f6;font-weight:600}
details{border:1px solid #d0d4da;border-radius:4px;margin:.3rem 0;background:#fff}
details>summary{cursor:pointer;padding:.3rem .6rem;list-style-position:inside}
details>div{padding:.2rem .9rem .8rem}
.badge{display:inline-block;min-width:7.5rem;font-weight:600;font-size:12px;padding:0 .4rem;border-radius:3px;margin-right:.4rem;text-align:center}
pre{white-space:pre-wrap;word-break:break-word;background:#f3f4f6;padding:.5rem;border-radius:4px;font-size:12px;margin:.3rem 0}
.wire td{font:12px ui-monospace,SFMono-Regular,Menlo,monospace}.wire .tx{color:#0b5394}.wire .rx{color:#7a2e00}.wire .note{color:#555}
.muted{color:#5f6670}.controls{margin:.8rem 0}.controls button{margin-right:.4rem}
body.problems-only details.verdict-ok{display:none}
`;

const SCRIPT = `
function toggleAll(open){document.querySelectorAll('details.case').forEach(function(d){d.open=open;});}
function problemsOnly(button){document.body.classList.toggle('problems-only');button.textContent=document.body.classList.contains('problems-only')?'Show all cases':'Show only cases that are not OK';}
`;

/** Renders suites into one HTML page. */
export function renderHtmlReport(suites: readonly SuiteResult[]): string {
  const parts: string[] = [];
  parts.push(
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<title>hybi-conformance report</title>',
    `<style>${STYLE}</style><script>${SCRIPT}</script></head><body>`,
    '<h1>WebSocket conformance report</h1>',
    `<p class="muted">hybi-conformance · generated ${escapeHtml(new Date().toISOString())} · cases from RFC 6455 and RFC 7692 in Autobahn|Testsuite's numbering (0.x and 14.x are hybi's own)</p>`,
  );
  parts.push(renderSummary(suites), renderMatrix(suites));
  parts.push(
    '<div class="controls"><button onclick="toggleAll(true)">Expand all</button><button onclick="toggleAll(false)">Collapse all</button><button onclick="problemsOnly(this)">Show only cases that are not OK</button></div>',
  );
  suites.forEach((suite, suiteIndex) => {
    parts.push(renderSuite(suite, suiteIndex));
  });
  parts.push('</body></html>\n');
  return parts.join('\n');
}

function renderSummary(suites: readonly SuiteResult[]): string {
  const rows = suites.map((suite) => {
    const counts = VERDICTS.map(
      (verdict) =>
        `<td class="${suite.counts[verdict] > 0 ? VERDICT_CLASSES[verdict] : ''}">${suite.counts[verdict]}</td>`,
    ).join('');
    const settings = suite.settings;
    return `<tr><td><a href="#suite-${suites.indexOf(suite)}">${escapeHtml(suite.agent)}</a></td><td>${suite.mode === 'server' ? 'server' : 'client'}</td><td>${escapeHtml(suite.target)}</td><td>${suite.results.length}</td>${counts}<td>${(suite.durationMilliseconds / 1000).toFixed(1)} s</td><td>${settings.limits}${settings.limits === 'quick' ? ' (9.x sizes ÷16, 9.7/9.8 counts ÷10, 12/13 counts ÷50)' : ''}, pace ${settings.pace} ms</td></tr>`;
  });
  return `<h2>Summary</h2><table><tr><th>Peer (agent)</th><th>Tested as</th><th>Target</th><th>Cases</th>${VERDICTS.map((verdict) => `<th>${verdict}</th>`).join('')}<th>Duration</th><th>Limits</th></tr>${rows.join('')}</table>`;
}

function renderMatrix(suites: readonly SuiteResult[]): string {
  const byId = suites.map((suite) => new Map(suite.results.map((result) => [result.id, result])));
  const ids = [...new Set(suites.flatMap((suite) => suite.results.map((result) => result.id)))].sort(
    compareCaseIds,
  );
  const header = `<tr><th>Case</th>${suites.map((suite) => `<th>${escapeHtml(suite.agent)}</th>`).join('')}</tr>`;
  const rows: string[] = [];
  let currentGroup = '';
  for (const id of ids) {
    const group = subcategoryOf(id);
    if (group !== currentGroup) {
      currentGroup = group;
      const title =
        categoryOf(id) === group ? categoryTitle(id) : `${categoryTitle(id)} · ${subcategoryTitle(id) ?? ''}`;
      rows.push(
        `<tr class="sub"><td colspan="${suites.length + 1}">${escapeHtml(group)} ${escapeHtml(title)}</td></tr>`,
      );
    }
    const cells = suites.map((_, suiteIndex) => {
      const result = byId[suiteIndex]!.get(id);
      if (result === undefined) return '<td class="muted">–</td>';
      return `<td class="${VERDICT_CLASSES[result.verdict]}" title="${escapeHtml(result.reason)}"><a href="#${anchorFor(suiteIndex, id)}">${result.verdict} <span class="muted">${result.durationMilliseconds} ms</span></a></td>`;
    });
    rows.push(`<tr><td>${escapeHtml(id)}</td>${cells.join('')}</tr>`);
  }
  return `<h2>Cases</h2><table class="matrix">${header}${rows.join('')}</table>`;
}

function renderSuite(suite: SuiteResult, suiteIndex: number): string {
  const parts = [
    `<h2 id="suite-${suiteIndex}">${escapeHtml(suite.agent)} <span class="muted">(${suite.mode === 'server' ? 'server at' : 'client, tested by'} ${escapeHtml(suite.target)})</span></h2>`,
  ];
  let currentCategory = '';
  for (const result of suite.results) {
    if (result.category !== currentCategory) {
      currentCategory = result.category;
      parts.push(`<h3>${escapeHtml(result.category)} ${escapeHtml(result.categoryTitle)}</h3>`);
    }
    parts.push(renderCase(result, suiteIndex));
  }
  return parts.join('\n');
}

function renderCase(result: CaseResult, suiteIndex: number): string {
  const verdictClass = VERDICT_CLASSES[result.verdict];
  const body: string[] = [
    `<p><b>Sends:</b> ${escapeHtml(result.description)}</p>`,
    `<p><b>A conforming peer:</b> ${escapeHtml(result.expectation)} <span class="muted">(${escapeHtml(result.references.join(', '))})</span></p>`,
    `<p><b>Verdict:</b> ${escapeHtml(result.verdict)}: ${escapeHtml(result.reason)}</p>`,
  ];
  if (result.details.length > 1) {
    body.push(`<ul>${result.details.map((detail) => `<li>${escapeHtml(detail)}</li>`).join('')}</ul>`);
  }
  body.push(
    `<table><tr><th>Expected</th><th>Observed</th></tr><tr><td><pre>${escapeHtml(result.expected)}</pre></td><td><pre>${escapeHtml(result.observed)}</pre></td></tr></table>`,
  );
  if (result.handshake !== undefined) {
    // The request and response themselves are the first lines of the wire log.
    const handshake = result.handshake;
    body.push(
      `<p><b>Handshake:</b> ${escapeHtml(handshake.outcome)}${handshake.status === undefined ? '' : ` (HTTP ${handshake.status})`}${handshake.compression === undefined ? '' : `; permessage-deflate agreed: ${escapeHtml(handshake.compression)}`}</p>`,
    );
    if (handshake.problems.length > 0) {
      body.push(
        `<ul>${handshake.problems.map((problem) => `<li>${escapeHtml(problem)}</li>`).join('')}</ul>`,
      );
    }
  }
  body.push(
    `<p><b>Wire log</b> <span class="muted">(ms since the case started; tx = tester, rx = peer)</span></p>`,
    renderWireLog(result.wireLog),
  );
  return `<details class="case verdict-${verdictClass}" id="${anchorFor(suiteIndex, result.id)}"><summary><span class="badge ${verdictClass}">${escapeHtml(result.verdict)}</span><b>${escapeHtml(result.id)}</b> ${escapeHtml(result.description)} <span class="muted">${result.durationMilliseconds} ms</span></summary><div>${body.join('\n')}</div></details>`;
}

function renderWireLog(entries: readonly WireLogEntry[]): string {
  const rows = entries.slice(0, WIRE_LOG_ROWS).map((entry): string => {
    const at = `<td>${entry.at.toFixed(1)}</td>`;
    switch (entry.kind) {
      case 'frame': {
        const flags = `${OPCODE_NAMES[entry.opcode] ?? `OPCODE ${entry.opcode}`} fin=${entry.isFinal ? 1 : 0} rsv=${entry.rsv} ${entry.isMasked ? 'masked' : 'unmasked'} len=${entry.payloadLength}${entry.chopSize === undefined ? '' : ` chops of ${entry.chopSize}`}`;
        return `<tr class="${entry.direction}">${at}<td>${entry.direction} frame</td><td>${escapeHtml(flags)}</td><td>${escapeHtml(entry.preview)}</td></tr>`;
      }
      case 'octets':
        return `<tr class="${entry.direction}">${at}<td>${entry.direction} octets</td><td>${entry.length} bytes</td><td>${escapeHtml(entry.preview)}</td></tr>`;
      case 'http':
        return `<tr class="${entry.direction}">${at}<td>${entry.direction} http</td><td colspan="2"><pre>${escapeHtml(entry.text)}</pre></td></tr>`;
      case 'marker':
        return `<tr class="note">${at}<td>wait</td><td colspan="2">still open after wait ${escapeHtml(entry.tag)}</td></tr>`;
      default:
        return `<tr class="note">${at}<td>note</td><td colspan="2">${escapeHtml(entry.text)}</td></tr>`;
    }
  });
  if (entries.length > WIRE_LOG_ROWS) {
    rows.push(
      `<tr class="note"><td></td><td colspan="3">${entries.length - WIRE_LOG_ROWS} more entries in report.json</td></tr>`,
    );
  }
  return `<table class="wire">${rows.join('')}</table>`;
}
