// Owns the driver differential: the same script of application calls and peer behaviour played on
// websocket-driver 0.8 and on hybi, as a server (http() and server()) and as a client, over in-memory
// pipes; step by step, hybi must do what websocket-driver did, or what a listed divergence says instead.

import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import * as hybiDriver from '../../src/index.js';
import { upgradeRequest } from '../../test/support/upgrade-request.js';
import { faye } from '../../test/support/websocket-driver.js';
import { encodeFrame } from '../arbitraries/frames.js';
import { DRIVER_DIVERGENCE_NAMES, DriverExpectation } from '../support/driver-divergences.js';
import { type DriverMode, driverScriptArbitrary, playScript } from '../support/driver-script.js';
import { fuzzTest, recordCounts } from '../support/settings.js';

const seen = new Map<string, number>();
afterAll(() =>
  recordCounts(import.meta.url, 'scripts where a divergence from websocket-driver applied', seen),
);

function checkScript(script: Parameters<typeof playScript>[1]): void {
  const websocketDriver = playScript('websocket-driver', script);
  const hybi = playScript('hybi', script);
  const expectation = new DriverExpectation(script);
  expect(hybi.length).toBe(websocketDriver.length);
  for (let index = 0; index < hybi.length; index++) {
    const expected = expectation.expect(index - 1, websocketDriver[index]!);
    expect(DriverExpectation.normalize(hybi[index]!), `step ${index}: ${expected.step}`).toEqual(expected);
  }
  for (const name of expectation.divergences) seen.set(name, (seen.get(name) ?? 0) + 1);
}

describe('driver differential', () => {
  for (const mode of ['http', 'server', 'client'] as DriverMode[]) {
    fuzzTest(
      `driver differential (${mode}): every step does what websocket-driver 0.8 does, or what a listed divergence says`,
      { runs: 200, file: import.meta.url },
      () => fc.property(driverScriptArbitrary(mode), checkScript),
    );
  }
});

describe('driver divergence early-frames-wait-for-open (not generated: checked here)', () => {
  // RFC 6455 §4.1: a client sends frames only once the server's 101 has arrived. Frames that come early
  // (in the same read as the request) are kept by hybi and read after 'open'; websocket-driver parses them
  // at once: it throws for a data frame (its extension pipeline does not exist yet) and reports a ping
  // before 'open', to a driver that has not accepted the connection.
  const early = (opcode: number, payload: string) =>
    encodeFrame({
      isFinal: true,
      rsv: 0,
      opcode,
      payload: Buffer.from(payload),
      maskingKey: Uint8Array.from([1, 2, 3, 4]),
    });

  it("hybi reads a data frame written before start() after 'open'; websocket-driver throws", () => {
    const order: string[] = [];
    const driver = hybiDriver.http(upgradeRequest());
    driver.io.on('data', () => {});
    driver.on('open', () => order.push('open'));
    driver.on('message', (event) => order.push(`message ${String(event.data)}`));
    driver.io.write(early(1, 'early'));
    driver.start();
    expect(order).toEqual(['open', 'message early']);
    const fayeDriver = faye.http(upgradeRequest());
    expect(() => fayeDriver.io.write(early(1, 'early'))).toThrow(TypeError);
  });

  it("hybi reports a ping written before start() after 'open'; websocket-driver before", () => {
    const orders: string[][] = [];
    for (const driver of [faye.http(upgradeRequest()), hybiDriver.http(upgradeRequest())]) {
      const order: string[] = [];
      orders.push(order);
      driver.io.on('data', () => {});
      driver.on('open', () => order.push('open'));
      driver.on('ping', (event: { data: string }) => order.push(`ping ${event.data}`));
      driver.io.write(early(9, 'early'));
      driver.start();
    }
    expect(orders).toEqual([
      ['ping early', 'open'],
      ['open', 'ping early'],
    ]);
  });
});

describe('the divergences from websocket-driver', () => {
  it('are each listed, by name, in README\'s "Differences from websocket-driver"', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const start = readme.indexOf('## Differences from websocket-driver');
    const end = readme.indexOf('\n## ', start + 1);
    expect(start).toBeGreaterThan(-1);
    const section = readme.slice(start, end === -1 ? undefined : end);
    const missing = DRIVER_DIVERGENCE_NAMES.filter((name) => !section.includes(`\`${name}\``));
    expect(missing).toEqual([]);
  });
});
