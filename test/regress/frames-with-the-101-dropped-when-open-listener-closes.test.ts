// Owns the regression for frames that arrive in the same read as the server's 101: a client whose 'open'
// listener calls close() dropped them, the peer's close reply among them, so the closing handshake hung.

import { describe, expect, it } from 'vitest';
import * as hybi from '../../src/index.js';
import { Connection, computeAcceptKey } from '../../src/protocol/index.js';

describe("frames that came with the 101, when the 'open' listener closes", () => {
  // Found by fuzz/properties/driver-differential.test.ts (client mode: the 101 and a pong in one
  // delivery, close() in 'open'): Driver.open() returned before reading the held frames unless
  // readyState was still 1. websocket-driver reads them. Fixed: open() skips them only once closed.
  it('are still read: the peer close that came with them completes the closing handshake', () => {
    const driver = hybi.client('ws://example.com/');
    let request = '';
    driver.io.on('data', (chunk: Buffer) => {
      if (request === '') request = chunk.toString('latin1');
    });
    const seen: string[] = [];
    driver.on('open', () => driver.close('bye', 4000));
    driver.on('pong', (event) => seen.push(`pong ${event.data}`));
    driver.on('close', (event) => seen.push(`close ${event.code} ${event.reason}`));
    driver.start();
    const key = /Sec-WebSocket-Key: (.+)\r\n/i.exec(request)?.[1] ?? '';
    const server = new Connection({ role: 'server' });
    driver.io.write(
      Buffer.concat([
        Buffer.from(
          'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            `Sec-WebSocket-Accept: ${computeAcceptKey(key)}\r\n\r\n`,
        ),
        ...server.sendPong('hb'),
        ...server.sendClose(4000, 'bye'),
      ]),
    );
    expect(seen).toEqual(['pong hb', 'close 4000 bye']);
    expect(driver.readyState).toBe(3);
  });
});
