// Owns the regression for the reply to a peer's close: websocket-driver and ws echo its code and its
// reason; hybi echoed only the code.

import { describe, expect, it } from 'vitest';
import * as hybi from '../../src/index.js';
import { Connection } from '../../src/protocol/index.js';
import { upgradeRequest } from '../support/upgrade-request.js';
import { faye } from '../support/websocket-driver.js';

describe("the reply to the peer's close", () => {
  // Found comparing hybi with websocket-driver and ws (issue 13, item 6). RFC 6455 §5.5.1 asks only that
  // the code be echoed, but a drop-in does what the original does.
  it('echoes the code and the reason, as websocket-driver does', () => {
    const replies: string[] = [];
    for (const driver of [hybi.http(upgradeRequest()), faye.http(upgradeRequest())]) {
      const written: Buffer[] = [];
      driver.io.on('data', (chunk: Buffer) => written.push(chunk));
      driver.start();
      written.length = 0;
      const peer = new Connection({ role: 'client' });
      driver.io.write(Buffer.concat(peer.sendClose(4000, 'done here')));
      const reply = peer.receive(Buffer.concat(written));
      replies.push(JSON.stringify(reply));
    }
    expect(replies[0]).toBe(JSON.stringify([{ type: 'close', code: 4000, reason: 'done here' }]));
    expect(replies[1]).toBe(replies[0]);
  });

  it('echoes no body to a close that had none', () => {
    const server = new Connection({ role: 'server' });
    const events = server.receive(Buffer.from([0x88, 0x80, 1, 2, 3, 4]));
    const write = events.find((event) => event.type === 'write');
    expect(write?.type === 'write' ? [...Buffer.concat(write.data)] : undefined).toEqual([0x88, 0x00]);
  });
});
