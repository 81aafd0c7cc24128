// Owns the checks on the published shape: the built package loads via `import` and `require()` through
// its `exports` map, and package.json keeps zero runtime dependencies.

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BUILD_TIMEOUT_MILLISECONDS = 60_000;

interface PackageJson {
  dependencies?: Record<string, string>;
  engines?: { node?: string };
  repository?: { url?: string };
  bin?: Record<string, string>;
  exports: Record<string, string | Record<string, string>>;
}

/** What each loader script prints: the type of every entry point, and a client driver's version. */
interface LoadReport {
  http: string;
  server: string;
  client: string;
  isWebSocket: string;
  isSecureRequest: string;
  validateOptions: string;
  version: unknown;
}

const REPORT_EXPRESSION = `JSON.stringify({
  http: typeof hybi.http,
  server: typeof hybi.server,
  client: typeof hybi.client,
  isWebSocket: typeof hybi.isWebSocket,
  isSecureRequest: typeof hybi.isSecureRequest,
  validateOptions: typeof hybi.validateOptions,
  version: hybi.client('ws://example.com/chat').version,
})`;

const EXPECTED_REPORT: LoadReport = {
  http: 'function',
  server: 'function',
  client: 'function',
  isWebSocket: 'function',
  isSecureRequest: 'function',
  validateOptions: 'function',
  version: 'hybi-13',
};

/** A project that depends on hybi: node_modules/hybi links to this repository, so `exports` decides. */
let consumerDirectory: string;

beforeAll(async () => {
  // The local compiler rather than `npx tsc`: no npm in between, nothing fetched. tsc prints nothing on
  // success, so a non-zero exit (execFile rejects, with the diagnostics) is the only failure signal.
  const compiler = join(repositoryRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  // The same two builds as `npm run build`: the library, then the `hybi/fuzz` kit.
  for (const project of ['tsconfig.build.json', 'tsconfig.fuzz.json']) {
    await run(process.execPath, [compiler, '-p', project], {
      cwd: repositoryRoot,
      timeout: BUILD_TIMEOUT_MILLISECONDS,
    });
  }
  consumerDirectory = await mkdtemp(join(tmpdir(), 'hybi-consumer-'));
  await mkdir(join(consumerDirectory, 'node_modules'));
  await symlink(repositoryRoot, join(consumerDirectory, 'node_modules', 'hybi'), 'dir');
}, BUILD_TIMEOUT_MILLISECONDS);

afterAll(async () => {
  if (consumerDirectory !== undefined) await rm(consumerDirectory, { recursive: true, force: true });
});

/** Runs `node <args>` in the consumer project; only stdout counts (require(esm) may warn on stderr). */
async function nodeInConsumer(args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, args, { cwd: consumerDirectory, timeout: 20_000 });
  return stdout;
}

async function readPackageJson(): Promise<PackageJson> {
  return JSON.parse(await readFile(join(repositoryRoot, 'package.json'), 'utf8')) as PackageJson;
}

describe('the built package', () => {
  it('loads with import and exposes the driver API', async () => {
    const stdout = await nodeInConsumer([
      '--input-type=module',
      '-e',
      `import * as hybi from 'hybi'; console.log(${REPORT_EXPRESSION});`,
    ]);
    expect(JSON.parse(stdout) as LoadReport).toEqual(EXPECTED_REPORT);
  });

  it('loads with require() and exposes the driver API', async () => {
    const stdout = await nodeInConsumer([
      '--input-type=commonjs',
      '-e',
      `const hybi = require('hybi'); console.log(${REPORT_EXPRESSION});`,
    ]);
    expect(JSON.parse(stdout) as LoadReport).toEqual(EXPECTED_REPORT);
  });

  it('has a built file behind every target of its exports map', async () => {
    const { exports } = await readPackageJson();
    const targets = Object.values(exports).flatMap((entry) =>
      typeof entry === 'string' ? [entry] : Object.values(entry),
    );
    expect(targets.length).toBeGreaterThan(0);
    for (const target of targets) expect(existsSync(join(repositoryRoot, target)), target).toBe(true);
  });
});

describe('package.json', () => {
  it('has no runtime dependencies', async () => {
    const { dependencies } = await readPackageJson();
    expect(Object.keys(dependencies ?? {})).toEqual([]);
  });

  it('declares the Node versions whose require() loads ES modules (20.19+, 22.12+)', async () => {
    const { engines } = await readPackageJson();
    expect(engines?.node).toBe('^20.19.0 || >=22.12.0');
  });

  it('installs the hybi and hybi-conformance commands, each a built file', async () => {
    const { bin } = await readPackageJson();
    expect(bin).toEqual({ hybi: './dist/cli/hybi.js', 'hybi-conformance': './dist/conformance/cli.js' });
    for (const target of Object.values(bin ?? {}))
      expect(existsSync(join(repositoryRoot, target)), target).toBe(true);
  });

  it('names its repository, so that README links resolve on the registry', async () => {
    const { repository } = await readPackageJson();
    expect(repository?.url).toBe('git+https://github.com/hybi-ws/hybi.git');
  });
});

describe('the packed tarball', () => {
  /** What `npm pack` would put in the tarball (scripts skipped: beforeAll built already). */
  async function packedFiles(): Promise<string[]> {
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: repositoryRoot,
      timeout: 30_000,
    });
    const [pack] = JSON.parse(stdout) as [{ files: { path: string }[] }];
    return pack.files.map((file) => file.path);
  }

  it('ships no source map (they would point at sources that do not ship)', async () => {
    const files = await packedFiles();
    expect(files).toContain('dist/index.js');
    expect(files.filter((file) => file.endsWith('.map'))).toEqual([]);
  });

  it('ships every file README links to inside docs/', async () => {
    const files = await packedFiles();
    const readme = await readFile(join(repositoryRoot, 'README.md'), 'utf8');
    const docsLinks = [...readme.matchAll(/\]\((docs\/[^)#]+)\)/g)].map((match) => match[1]);
    expect(docsLinks).toContain('docs/security.md');
    for (const link of docsLinks) expect(files).toContain(link);
  });
});
