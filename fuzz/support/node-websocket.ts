// Owns the parent's side of the child process that runs Node's own WebSocket: starting it, one plan at a
// time over IPC, stopping it.

import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { PlayRequest } from './node-websocket-child.js';
import type { ClientPlan, TraceEntry } from './websocket-player.js';

type PlayAnswer = { id: number; trace: TraceEntry[] } | { id: number; error: string };

/** Node's WebSocket (undici) in a child started with --experimental-websocket. */
export class NodeWebSocketRunner {
  private readonly child: ChildProcess;
  private nextId = 0;
  private readonly waiting = new Map<number, (answer: PlayAnswer) => void>();

  private constructor(child: ChildProcess) {
    this.child = child;
    child.on('message', (answer: PlayAnswer) => {
      const resolve = this.waiting.get(answer.id);
      this.waiting.delete(answer.id);
      resolve?.(answer);
    });
    // A child that dies fails the plans it had, rather than leaving them waiting.
    child.on('exit', (code, signal) => {
      for (const [id, resolve] of this.waiting) resolve({ id, error: `exited (${code ?? signal})` });
      this.waiting.clear();
    });
  }

  static start(): NodeWebSocketRunner {
    const child = fork(fileURLToPath(new URL('./node-websocket-child.ts', import.meta.url)), [], {
      execArgv: ['--experimental-websocket', '--no-warnings', '--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      // Structured clone, not JSON: plans hold undefined and NaN.
      serialization: 'advanced',
    });
    return new NodeWebSocketRunner(child);
  }

  /** Plays `plan` in the child; `serverGone` resolves when the server saw the connection end. */
  async play(url: string, plan: ClientPlan, serverGone: Promise<void>): Promise<TraceEntry[]> {
    const id = this.nextId++;
    const answer = await new Promise<PlayAnswer>((resolve) => {
      this.waiting.set(id, resolve);
      this.child.send({ kind: 'play', id, url, plan } satisfies PlayRequest);
      void serverGone.then(() => {
        if (this.child.connected) this.child.send({ kind: 'gone', id } satisfies PlayRequest);
      });
    });
    if ('error' in answer) throw new Error(`Node's WebSocket child: ${answer.error}`);
    return answer.trace;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.disconnect();
    await exited;
  }
}
