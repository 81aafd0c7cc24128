// Owns the check that src/ imports only downward (DESIGN.md): no module imports another that imports it
// back, directly or in a longer circle, type-only imports included; the floors below src/node (the
// protocol core, extensions, the session, the Driver and WebSocket faces) import nothing of src/node; and
// the session under both faces imports neither of them.

import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SOURCE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');

/** Module path (relative to its root, `/`-separated) to the relative modules it imports. */
type ImportGraph = Map<string, string[]>;

/**
 * Every relative specifier a TypeScript file imports or re-exports: `import … from`, `import type … from`,
 * `export … from`, a bare `import './x.js'` and `import('./x.js')`. Statements spread over several lines
 * are matched whole; lines of a doc comment (` * import …`) are not statements.
 */
function importedSpecifiers(text: string): string[] {
  const statement = /(?:^|[;\n])[ \t]*(?:import|export)\b[^;'"]*?\bfrom\s*['"]([^'"]+)['"]/g;
  const bare = /(?:^|[;\n])[ \t]*import\s*['"]([^'"]+)['"]/g;
  const dynamic = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;
  const specifiers: string[] = [];
  for (const pattern of [statement, bare, dynamic]) {
    for (const match of text.matchAll(pattern)) {
      const specifier = match[1];
      if (specifier?.startsWith('.') === true) specifiers.push(specifier);
    }
  }
  return specifiers;
}

/** `files`: path (relative to the root) to source text. Specifiers end in `.js` and name `.ts` files. */
function buildGraph(files: ReadonlyMap<string, string>): ImportGraph {
  const graph: ImportGraph = new Map();
  for (const [path, text] of files) {
    const targets = importedSpecifiers(text).map((specifier) =>
      join(dirname(path), specifier.replace(/\.js$/, '.ts')).split('\\').join('/'),
    );
    graph.set(path, [...new Set(targets)]);
  }
  return graph;
}

/** The import circles: strongly connected components of more than one module, or a module importing itself (Tarjan). */
function findCycles(graph: ImportGraph): string[][] {
  let nextIndex = 0;
  const indexOf = new Map<string, number>();
  const lowLink = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (module: string): void => {
    indexOf.set(module, nextIndex);
    lowLink.set(module, nextIndex);
    nextIndex++;
    stack.push(module);
    onStack.add(module);
    for (const target of graph.get(module) ?? []) {
      if (!graph.has(target)) continue;
      if (!indexOf.has(target)) {
        visit(target);
        lowLink.set(module, Math.min(lowLink.get(module)!, lowLink.get(target)!));
      } else if (onStack.has(target)) {
        lowLink.set(module, Math.min(lowLink.get(module)!, indexOf.get(target)!));
      }
    }
    if (lowLink.get(module) !== indexOf.get(module)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== module);
    if (component.length > 1 || (graph.get(module) ?? []).includes(module)) cycles.push(component.sort());
  };
  for (const module of graph.keys()) if (!indexOf.has(module)) visit(module);
  return cycles;
}

function readSources(root: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const path = join(entry.parentPath, entry.name);
    files.set(relative(root, path).split('\\').join('/'), readFileSync(path, 'utf8'));
  }
  return files;
}

describe('the import checker', () => {
  it('reads single-line, multi-line, type-only, re-export, bare and dynamic imports, and not doc comments', () => {
    const text = [
      "import { a } from './a.js';",
      'import {',
      '  type B,',
      '  c,',
      "} from '../b.js';",
      "import type { D } from './d.js';",
      "export { e } from './e.js';",
      "export type { F } from './f.js';",
      "import './g.js';",
      "const h = await import('./h.js');",
      "import net from 'node:net';",
      " * import { WebSocket } from './not-a-statement.js';",
    ].join('\n');
    expect(importedSpecifiers(text).sort()).toEqual(
      ['../b.js', './a.js', './d.js', './e.js', './f.js', './g.js', './h.js'].sort(),
    );
  });

  it('finds a circle through a type-only import, and none in a graph that only goes down', () => {
    const circular = new Map([
      ['websocket.ts', "import { open } from './node/client.js';"],
      ['node/client.ts', "import type { WebSocket } from '../websocket.js';"],
      ['protocol/frame.ts', ''],
    ]);
    expect(findCycles(buildGraph(circular))).toEqual([['node/client.ts', 'websocket.ts']]);
    const downward = new Map([
      ['websocket.ts', "import { frame } from './protocol/frame.js';"],
      ['node/client.ts', "import type { WebSocket } from '../websocket.js';"],
      ['protocol/frame.ts', ''],
    ]);
    expect(findCycles(buildGraph(downward))).toEqual([]);
  });
});

describe('the imports of src/', () => {
  const graph = buildGraph(readSources(SOURCE_ROOT));

  it('reads every module of src/', () => {
    // A guard against a checker that reads nothing and so finds nothing.
    expect(graph.has('websocket.ts')).toBe(true);
    expect(graph.has('node/client.ts')).toBe(true);
    expect(graph.get('node/client.ts')).toContain('websocket-transport.ts');
  });

  it('have no import circle, type-only imports included', () => {
    expect(findCycles(graph)).toEqual([]);
  });

  it('of the floors below src/node (protocol, extensions, session, driver, the WebSocket face) name nothing of src/node', () => {
    const upward: string[] = [];
    for (const [module, targets] of graph) {
      if (
        module.startsWith('node/') ||
        !/^(protocol|extensions|session|driver)\/|^websocket[^/]*\.ts$/.test(module)
      )
        continue;
      for (const target of targets) if (target.startsWith('node/')) upward.push(`${module} -> ${target}`);
    }
    expect(upward).toEqual([]);
  });

  it('of the session name neither face (Driver, WebSocket) nor any transport', () => {
    expect(graph.has('session/session.ts')).toBe(true);
    const upward: string[] = [];
    for (const [module, targets] of graph) {
      if (!module.startsWith('session/')) continue;
      for (const target of targets) {
        if (!/^(protocol|extensions|session)\//.test(target)) upward.push(`${module} -> ${target}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('of the protocol core name neither face nor any transport', () => {
    const upward: string[] = [];
    for (const [module, targets] of graph) {
      if (!module.startsWith('protocol/')) continue;
      for (const target of targets) {
        if (!target.startsWith('protocol/') && !target.startsWith('extensions/'))
          upward.push(`${module} -> ${target}`);
      }
    }
    expect(upward).toEqual([]);
  });
});
