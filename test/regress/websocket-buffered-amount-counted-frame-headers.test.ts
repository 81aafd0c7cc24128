// Found by the WebSocket differential (fuzz/properties/websocket-differential.test.ts): bufferedAmount read
// the socket's buffer, frame headers and our own close frame included. `send('a')` made it 7 (or 0 once the
// socket took the write), and close() added 8. The standard counts application data only, and all of what
// was sent in the current task (WHATWG WebSockets §bufferedAmount), as Node's own WebSocket does.

import { afterEach, expect, it } from 'vitest';
import { ScriptedServer } from '../../fuzz/support/scripted-server.js';
import { WebSocket } from '../../src/index.js';

let server: ScriptedServer | undefined;
afterEach(async () => {
  await server?.close();
});

it('counts the bytes passed to send() in this task, without frame headers or the close frame', async () => {
  server = await ScriptedServer.start();
  const recorded = server.expect({
    handshake: { kind: 'accept' },
    isFirstWriteWithHandshake: false,
    isEndAfterHandshake: false,
    steps: [],
    splitter: { kind: 'whole' },
  });
  const socket = new WebSocket(server.url);
  const amounts: number[] = [];
  socket.onopen = () => {
    socket.send('a');
    amounts.push(socket.bufferedAmount);
    socket.send(new Uint8Array([1, 2, 3]));
    amounts.push(socket.bufferedAmount);
    socket.close(1000);
    amounts.push(socket.bufferedAmount);
  };
  const closed = new Promise<number>((resolve) => {
    socket.onclose = () => resolve(socket.bufferedAmount);
  });
  const atClose = await closed;
  expect(amounts).toEqual([1, 4, 4]);
  // Everything left before the connection closed.
  expect(atClose).toBe(0);
  const record = await recorded;
  expect(record.frames.map((frame) => [frame.opcode, frame.payload])).toEqual([
    [1, 'a'],
    [2, '010203'],
    [8, '1000 '],
  ]);
});
