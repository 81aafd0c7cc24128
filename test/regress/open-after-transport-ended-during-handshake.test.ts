// Owns the regression for a driver-pair fuzz counterexample: a server driver whose transport ends while it
// writes its 101 response must stay closed, not open afterwards.

import { describe, expect, it } from 'vitest';
import * as hybi from '../../src/index.js';
import { upgradeRequest } from '../support/upgrade-request.js';

describe('the transport ending during the 101 response', () => {
  // Found by fuzz/properties/driver-pair.test.ts (synchronous wiring, transport cut from the client's 'open'
  // listener): ServerDriver.start() writes the 101 and then calls open() without checking that the
  // driver is still connecting, so a 'close' 1006 emitted during the write is followed by 'open',
  // readyState 1 again, held frames parsed and frames written after the close. Fixed: Driver.open()
  // (src/driver/driver.ts) now returns at once unless readyState is still 0.
  it('reports close 1006 once and never opens or writes afterwards', () => {
    const driver = hybi.http(upgradeRequest());
    const seen: string[] = [];
    driver.io.on('data', (chunk: Buffer) => {
      const isResponse = chunk.toString('latin1').startsWith('HTTP/1.1 101');
      seen.push(isResponse ? 'wrote 101' : `wrote ${chunk.length} bytes`);
      // A peer wired in memory that goes away as soon as it has the response.
      if (isResponse) driver.io.end();
    });
    driver.on('open', () => seen.push('open'));
    driver.on('close', (event) => seen.push(`close ${event.code}`));
    driver.start();
    // RFC 6455 §7.1.5: the connection closed without a close frame; nothing is sent on it any more.
    expect(driver.text('late')).toBe(false);
    expect(seen).toEqual(['wrote 101', 'close 1006']);
    expect(driver.readyState).toBe(3);
  });
});
