// Owns the child process that plays plans on Node's own WebSocket (undici's; Node 20 has it only behind
// --experimental-websocket, and not in vitest's workers): plans arrive over IPC, traces go back.

import { type ClientPlan, playPlan, type WebSocketConstructor } from './websocket-player.js';

/** From the parent: play `plan` against `url` and answer with the same `id`; or, the server saw `id`'s connection end. */
export type PlayRequest =
  | { kind: 'play'; id: number; url: string; plan: ClientPlan }
  | { kind: 'gone'; id: number };

const NodeWebSocket = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;

const gone = new Map<number, () => void>();
/** The plan being played: one at a time, so that an uncaught exception is that plan's. */
let crash: ((message: string) => void) | undefined;

// undici 6.24 throws out of its handshake code when a server selects a subprotocol the client offered
// none of: record it as the plan's outcome and go on serving plans.
process.on('uncaughtException', (error) => {
  const report = crash;
  crash = undefined;
  if (report === undefined) throw error;
  report(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
});

process.on('message', (request: PlayRequest) => {
  if (request.kind === 'gone') {
    gone.get(request.id)?.();
    gone.delete(request.id);
    return;
  }
  if (NodeWebSocket === undefined) {
    process.send?.({
      id: request.id,
      error: 'globalThis.WebSocket is absent: run with --experimental-websocket',
    });
    return;
  }
  const serverGone = new Promise<void>((resolve) => gone.set(request.id, resolve));
  const crashed = new Promise<string>((resolve) => {
    crash = resolve;
  });
  playPlan(NodeWebSocket, request.url, request.plan, serverGone, crashed).then(
    (trace) => process.send?.({ id: request.id, trace }),
    (error: unknown) => process.send?.({ id: request.id, error: String(error) }),
  );
});
// The parent's disconnect ends the child.
process.on('disconnect', () => process.exit(0));
