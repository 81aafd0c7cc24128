import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { isMainModule } from '../../src/node/main-module.js';

describe('isMainModule', () => {
  const directory = mkdtempSync(join(tmpdir(), 'hybi-main-module-'));
  const command = join(directory, 'command.js');
  const other = join(directory, 'other.js');
  const binLink = join(directory, 'bin-link');
  writeFileSync(command, '');
  writeFileSync(other, '');
  symlinkSync(command, binLink);
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it('is true when the process was started with the module itself', () => {
    expect(isMainModule(pathToFileURL(command).href, command)).toBe(true);
  });

  it('is true when the process was started through a symlink to the module, as an npm bin is', () => {
    expect(isMainModule(pathToFileURL(command).href, binLink)).toBe(true);
  });

  it('is false when another script was started, none was (node -e), or the entry does not exist', () => {
    expect(isMainModule(pathToFileURL(command).href, other)).toBe(false);
    expect(isMainModule(pathToFileURL(command).href, undefined)).toBe(false);
    expect(isMainModule(pathToFileURL(command).href, join(directory, 'missing.js'))).toBe(false);
  });

  it('is false for a module imported by the test runner', () => {
    expect(isMainModule(import.meta.url)).toBe(false);
  });
});
