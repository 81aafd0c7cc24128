// Owns the regressions for small API values where hybi's Driver differed from websocket-driver 0.8: the
// 'open' event object, `protocol` before and without negotiation, `binary(string)`, a garbage response
// to a client, and the prototype of a client's `headers`. Each runs the same script on both libraries.

import { describe, expect, it } from 'vitest';
import * as hybi from '../../src/index.js';
import { Connection, computeAcceptKey } from '../../src/protocol/index.js';
import { upgradeRequest } from '../support/upgrade-request.js';
import { type FayeDriver, faye } from '../support/websocket-driver.js';

type AnyDriver = hybi.Driver | FayeDriver;

/** Starts `driver` (a client) and answers its request with a 101 and `extraHeaders`. */
function openClient(driver: AnyDriver, extraHeaders = ''): void {
  let request = '';
  driver.io.on('data', (chunk: Buffer) => {
    if (request === '') request = chunk.toString('latin1');
  });
  driver.start();
  const key = /Sec-WebSocket-Key: (.+)\r\n/i.exec(request)?.[1] ?? '';
  driver.io.write(
    Buffer.from(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${computeAcceptKey(key)}\r\n${extraHeaders}\r\n`,
    ),
  );
}

// Found trying websocket-driver's README and small scripts on hybi (issue 13, item 5).
describe('driver API values, the same on hybi as on websocket-driver', () => {
  it("gives 'open' listeners an event object", () => {
    const received: unknown[] = [];
    for (const driver of [hybi.client('ws://example.com/'), faye.client('ws://example.com/')]) {
      driver.on('open', (event: unknown) => received.push(typeof event === 'object' && event !== null));
      openClient(driver);
    }
    expect(received).toEqual([true, true]);
  });

  it('has protocol undefined before negotiation, undefined on a server that agreed none, null on such a client', () => {
    const values: unknown[] = [];
    for (const library of [hybi, faye] as const) {
      const client = library.client('ws://example.com/', { protocols: ['chat'] });
      values.push(client.protocol);
      openClient(client);
      values.push(client.protocol);
      const server = library.http(upgradeRequest({ 'sec-websocket-protocol': 'other' }), {
        protocols: ['chat'],
      });
      values.push(server.protocol);
    }
    expect(values).toEqual([undefined, null, undefined, undefined, null, undefined]);
  });

  it('sends a string given to binary() as its UTF-8 bytes in a binary frame', () => {
    const frames: Buffer[][] = [[], []];
    [hybi.http(upgradeRequest()), faye.http(upgradeRequest())].forEach((driver, index) => {
      driver.io.on('data', (chunk: Buffer) => {
        if (!chunk.toString('latin1').startsWith('HTTP/1.1')) frames[index]!.push(chunk);
      });
      driver.start();
      expect(driver.binary('héllo')).toBe(true);
    });
    const [hybiFrames, fayeFrames] = frames.map((list) => Buffer.concat(list).toString('hex'));
    expect(hybiFrames).toBe(fayeFrames);
    const events = new Connection({ role: 'client' }).receive(Buffer.from(hybiFrames!, 'hex'));
    expect(events).toEqual([{ type: 'binary', data: Buffer.from('héllo', 'utf8') }]);
  });

  it("reports 'error' and close 1002 as soon as a server answers with a garbage status line", () => {
    const seen: string[][] = [];
    for (const driver of [hybi.client('ws://example.com/'), faye.client('ws://example.com/')]) {
      const events: string[] = [];
      seen.push(events);
      driver.on('error', () => events.push('error'));
      driver.on('close', (event: { code: number }) => events.push(`close ${event.code}`));
      driver.io.on('data', () => {});
      driver.start();
      driver.io.write(Buffer.from('garbage\r\n'));
      events.push(`readyState ${driver.readyState}`);
    }
    expect(seen).toEqual([
      ['error', 'close 1002', 'readyState 3'],
      ['error', 'close 1002', 'readyState 3'],
    ]);
  });

  it('gives a client ordinary objects as headers, a __proto__ field staying a field', () => {
    const prototypes: unknown[] = [];
    for (const driver of [hybi.client('ws://example.com/'), faye.client('ws://example.com/')]) {
      openClient(driver, 'X-Extra: 1\r\n');
      prototypes.push(
        Object.getPrototypeOf(driver.headers) === Object.prototype,
        driver.headers?.['x-extra'],
      );
    }
    expect(prototypes).toEqual([true, '1', true, '1']);
    const hostile = hybi.client('ws://example.com/');
    openClient(hostile, '__proto__: polluted\r\n');
    expect(Object.getPrototypeOf(hostile.headers)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(hostile.headers, '__proto__')?.value).toBe('polluted');
  });
});

// Found by fuzz/properties/driver-differential.test.ts once it ran the same scripts on both libraries.
describe('driver API values the differential found', () => {
  it('knows an http() server driver’s subprotocol before start(), as websocket-driver does', () => {
    const protocols = [hybi, faye].map(
      (library) =>
        library.http(upgradeRequest({ 'sec-websocket-protocol': 'chat' }), { protocols: ['chat'] }).protocol,
    );
    expect(protocols).toEqual(['chat', 'chat']);
  });

  it('writes the pong before the ping event, so what a ping listener sends follows it', () => {
    const orders: string[][] = [];
    for (const driver of [hybi.http(upgradeRequest()), faye.http(upgradeRequest())]) {
      const order: string[] = [];
      orders.push(order);
      driver.io.on('data', (chunk: Buffer) => {
        if (!chunk.toString('latin1').startsWith('HTTP/1.1')) order.push(`wrote opcode ${chunk[0]! & 0x0f}`);
      });
      driver.on('ping', () => driver.text('after'));
      driver.start();
      driver.io.write(Buffer.from([0x89, 0x80, 1, 2, 3, 4]));
    }
    // 10 is the pong, 1 the listener's text.
    expect(orders).toEqual([
      ['wrote opcode 10', 'wrote opcode 1'],
      ['wrote opcode 10', 'wrote opcode 1'],
    ]);
  });

  it('has protocol null on a client whose server chose a subprotocol it never offered', () => {
    const values: unknown[] = [];
    for (const driver of [hybi.client('ws://example.com/'), faye.client('ws://example.com/')]) {
      driver.on('error', () => {});
      openClient(driver, 'Sec-WebSocket-Protocol: chat\r\n');
      values.push(driver.protocol, driver.readyState);
    }
    expect(values).toEqual([null, 3, null, 3]);
  });
});
