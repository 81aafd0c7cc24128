// Owns the HTML report: one self-contained page (no external files or scripts from elsewhere) with a
// colour-coded matrix of cases against peers, and every case expandable to its evidence and wire log.
// It fits a 1,280 px window: long previews and handshakes wrap inside fixed-layout tables rather than
// widening the page, and the matrix scrolls inside its own box if there are too many peers for the width.

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
.scroll{max-width:100%;overflow-x:auto}
.matrix th{font-size:12px;max-width:9rem;overflow-wrap:anywhere}
.matrix td{font-size:12px}.matrix td a{color:inherit;text-decoration:none;display:block}.matrix td a span{white-space:nowrap}
.matrix td.failed a{text-decoration:underline}
.matrix tr.sub td{background:#f3f4f6;font-weight:600}
details{border:1px solid #d0d4da;border-radius:4px;margin:.3rem 0;background:#fff}
details>summary{cursor:pointer;padding:.3rem .6rem;list-style-position:inside;overflow-wrap:anywhere}
details>div{padding:.2rem .9rem .8rem}
.badge{display:inline-block;min-width:7.5rem;font-weight:600;font-size:12px;padding:0 .4rem;border-radius:3px;margin-right:.4rem;text-align:center}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f3f4f6;padding:.5rem;border-radius:4px;font-size:12px;margin:.3rem 0}
.evidence,.wire{width:100%;table-layout:fixed}.evidence td,.wire td{overflow-wrap:anywhere}
.wire td{font:12px ui-monospace,SFMono-Regular,Menlo,monospace}.wire .tx{color:#0b5394}.wire .rx{color:#7a2e00}.wire .note{color:#555}
.wire col.at{width:4.5rem}.wire col.kind{width:7rem}.wire col.flags{width:22rem}
.muted{color:#5f6670}.controls{margin:.8rem 0;display:flex;flex-wrap:wrap;gap:.4rem 1.2rem;align-items:center}
.controls fieldset{border:0;margin:0;padding:0;display:inline-flex;flex-wrap:wrap;gap:.2rem .9rem}.controls legend{float:left;font-weight:600;margin-right:.6rem}
.filter-note{display:none}
body.show-failed section.suite:not(.has-failed),body.show-failed .matrix tr.row:not(.has-failed),body.show-failed .matrix tr.sub:not(.has-failed),body.show-failed h3:not(.has-failed),body.show-failed details.case:not(.verdict-failed){display:none}
body.show-problems section.suite:not(.has-problem),body.show-problems .matrix tr.row:not(.has-problem),body.show-problems .matrix tr.sub:not(.has-problem),body.show-problems h3:not(.has-problem),body.show-problems details.case.verdict-ok{display:none}
body.show-failed .filter-note.none-failed,body.show-problems .filter-note.none-problems{display:block}
`;

/**
 * Inline (the page loads nothing): expand and collapse, the filter, and opening a case when a link or
 * the address (index.json's `reportfile` is `index.html#anchor`) points at it, since a browser scrolls to
 * a closed <details> without opening it.
 */
const SCRIPT = `
function toggleAll(open){document.querySelectorAll('details.case').forEach(function(d){d.open=open;});}
function setFilter(value){document.body.classList.toggle('show-failed',value==='failed');document.body.classList.toggle('show-problems',value==='problems');}
function openCase(id){var target=document.getElementById(id);if(!target)return;
if(target.offsetParent===null){var all=document.querySelector('input[name="filter"][value="all"]');if(all)all.checked=true;setFilter('all');}
if(target.tagName==='DETAILS')target.open=true;}
document.addEventListener('click',function(event){var link=event.target.closest?event.target.closest('a[href^="#"]'):null;if(link)openCase(decodeURIComponent(link.hash.slice(1)));});
window.addEventListener('hashchange',function(){openCase(decodeURIComponent(location.hash.slice(1)));});
document.addEventListener('DOMContentLoaded',function(){var chosen=document.querySelector('input[name="filter"]:checked');if(chosen)setFilter(chosen.value);
if(location.hash){openCase(decodeURIComponent(location.hash.slice(1)));var target=document.getElementById(decodeURIComponent(location.hash.slice(1)));if(target)target.scrollIntoView();}});
`;

/** The row and heading classes the filter reads: does this group hold a FAILED case, a case not OK? */
function filterClasses(verdicts: Iterable<Verdict>): string {
  let hasFailed = false;
  let hasProblem = false;
  for (const verdict of verdicts) {
    if (verdict === 'FAILED') hasFailed = true;
    if (verdict !== 'OK') hasProblem = true;
  }
  return [hasFailed ? 'has-failed' : '', hasProblem ? 'has-problem' : '']
    .filter((name) => name !== '')
    .join(' ');
}

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
  parts.push(renderSummary(suites), '<h2>Cases</h2>', renderControls(suites), renderMatrix(suites));
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

function renderControls(suites: readonly SuiteResult[]): string {
  const failed = suites.reduce((sum, suite) => sum + suite.counts.FAILED, 0);
  const notOk = suites.reduce((sum, suite) => sum + suite.results.length - suite.counts.OK, 0);
  const choice = (value: string, label: string, isChecked = false): string =>
    `<label><input type="radio" name="filter" value="${value}"${isChecked ? ' checked' : ''} onchange="setFilter(this.value)"> ${label}</label>`;
  return [
    '<div class="controls">',
    '<span><button type="button" onclick="toggleAll(true)">Expand all</button> <button type="button" onclick="toggleAll(false)">Collapse all</button></span>',
    `<fieldset><legend>Show</legend>${choice('all', 'all cases', true)}${choice('problems', `cases not OK (${notOk})`)}${choice('failed', `FAILED only (${failed})`)}</fieldset>`,
    '</div>',
    // Said only when true: a filter that shows nothing should say why.
    failed === 0 ? '<p class="filter-note none-failed muted">No case FAILED.</p>' : '',
    notOk === 0 ? '<p class="filter-note none-problems muted">Every case is OK.</p>' : '',
  ].join('');
}

function renderMatrix(suites: readonly SuiteResult[]): string {
  const byId = suites.map((suite) => new Map(suite.results.map((result) => [result.id, result])));
  const ids = [...new Set(suites.flatMap((suite) => suite.results.map((result) => result.id)))].sort(
    compareCaseIds,
  );
  const header = `<tr><th>Case</th>${suites.map((suite) => `<th>${escapeHtml(suite.agent)}</th>`).join('')}</tr>`;
  const verdictsOf = (id: string): Verdict[] =>
    byId.flatMap((results) => {
      const result = results.get(id);
      return result === undefined ? [] : [result.verdict];
    });
  const groupVerdicts = new Map<string, Verdict[]>();
  for (const id of ids) {
    const group = subcategoryOf(id);
    groupVerdicts.set(group, [...(groupVerdicts.get(group) ?? []), ...verdictsOf(id)]);
  }
  const rows: string[] = [];
  let currentGroup = '';
  for (const id of ids) {
    const group = subcategoryOf(id);
    if (group !== currentGroup) {
      currentGroup = group;
      const title =
        categoryOf(id) === group ? categoryTitle(id) : `${categoryTitle(id)} · ${subcategoryTitle(id) ?? ''}`;
      rows.push(
        `<tr class="sub ${filterClasses(groupVerdicts.get(group) ?? [])}"><td colspan="${suites.length + 1}">${escapeHtml(group)} ${escapeHtml(title)}</td></tr>`,
      );
    }
    const cells = suites.map((_, suiteIndex) => {
      const result = byId[suiteIndex]!.get(id);
      if (result === undefined) return '<td class="muted">–</td>';
      // The link opens the case below (the page's script opens its <details>).
      return `<td class="${VERDICT_CLASSES[result.verdict]}" title="${escapeHtml(result.reason)}"><a href="#${anchorFor(suiteIndex, id)}"><span>${result.verdict}</span> <span class="muted">${result.durationMilliseconds} ms</span></a></td>`;
    });
    rows.push(
      `<tr class="row ${filterClasses(verdictsOf(id))}"><td>${escapeHtml(id)}</td>${cells.join('')}</tr>`,
    );
  }
  return `<div class="scroll"><table class="matrix">${header}${rows.join('')}</table></div>`;
}

function renderSuite(suite: SuiteResult, suiteIndex: number): string {
  const parts = [
    `<section class="suite ${filterClasses(suite.results.map((result) => result.verdict))}">`,
    `<h2 id="suite-${suiteIndex}">${escapeHtml(suite.agent)} <span class="muted">(${suite.mode === 'server' ? 'server at' : 'client, tested by'} ${escapeHtml(suite.target)})</span></h2>`,
  ];
  const categoryVerdicts = new Map<string, Verdict[]>();
  for (const result of suite.results) {
    categoryVerdicts.set(result.category, [...(categoryVerdicts.get(result.category) ?? []), result.verdict]);
  }
  let currentCategory = '';
  for (const result of suite.results) {
    if (result.category !== currentCategory) {
      currentCategory = result.category;
      parts.push(
        `<h3 class="${filterClasses(categoryVerdicts.get(result.category) ?? [])}">${escapeHtml(result.category)} ${escapeHtml(result.categoryTitle)}</h3>`,
      );
    }
    parts.push(renderCase(result, suiteIndex));
  }
  parts.push('</section>');
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
    `<table class="evidence"><tr><th>Expected</th><th>Observed</th></tr><tr><td><pre>${escapeHtml(result.expected)}</pre></td><td><pre>${escapeHtml(result.observed)}</pre></td></tr></table>`,
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
  return `<table class="wire"><colgroup><col class="at"><col class="kind"><col class="flags"><col></colgroup>${rows.join('')}</table>`;
}
