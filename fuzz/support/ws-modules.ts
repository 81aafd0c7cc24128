// Owns loading ws's internal modules (lib/receiver.js, lib/permessage-deflate.js, ...), which its
// package "exports" map hides from bare specifiers like 'ws/lib/receiver'.

import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const wsDirectory = dirname(require.resolve('ws/package.json'));

/** `require('ws/lib/<name>')`, by file path so that the exports map does not refuse it. */
export function requireWsModule(
  name: 'receiver' | 'constants' | 'permessage-deflate' | 'extension' | 'sender',
): unknown {
  return require(join(wsDirectory, 'lib', `${name}.js`)) as unknown;
}
