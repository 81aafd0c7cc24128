// Owns the question a command's module asks before it runs: was this file started as the program (by
// `node file`, an npm bin symlink or `npx`), or only imported (by a test or by another command)?

import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Whether the module at `moduleUrl` is the script the process was started with. Both paths are resolved
 * through symlinks, since npm installs a `bin` as a symlink to the file in `dist/`.
 *
 * @param moduleUrl the caller's `import.meta.url`
 * @param entry the started script, `process.argv[1]` unless given
 * @example
 * if (isMainModule(import.meta.url)) main(process.argv.slice(2));
 */
export function isMainModule(moduleUrl: string, entry: string | undefined = process.argv[1]): boolean {
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    // A missing file (an `-e` script, a deleted entry) is not this module.
    return false;
  }
}
