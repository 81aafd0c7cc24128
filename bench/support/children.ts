// Owns the child processes the benchmarks start: TypeScript entry points run with tsx, each bounded in
// time, every one killed when the parent exits, and their results read from a marked stdout line.

import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** A child prints its result as one line starting with this; anything else it prints is passed through. */
export const RESULT_MARKER = '@@bench-result ';

const running = new Set<ChildProcess>();
let isCleanupInstalled = false;

function installCleanup(): void {
  if (isCleanupInstalled) return;
  isCleanupInstalled = true;
  const killAll = () => {
    for (const child of running) child.kill('SIGKILL');
    running.clear();
  };
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killAll();
      process.exit(130);
    });
  }
}

export interface ChildOptions {
  /** Extra environment on top of this process's. */
  env?: Readonly<Record<string, string>>;
  /** Extra node flags, e.g. --expose-gc. */
  nodeArguments?: readonly string[];
  /** The child is killed after this many milliseconds and the call fails. */
  timeoutMs: number;
  /** Called with each result line's parsed JSON as it arrives (children that report several). */
  onResult?: (result: unknown) => void;
}

/** A running child: its process, and a promise of the result lines it printed once it exits. */
export interface RunningChild {
  process: ChildProcess;
  /** Resolves with every result line (parsed) once the child exits with code 0; rejects otherwise. */
  done: Promise<unknown[]>;
  /** Writes one command line to the child's stdin. */
  send(command: string): void;
  /** The next result line not yet taken (waiting for it if need be); rejects after `timeoutMs`. */
  nextResult(timeoutMs: number): Promise<unknown>;
  /** Closes the child's stdin (children that read commands exit then) and waits for it to exit. */
  stop(): Promise<void>;
}

/** Starts `node --import tsx <script> ...args`; `script` is a file URL or path relative to this module's URL base. */
export function startChild(
  script: string | URL,
  args: readonly string[],
  options: ChildOptions,
): RunningChild {
  installCleanup();
  const scriptPath = script instanceof URL ? fileURLToPath(script) : script;
  const child = spawn(
    process.execPath,
    [...(options.nodeArguments ?? []), '--import', 'tsx', scriptPath, ...args],
    {
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  running.add(child);
  child.stdin!.on('error', () => {});
  const results: unknown[] = [];
  let taken = 0;
  let hasExited = false;
  const waiters: (() => void)[] = [];
  let pending = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (text: string) => {
    pending += text;
    let newline = pending.indexOf('\n');
    while (newline !== -1) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      if (line.startsWith(RESULT_MARKER)) {
        const result: unknown = JSON.parse(line.slice(RESULT_MARKER.length));
        results.push(result);
        options.onResult?.(result);
        for (const waiter of waiters.splice(0)) waiter();
      } else if (line.length > 0) {
        process.stderr.write(`  ${line}\n`);
      }
      newline = pending.indexOf('\n');
    }
  });
  const done = new Promise<unknown[]>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${scriptPath} ${args.join(' ')}: killed after ${options.timeoutMs} ms`));
    }, options.timeoutMs);
    // 'close', not 'exit': by then stdout has been read to its end.
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      hasExited = true;
      for (const waiter of waiters.splice(0)) waiter();
      if (code === 0) resolve(results);
      else reject(new Error(`${scriptPath} ${args.join(' ')}: exited with ${signal ?? code}`));
    });
  });
  const nextResult = (timeoutMs: number): Promise<unknown> =>
    new Promise((resolve, reject) => {
      let isSettled = false;
      const timer = setTimeout(() => {
        isSettled = true;
        reject(new Error(`${scriptPath}: no result within ${timeoutMs} ms`));
      }, timeoutMs);
      const take = () => {
        if (isSettled) return;
        if (taken < results.length) {
          clearTimeout(timer);
          resolve(results[taken++]);
        } else if (hasExited) {
          clearTimeout(timer);
          reject(new Error(`${scriptPath} exited without a result`));
        } else {
          waiters.push(take);
        }
      };
      take();
    });
  return {
    process: child,
    done,
    send: (command) => void child.stdin!.write(`${command}\n`),
    nextResult,
    stop: async () => {
      child.stdin!.end();
      await done.catch(() => {});
    },
  };
}

/** Runs a child to completion and returns its result lines. */
export function runChild(
  script: string | URL,
  args: readonly string[],
  options: ChildOptions,
): Promise<unknown[]> {
  return startChild(script, args, options).done;
}

/** In a child: report one result to the parent. */
export function reportResult(result: unknown): void {
  process.stdout.write(`${RESULT_MARKER}${JSON.stringify(result)}\n`);
}
