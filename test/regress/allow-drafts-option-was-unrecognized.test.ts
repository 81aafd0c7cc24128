// Owns the regression for websocket-driver's documented `allowDrafts` option, which hybi refused.

import { describe, expect, it } from 'vitest';
import * as hybi from '../../src/index.js';
import { upgradeRequest } from '../support/upgrade-request.js';

// A hixie-76 request (draft-ietf-hybi-thewebsocketprotocol-00 §1.2's example) with its 8-byte key3.
const DRAFT_76_REQUEST =
  'GET /demo HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\nSec-WebSocket-Protocol: sample\r\nUpgrade: WebSocket\r\n' +
  'Sec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\nOrigin: http://example.com\r\n\r\n^n:ds[4U';

describe('the allowDrafts option', () => {
  // Found running websocket-driver's README options on hybi (issue 13, item 4): `allowDrafts: true` threw
  // "Unrecognized option". hybi speaks RFC 6455 only, so a draft request is refused either way.
  for (const allowDrafts of [true, false]) {
    it(`is accepted as ${allowDrafts} and a draft-76 request gets 426 with Sec-WebSocket-Version: 13`, () => {
      const driver = hybi.server({ allowDrafts });
      const written: string[] = [];
      const seen: string[] = [];
      driver.io.on('data', (chunk: Buffer) => written.push(chunk.toString('latin1')));
      driver.on('connect', () => driver.start());
      driver.on('open', () => seen.push('open'));
      driver.on('error', () => seen.push('error'));
      driver.on('close', (event) => seen.push(`close ${event.code}`));
      driver.io.write(Buffer.from(DRAFT_76_REQUEST, 'latin1'));
      expect(written[0]?.split('\r\n')[0]).toBe('HTTP/1.1 426 Upgrade Required');
      expect(written[0]).toContain('\r\nSec-WebSocket-Version: 13\r\n');
      expect(seen).toEqual(['error', 'close 1002']);
      expect(() => hybi.http(upgradeRequest(), { allowDrafts })).not.toThrow();
      expect(() => hybi.client('ws://example.com/', { allowDrafts })).not.toThrow();
    });
  }
});
