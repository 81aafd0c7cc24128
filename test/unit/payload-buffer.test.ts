import { describe, expect, it } from 'vitest';
import { Connection } from '../../src/protocol/connection.js';
import { PayloadBuffer } from '../../src/protocol/payload-buffer.js';

describe('PayloadBuffer', () => {
  it('returns the single slice itself, uncopied', () => {
    const buffer = new PayloadBuffer();
    const slice = Buffer.from('whole frame');
    buffer.append(slice);
    expect(buffer.take()).toBe(slice);
  });

  it('joins many slices in order, across the switch to one growing buffer', () => {
    const buffer = new PayloadBuffer();
    const expected: number[] = [];
    for (let index = 0; index < 5000; index++) {
      const slice = Buffer.alloc(1 + (index % 7), index & 0xff);
      expected.push(...slice);
      buffer.append(slice);
    }
    expect(buffer.length).toBe(expected.length);
    expect(buffer.take().equals(Buffer.from(expected))).toBe(true);
    expect(buffer.take().length).toBe(0);
  });

  it('holds 100,000 one-byte fragments in memory proportional to their bytes', () => {
    const buffer = new PayloadBuffer();
    for (let index = 0; index < 100_000; index++) buffer.append(Buffer.from([index & 0xff]));
    const data = buffer.take();
    expect(data.length).toBe(100_000);
    // Doubling growth: the backing store is at most about twice the payload (plus the 16 KiB start).
    expect(data.buffer.byteLength).toBeLessThanOrEqual(2 * 100_000 + 16 * 1024);
  });
});

describe('fragment limits in the connection', () => {
  function fragmentedMessage(count: number): Buffer {
    const client = new Connection({ role: 'client' });
    const frames: Buffer[] = [...client.sendFragment(2, Buffer.from([0]), false)];
    for (let index = 1; index < count; index++)
      frames.push(...client.sendFragment(2, Buffer.from([index & 0xff]), index === count - 1));
    return Buffer.concat(frames);
  }

  it('accepts 65,536 fragments by default (Autobahn 9.x)', () => {
    const events = new Connection({ role: 'server' }).receive(fragmentedMessage(65_536));
    expect(events).toHaveLength(1);
    expect(events[0]?.type === 'binary' && events[0].data.length).toBe(65_536);
  });
});

describe('PayloadBuffer with large slices', () => {
  it('keeps socket-sized slices and joins them once, into a buffer of exactly the message', () => {
    const buffer = new PayloadBuffer();
    const slices = Array.from({ length: 17 }, (_, index) => Buffer.alloc(64 * 1024, index));
    for (const slice of slices) buffer.append(slice);
    const data = buffer.take();
    expect(data.equals(Buffer.concat(slices))).toBe(true);
    // One concatenation of the exact length, not a doubled growing buffer.
    expect(data.length).toBe(17 * 64 * 1024);
    expect(data.buffer.byteLength).toBe(17 * 64 * 1024);
  });

  it('switches to the growing buffer once small slices pull the average below 16 KiB', () => {
    const buffer = new PayloadBuffer();
    const slices = [
      ...Array.from({ length: 9 }, (_, index) => Buffer.alloc(32 * 1024, index)),
      ...Array.from({ length: 200 }, (_, index) => Buffer.alloc(10, index)),
    ];
    for (const slice of slices) buffer.append(slice);
    const data = buffer.take();
    expect(data.equals(Buffer.concat(slices))).toBe(true);
    // The doubled backing store of the growing buffer, larger than the message.
    expect(data.buffer.byteLength).toBeGreaterThan(data.length);
  });
});
