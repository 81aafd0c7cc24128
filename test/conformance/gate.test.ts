// Proves the Autobahn report gate on synthetic reports: what passes, what is listed, what fails.

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { gateReports } from '../../autobahn/gate.js';

let directory: string | undefined;
afterEach(async () => {
  if (directory !== undefined) await rm(directory, { recursive: true, force: true });
  directory = undefined;
});

async function reports(servers: Record<string, Record<string, object>>): Promise<string> {
  directory = await mkdtemp(join(tmpdir(), 'hybi-gate-'));
  await mkdir(join(directory, 'servers'));
  await writeFile(join(directory, 'servers', 'index.json'), JSON.stringify(servers));
  return directory;
}

const entry = (behavior: string, behaviorClose = 'OK') => ({
  behavior,
  behaviorClose,
  duration: 3,
  remoteCloseCode: 1000,
  reportfile: 'x.json',
});

describe('the report gate', () => {
  it('passes OK and INFORMATIONAL, and passes NON-STRICT while counting and listing it', async () => {
    const result = gateReports(
      await reports({
        hybi: {
          '1.1.1': entry('OK'),
          '6.4.1': entry('NON-STRICT'),
          '7.13.1': entry('INFORMATIONAL', 'INFORMATIONAL'),
        },
      }),
    );
    expect(result.passed).toBe(true);
    expect(result.lines[0]).toMatch(/hybi .*: 3 cases: 1 OK, 1 NON-STRICT, 1 INFORMATIONAL$/);
    expect(result.lines).toContain(' NON-STRICT (1, allowed):');
    expect(result.lines.some((line) => line.startsWith('  6.4.1'))).toBe(true);
  });

  it('fails and lists every case whose behavior is not OK', async () => {
    const result = gateReports(
      await reports({
        hybi: {
          '2.5': entry('FAILED'),
          '7.9.1': entry('WRONG CODE', 'WRONG CODE'),
          '12.1.1': entry('UNIMPLEMENTED'),
          '1.1.1': entry('OK'),
        },
      }),
    );
    expect(result.passed).toBe(false);
    const failing = result.lines
      .filter((line) => /^ {2}\d/.test(line))
      .map((line) => line.trim().split(/\s+/)[0]);
    expect(failing).toEqual(['2.5', '7.9.1', '12.1.1']);
    expect(result.lines.at(-1)).toBe('gate: FAILED');
  });

  it('lets UNIMPLEMENTED pass on request, and lists a bad close behaviour without failing unless strict', async () => {
    const root = await reports({
      hybi: { '12.1.1': entry('UNIMPLEMENTED'), '1.1.1': entry('OK', 'UNCLEAN') },
    });
    expect(gateReports(root, { allowUnimplemented: true }).passed).toBe(true);
    expect(gateReports(root, { allowUnimplemented: true, strictClose: true }).passed).toBe(false);
  });

  it('fails NON-STRICT when asked to, listing it once among the failures', async () => {
    const root = await reports({
      hybi: { '3.2': entry('NON-STRICT', 'UNCLEAN'), '1.1.1': entry('OK') },
    });
    const result = gateReports(root, { strictClose: true, nonStrictFails: true });
    expect(result.passed).toBe(false);
    const failing = result.lines
      .filter((line) => /^ {2}\d/.test(line))
      .map((line) => line.trim().split(/\s+/)[0]);
    expect(failing).toEqual(['3.2']);
    expect(result.lines).not.toContain(' NON-STRICT (1, allowed):');
  });

  it('fails when there is no report to read', () => {
    expect(gateReports(join(tmpdir(), 'hybi-gate-missing-directory')).passed).toBe(false);
  });
});
