// Owns the regression for messages accepted before 'open': websocket-driver writes them before it emits
// 'open', so they precede what the 'open' listener sends and survive a close() made there.

import { describe, expect, it } from 'vitest';
import * as hybi from '../../src/index.js';
import { Connection, type ConnectionEvent, computeAcceptKey } from '../../src/protocol/index.js';
import { upgradeRequest } from '../support/upgrade-request.js';

/** What a peer reads from `frames`: texts, and the close with its code. */
function read(role: 'client' | 'server', frames: Buffer[]): string[] {
  const peer = new Connection({ role, autoCloseReply: false });
  return peer
    .receive(Buffer.concat(frames))
    .filter(
      (event): event is Extract<ConnectionEvent, { type: 'text' | 'close' }> =>
        event.type === 'text' || event.type === 'close',
    )
    .map((event) => (event.type === 'text' ? event.data : `close ${event.code}`));
}

/** A client driver opened by a server's 101; returns the frames it wrote after its request. */
function openClient(onOpen: (driver: hybi.ClientDriver) => void): string[] {
  const driver = hybi.client('ws://example.com/');
  const frames: Buffer[] = [];
  let request = '';
  driver.io.on('data', (chunk: Buffer) => {
    if (request === '') request = chunk.toString('latin1');
    else frames.push(chunk);
  });
  driver.text('1');
  driver.start();
  driver.text('2');
  driver.on('open', () => onOpen(driver));
  const key = /Sec-WebSocket-Key: (.+)\r\n/i.exec(request)?.[1] ?? '';
  driver.io.write(
    Buffer.from(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${computeAcceptKey(key)}\r\n\r\n`,
    ),
  );
  return read('server', frames);
}

describe('messages queued before the opening handshake ends', () => {
  // Found trying websocket-driver's own usage on hybi (issue 13, items 1 and 2): Driver.open() emitted
  // 'open' before writing its queue, so the listener's message went first, and a close() there left the
  // queue unsent although text() had returned true. websocket-driver 0.8 sends 1, 2, 3 and 1, 2, close.
  it('go out before a message the client sends in its open listener', () => {
    expect(openClient((driver) => driver.text('3'))).toEqual(['1', '2', '3']);
  });

  it('go out before the close frame when the open listener closes', () => {
    expect(openClient((driver) => driver.close())).toEqual(['1', '2', 'close 1000']);
  });

  it('go out first from an http() server driver too', () => {
    const driver = hybi.http(upgradeRequest());
    const frames: Buffer[] = [];
    driver.io.on('data', (chunk: Buffer) => {
      if (!chunk.toString('latin1').startsWith('HTTP/1.1 101')) frames.push(chunk);
    });
    driver.text('queued');
    driver.on('open', () => {
      driver.text('in open');
      driver.close();
    });
    driver.start();
    expect(read('client', frames)).toEqual(['queued', 'in open', 'close 1000']);
  });
});
