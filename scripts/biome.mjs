// Runs Biome's native binary for this platform. The npm registry reachable here lacks Biome's packages
// for other platforms, which leaves `@biomejs/biome`'s lock entry incomplete and breaks `npm ci`; so the
// project depends on the linux-x64 binary package directly and this script finds and runs it.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const packageName = `@biomejs/cli-${process.platform}-${process.arch}`;
let binary;
try {
  binary = require.resolve(`${packageName}/biome${process.platform === 'win32' ? '.exe' : ''}`);
} catch {
  console.error(`biome: ${packageName} is not installed; add it as a devDependency for this platform.`);
  process.exit(2);
}
const result = spawnSync(binary, process.argv.slice(2), { stdio: 'inherit' });
process.exit(result.status ?? 1);
