// Owns the regression for a driver-pair fuzz counterexample: bytes written into a server driver re-entrantly,
// while it parses the frames it held during its handshake, must not jump ahead of the held frames.

import { describe, expect, it } from 'vitest';
import * as hybi from '../../src/index.js';
import { Connection } from '../../src/protocol/connection.js';
import { upgradeRequest } from '../support/upgrade-request.js';

describe('frames held before open', () => {
  // Found by fuzz/properties/driver-pair.test.ts with synchronous wiring: a client that sends in its 'open'
  // listener gets its frames held by the server, which is still writing its 101; the server's echo of the
  // first makes the client send again before the server has parsed the second. Fixed: Driver.open() now
  // queues every held chunk before reading any, and bytes written while events are read only join the queue.
  it('delivers messages in wire order when a listener causes more bytes to arrive re-entrantly', () => {
    const driver = hybi.http(upgradeRequest());
    const peer = new Connection({ role: 'client' });
    const frame = (text: string): Buffer => Buffer.concat(peer.sendText(text));
    const seen: string[] = [];
    driver.on('message', (event) => {
      seen.push(String(event.data));
      // A peer wired synchronously (an in-memory pipe) answers at once.
      if (event.data === 'first') driver.io.write(frame('third'));
    });
    driver.io.write(frame('first'));
    driver.io.write(frame('second'));
    driver.start();
    // RFC 6455 §5.4 / TCP: messages are delivered in the order their bytes arrived.
    expect(seen).toEqual(['first', 'second', 'third']);
  });
});
