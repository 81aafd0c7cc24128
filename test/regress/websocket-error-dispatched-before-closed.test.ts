// Found by the WebSocket differential (fuzz/properties/websocket-differential.test.ts): 'error' was
// dispatched where the failure was found, with readyState CLOSING (2), and inside close() for a connection
// still connecting. The standard dispatches it when the connection is closed: readyState CLOSED (3), then
// 'error', then 'close', in one task (WHATWG WebSockets §"Feedback from the protocol").

import { afterEach, expect, it } from 'vitest';
import { ScriptedServer, type ServerScript } from '../../fuzz/support/scripted-server.js';
import { WebSocket } from '../../src/index.js';

let server: ScriptedServer | undefined;
afterEach(async () => {
  await server?.close();
});

function events(socket: WebSocket): Promise<string[]> {
  const seen: string[] = [];
  socket.onerror = () => seen.push(`error ${socket.readyState}`);
  return new Promise((resolve) => {
    socket.onclose = (event) => {
      seen.push(`close ${socket.readyState} ${event.code}`);
      resolve(seen);
    };
  });
}

const base: Omit<ServerScript, 'steps'> = {
  handshake: { kind: 'accept' },
  isFirstWriteWithHandshake: false,
  isEndAfterHandshake: false,
  splitter: { kind: 'whole' },
};

it("dispatches 'error' with readyState CLOSED right before 'close' on a protocol error", async () => {
  server = await ScriptedServer.start();
  const recorded = server.expect({ ...base, steps: [{ kind: 'write', frames: [{ kind: 'bad-rsv' }] }] });
  const socket = new WebSocket(server.url);
  expect(await events(socket)).toEqual(['error 3', 'close 3 1002']);
  await recorded;
});

it("dispatches 'error' after close() returns, not inside it, for a connection still connecting", async () => {
  server = await ScriptedServer.start();
  const socket = new WebSocket(server.url);
  const seen = events(socket);
  socket.close();
  const afterCall = await Promise.race([seen, Promise.resolve('close() returned first')]);
  expect(afterCall).toBe('close() returned first');
  expect(await seen).toEqual(['error 3', 'close 3 1006']);
});
