// Owns the regression for a driver-pair fuzz counterexample: with permessage-deflate, a message accepted by
// send() must still be written when the peer's close frame arrives while it is being compressed.

import { describe, expect, it } from 'vitest';
import * as hybi from '../../src/index.js';
import { Connection } from '../../src/protocol/connection.js';
import { upgradeRequest } from '../support/upgrade-request.js';

describe('a peer close during compression', () => {
  // Found by fuzz/properties/driver-pair.test.ts: the server echoed a message (send() returned true), the
  // client's close frame arrived while zlib was still compressing the echo, and the Connection's close reply
  // was written at once; the compressed echo then found the connection closed and was dropped
  // (src/driver/driver.ts onOutgoingProcessed, `connection.canSend` false). Without permessage-deflate the
  // same message is written before the reply. Fixed: the driver now sends the reply itself, after messages
  // in flight, as a locally started close already did (RFC 6455 §5.5.1 lets the reply wait for them).
  it('writes a message still being compressed before the close reply', async () => {
    const driver = hybi.http(upgradeRequest({ 'sec-websocket-extensions': 'permessage-deflate' }), {
      perMessageDeflate: { threshold: 0 },
    });
    const written: Buffer[] = [];
    driver.io.on('data', (chunk: Buffer) => written.push(Buffer.from(chunk)));
    driver.start();
    written.length = 0;
    const closed = new Promise<void>((resolve) => driver.on('close', () => resolve()));

    expect(driver.text('hello')).toBe(true);
    driver.io.write(Buffer.concat(new Connection({ role: 'client' }).sendClose(1000)));
    await closed;
    // Let zlib finish, had it anything left to hand over.
    await new Promise((resolve) => setTimeout(resolve, 20));

    const reader = new Connection({ role: 'client' });
    reader.configureExtensions(0x40);
    const events = reader
      .receive(Buffer.concat(written))
      .map((event) => event.type)
      .filter((type) => type !== 'write');
    expect(events).toEqual(['extension-message', 'close']);
  });
});
