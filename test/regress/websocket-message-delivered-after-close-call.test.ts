// Found by the WebSocket differential (fuzz/properties/websocket-differential.test.ts): a message that
// arrived after the application called close() was still dispatched (readyState CLOSING). The standard
// drops it: "if ready state is not OPEN, then return" (WHATWG WebSockets §"Feedback from the protocol");
// Node's own WebSocket does too.

import { afterEach, expect, it } from 'vitest';
import { ScriptedServer } from '../../fuzz/support/scripted-server.js';
import { WebSocket } from '../../src/index.js';

let server: ScriptedServer | undefined;
afterEach(async () => {
  await server?.close();
});

it('does not dispatch messages that arrive once close() was called', async () => {
  server = await ScriptedServer.start();
  const recorded = server.expect({
    handshake: { kind: 'accept' },
    isFirstWriteWithHandshake: false,
    isEndAfterHandshake: false,
    // Both in one write: the second is parsed after the first one's handler called close().
    steps: [
      {
        kind: 'write',
        frames: [
          { kind: 'text', text: 'first' },
          { kind: 'text', text: 'second' },
        ],
      },
    ],
    splitter: { kind: 'whole' },
  });
  const socket = new WebSocket(server.url);
  const messages: string[] = [];
  socket.onmessage = (event) => {
    messages.push(`${event.data} ${socket.readyState}`);
    socket.close(1000);
  };
  const code = await new Promise<number>((resolve) => {
    socket.onclose = (event) => resolve(event.code);
  });
  expect(messages).toEqual(['first 1']);
  expect(code).toBe(1000);
  await recorded;
});
