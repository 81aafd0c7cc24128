// Owns the regression for server()'s `url` and `body`: websocket-driver gives the request target and the
// bytes after the head; hybi gave an absolute URL (so routing on the path broke) and no body.

import { describe, expect, it } from 'vitest';
import * as hybi from '../../src/index.js';
import { rawUpgradeRequest } from '../support/upgrade-request.js';
import { faye } from '../support/websocket-driver.js';

describe('a raw-socket server driver once the request head is parsed', () => {
  // Found trying websocket-driver's README examples on hybi (issue 13, item 3).
  it('has the request target as url and the bytes after the head as body, as websocket-driver', () => {
    const request = rawUpgradeRequest('example.com', '/form?a=1');
    const seen: unknown[] = [];
    for (const driver of [hybi.server(), faye.server()]) {
      driver.on('connect', () => seen.push([driver.url, Buffer.isBuffer(driver.body), driver.body?.length]));
      driver.io.write(Buffer.from(`${request}abc`, 'latin1'));
    }
    expect(seen).toEqual([
      ['/form?a=1', true, 3],
      ['/form?a=1', true, 3],
    ]);
  });

  it('keeps body as the bytes that arrived, though parsing unmasks them in place', () => {
    const driver = hybi.server();
    const frame = Buffer.from([0x81, 0x82, 1, 2, 3, 4, 0x68 ^ 1, 0x69 ^ 2]);
    const messages: string[] = [];
    driver.on('connect', () => driver.start());
    driver.on('message', (event) => messages.push(String(event.data)));
    driver.io.on('data', () => {});
    driver.io.write(Buffer.concat([Buffer.from(rawUpgradeRequest('example.com', '/')), frame]));
    expect(messages).toEqual(['hi']);
    expect([...(driver.body ?? [])]).toEqual([...frame]);
    // The WebSocket class and adapters still see the absolute URL.
    expect(driver.absoluteUrl).toBe('ws://example.com/');
  });
});
