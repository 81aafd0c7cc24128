// Found by the WebSocket differential (fuzz/properties/websocket-differential.test.ts): close() without a
// code sent 1000, where the standard says a close frame without a body (WHATWG WebSockets §close(): "if
// code is null and reason is null, the WebSocket Close frame must not have a body"), as Node's own
// WebSocket sends. close(undefined, reason) still sends 1000 with the reason.

import { afterEach, expect, it } from 'vitest';
import { ScriptedServer, type ServerScript } from '../../fuzz/support/scripted-server.js';
import { WebSocket } from '../../src/index.js';

let server: ScriptedServer | undefined;
afterEach(async () => {
  await server?.close();
});

const SCRIPT: ServerScript = {
  handshake: { kind: 'accept' },
  isFirstWriteWithHandshake: false,
  isEndAfterHandshake: false,
  steps: [],
  splitter: { kind: 'whole' },
};

async function closeWith(close: (socket: WebSocket) => void) {
  server = await ScriptedServer.start();
  const recorded = server.expect(SCRIPT);
  const socket = new WebSocket(server.url);
  socket.onopen = () => close(socket);
  const event = await new Promise<{ code: number; wasClean: boolean }>((resolve) => {
    socket.onclose = (closeEvent) => resolve({ code: closeEvent.code, wasClean: closeEvent.wasClean });
  });
  const record = await recorded;
  await server.close();
  server = undefined;
  return { event, frames: record.frames.map((frame) => [frame.opcode, frame.payload]) };
}

it('sends a close frame without a body for close() and hears 1005 back', async () => {
  const { event, frames } = await closeWith((socket) => socket.close());
  expect(frames).toEqual([[8, '']]);
  expect(event).toEqual({ code: 1005, wasClean: true });
});

it('sends 1000 and the reason for close(undefined, reason)', async () => {
  const { event, frames } = await closeWith((socket) => socket.close(undefined, 'bye'));
  expect(frames).toEqual([[8, '1000 bye']]);
  expect(event).toEqual({ code: 1000, wasClean: true });
});
