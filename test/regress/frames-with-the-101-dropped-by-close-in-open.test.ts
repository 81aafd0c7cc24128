// Found by the WebSocket differential (fuzz/properties/websocket-differential.test.ts): bytes of a frame
// that came in the same chunk as the 101 were dropped when the 'open' handler called close(), and the
// rest of that frame, arriving next, was read as a new frame: the connection failed with 1002 ("Received
// a masked frame from a server") instead of closing cleanly. The driver read the held bytes only while
// OPEN; a closing connection still reads the peer's frames until its close frame (RFC 6455 §7.1.2).

import { afterEach, expect, it } from 'vitest';
import { ScriptedServer } from '../../fuzz/support/scripted-server.js';
import { WebSocket } from '../../src/index.js';

let server: ScriptedServer | undefined;
afterEach(async () => {
  await server?.close();
});

it("closes cleanly when the 'open' handler closes while a frame is cut just after the 101", async () => {
  server = await ScriptedServer.start();
  const recorded = server.expect({
    handshake: { kind: 'accept' },
    isFirstWriteWithHandshake: true,
    isEndAfterHandshake: false,
    // The 101 and the start of a binary frame in one chunk, the rest of the frame in the next: the
    // scripted 101 is 129 bytes (its Sec-WebSocket-Accept is always 28 characters), so cut 3 bytes on.
    steps: [
      { kind: 'write', frames: [{ kind: 'binary', bytes: [0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87] }] },
    ],
    splitter: { kind: 'cuts', offsets: [129 + 3] },
  });
  const socket = new WebSocket(server.url);
  socket.binaryType = 'arraybuffer';
  const seen: string[] = [];
  socket.onopen = () => socket.close(4000);
  socket.onmessage = () => seen.push('message');
  socket.onerror = () => seen.push('error');
  const event = await new Promise<{ code: number; wasClean: boolean }>((resolve) => {
    socket.onclose = (closeEvent) => resolve({ code: closeEvent.code, wasClean: closeEvent.wasClean });
  });
  expect(seen).toEqual([]);
  expect(event).toEqual({ code: 4000, wasClean: true });
  await recorded;
});
