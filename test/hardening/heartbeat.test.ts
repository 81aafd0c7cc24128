// The Heartbeat on its own, on fake timers: when it pings, when it gives up, and when it waits.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Heartbeat, validateHeartbeat } from '../../src/node/heartbeat.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

function heartbeatWith(isReading: () => boolean = () => true) {
  const calls: string[] = [];
  const heartbeat = new Heartbeat(
    { interval: 1000, timeout: 500 },
    {
      ping: () => calls.push('ping'),
      expire: (timeout) => calls.push(`expire ${timeout}`),
      isReading,
    },
  );
  return { heartbeat, calls };
}

describe('Heartbeat', () => {
  it('pings after the interval and expires when no pong comes within the timeout', () => {
    const { heartbeat, calls } = heartbeatWith();
    heartbeat.start();
    vi.advanceTimersByTime(999);
    expect(calls).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(calls).toEqual(['ping']);
    vi.advanceTimersByTime(500);
    expect(calls).toEqual(['ping', 'expire 500']);
    expect(heartbeat.isRunning).toBe(false);
  });

  it('pings again an interval after each pong', () => {
    const { heartbeat, calls } = heartbeatWith();
    heartbeat.start();
    for (let round = 0; round < 3; round++) {
      vi.advanceTimersByTime(1000);
      vi.advanceTimersByTime(400);
      heartbeat.pong();
    }
    expect(calls).toEqual(['ping', 'ping', 'ping']);
    expect(heartbeat.isRunning).toBe(true);
    heartbeat.stop();
    expect(heartbeat.isRunning).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('waits while the socket is not read (the pong may be unread), and expires once it is', () => {
    let isReading = false;
    const { heartbeat, calls } = heartbeatWith(() => isReading);
    heartbeat.start();
    vi.advanceTimersByTime(1000 + 500 * 10);
    expect(calls).toEqual(['ping']);
    isReading = true;
    vi.advanceTimersByTime(500);
    expect(calls).toEqual(['ping', 'expire 500']);
  });

  it('ignores a pong before its ping and never keeps more than one timer', () => {
    const { heartbeat, calls } = heartbeatWith();
    heartbeat.start();
    heartbeat.start();
    heartbeat.pong();
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(1000);
    expect(calls).toEqual(['ping']);
    expect(vi.getTimerCount()).toBe(1);
  });

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31])(
    'refuses %s ms with a RangeError',
    (value) => {
      expect(() => validateHeartbeat({ interval: value, timeout: 1000 })).toThrow(RangeError);
      expect(() => validateHeartbeat({ interval: 1000, timeout: value })).toThrow(RangeError);
    },
  );
});
