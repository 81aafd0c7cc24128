// Owns the checks on the HTML report as a reader uses it: one page that fits a 1,280 px window, a
// filter that leaves only the FAILED cases, and a click on a failed cell that opens that case. The page
// is rendered from a real run against a peer that is wrong on purpose; the checks in a browser need
// Chromium and are skipped, with the reason printed, without it.

import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { anchorFor, renderHtmlReport } from '../../src/conformance/report-html.js';
import type { SuiteResult } from '../../src/conformance/result.js';
import { testServer } from '../../src/conformance/runner.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium)
  console.warn(
    `HTML report in Chromium skipped: ${CHROMIUM} is not installed (.ci/run installs it with apt)`,
  );

/** npm run conformance reports eight peers side by side: the matrix is widest then. */
const PEER_COUNT = 8;

let suites: SuiteResult[];
let html: string;
let directory: string;

beforeAll(async () => {
  // ws without UTF-8 validation echoes invalid UTF-8 (6.3.1 FAILED); 1.1.6 brings a 65,535-byte message
  // and its long previews, 2.4 a ping of 125 bytes shown as one unbroken run of hex.
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, skipUTF8Validation: true });
  server.on('connection', (socket) => {
    socket.on('error', () => {});
    socket.on('message', (data, isBinary) => socket.send(data as Buffer, { binary: isBinary }));
  });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const { port } = server.address() as AddressInfo;
  try {
    const suite = await testServer(`ws://127.0.0.1:${port}`, {
      limits: 'quick',
      pace: 200,
      settleTime: 100,
      failTimeout: 500,
      cases: ['1.1.1', '1.1.6', '2.4', '6.3.1'],
    });
    suites = Array.from({ length: PEER_COUNT }, (_, index) => ({
      ...suite,
      agent: `websocket-peer-with-a-long-name-${index + 1} (reference)`,
    }));
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  html = renderHtmlReport(suites);
  directory = await mkdtemp(join(tmpdir(), 'hybi-report-html-'));
  await writeFile(join(directory, 'index.html'), html);
}, 30_000);

afterAll(async () => {
  if (directory !== undefined) await rm(directory, { recursive: true, force: true });
});

describe('the HTML report', () => {
  it('is rendered from a run with a FAILED case, so that there is something to filter', () => {
    const verdicts = Object.fromEntries(suites[0]!.results.map((result) => [result.id, result.verdict]));
    expect(verdicts).toEqual({
      '1.1.1': 'OK',
      '1.1.6': 'OK',
      '2.4': 'OK',
      '6.3.1': 'FAILED',
    });
  });

  it('offers a FAILED-only filter, with the count, and loads no script or style from elsewhere', () => {
    expect(html).toContain(
      `<input type="radio" name="filter" value="failed" onchange="setFilter(this.value)"> FAILED only (${PEER_COUNT})`,
    );
    expect(html).not.toMatch(/<script[^>]*\bsrc=/);
    expect(html).not.toMatch(/<link\b/);
    // There are failures, so the note for a run without any is left out.
    expect(html).not.toContain('No case FAILED.');
  });

  it('links each failed cell of the matrix to that case, and the case is there to open', () => {
    const anchor = anchorFor(3, '6.3.1');
    expect(html).toMatch(new RegExp(`<td class="failed"[^>]*><a href="#${anchor}">`));
    expect(html).toContain(`<details class="case verdict-failed" id="${anchor}">`);
  });
});

describe.skipIf(!hasChromium)('the HTML report in Chromium (headless)', () => {
  let browser: import('playwright-core').Browser;
  beforeAll(async () => {
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
      ],
    });
  }, 30_000);
  afterAll(async () => {
    await browser?.close();
  });

  /** Runs `check` on the report in a fresh 1,280 × 900 window. */
  async function withReport(check: (page: import('playwright-core').Page) => Promise<void>): Promise<void> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      const pageErrors: string[] = [];
      page.on('pageerror', (error) => pageErrors.push(String(error)));
      await page.goto(pathToFileURL(join(directory, 'index.html')).href);
      await check(page);
      expect(pageErrors).toEqual([]);
    } finally {
      await page.close();
    }
  }

  // The page runs in the browser: these are expressions, as this project compiles without DOM types.
  const PAGE_WIDTH = 'document.documentElement.scrollWidth';
  const VISIBLE_CASES = `[...document.querySelectorAll('details.case')].filter((d) => d.offsetParent !== null).map((d) => d.id)`;
  const VISIBLE_ROWS_WITHOUT_FAILURE = `[...document.querySelectorAll('.matrix tr.row')].filter((row) => row.offsetParent !== null && row.querySelector('td.failed') === null).length`;

  it('fits 1,280 px with every case closed and with every case open', async () => {
    await withReport(async (page) => {
      expect(await page.evaluate(PAGE_WIDTH)).toBe(1280);
      await page.click('text=Expand all');
      expect(await page.evaluate(`[...document.querySelectorAll('details.case')].every((d) => d.open)`)).toBe(
        true,
      );
      expect(await page.evaluate(PAGE_WIDTH)).toBe(1280);
    });
  }, 30_000);

  it('shows only the FAILED cases and matrix rows once FAILED only is chosen, and all again after', async () => {
    await withReport(async (page) => {
      expect(await page.evaluate(VISIBLE_CASES)).toHaveLength(PEER_COUNT * 4);
      await page.check('input[name="filter"][value="failed"]');
      expect(await page.evaluate(VISIBLE_CASES)).toEqual(
        suites.map((_, suiteIndex) => anchorFor(suiteIndex, '6.3.1')),
      );
      expect(await page.evaluate(VISIBLE_ROWS_WITHOUT_FAILURE)).toBe(0);
      await page.check('input[name="filter"][value="all"]');
      expect(await page.evaluate(VISIBLE_CASES)).toHaveLength(PEER_COUNT * 4);
    });
  }, 30_000);

  it('opens a case when its failed cell is clicked, and when the page is loaded with its address', async () => {
    await withReport(async (page) => {
      const anchor = anchorFor(5, '6.3.1');
      const isOpen = `document.getElementById('${anchor}').open`;
      expect(await page.evaluate(isOpen)).toBe(false);
      await page.click(`.matrix td.failed a[href="#${anchor}"]`);
      expect(await page.evaluate(isOpen)).toBe(true);
      expect(await page.evaluate('location.hash')).toBe(`#${anchor}`);
      // index.json's reportfile for a case is index.html#<anchor>.
      await page.goto(`${pathToFileURL(join(directory, 'index.html')).href}#${anchorFor(2, '6.3.1')}`);
      expect(await page.evaluate(`document.getElementById('${anchorFor(2, '6.3.1')}').open`)).toBe(true);
    });
  }, 30_000);
});
