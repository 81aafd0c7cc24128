// Hostile input at the protocol level: each case asserts the exact outcome and a bound on what was kept.
import { describe, expect, it } from 'vitest';
import { Connection, type ConnectionEvent } from '../../src/protocol/connection.js';

const KEY = Buffer.from([0x11, 0x22, 0x33, 0x44]);

function maskedFrame(first: number, payload: Buffer): Buffer {
  const length = payload.length;
  const header =
    length < 126
      ? Buffer.from([first, 0x80 | length])
      : Buffer.from([first, 0x80 | 126, length >> 8, length & 0xff]);
  const body = Buffer.from(payload);
  for (let index = 0; index < body.length; index++) body[index]! ^= KEY[index % 4]!;
  return Buffer.concat([header, KEY, body]);
}

function failCode(events: ConnectionEvent[]): number | undefined {
  for (const event of events) if (event.type === 'fail') return event.code;
  return undefined;
}

describe('hostile frame lengths', () => {
  it('fails with 1009 on a frame announcing 2^63 - 1 bytes, having kept none of it', () => {
    const server = new Connection({ role: 'server', maxLength: 1 << 20 });
    const header = Buffer.from([0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, ...KEY]);
    const events = server.receive(Buffer.concat([header, Buffer.alloc(4096)]));
    expect(failCode(events)).toBe(1009);
    expect(server.state).toBe('closed');
    // Nothing more is read or kept once failed.
    expect(server.receive(Buffer.alloc(1 << 16))).toEqual([]);
  });

  it('fails with 1002 on a frame announcing 2^63 bytes (the top bit is reserved)', () => {
    const server = new Connection({ role: 'server' });
    const header = Buffer.from([0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, ...KEY]);
    expect(failCode(server.receive(header))).toBe(1002);
  });
});

describe('invalid UTF-8 split at every byte position of a fragmented message', () => {
  // "κόσμε" then an encoded surrogate (ED A0 80) then more text: invalid from the A0 on.
  const text = Buffer.concat([Buffer.from('κόσμε'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('tail')]);
  const firstBadByte = Buffer.from('κόσμε').length + 1;

  it.each(Array.from({ length: text.length - 1 }, (_, index) => index + 1))(
    'fails with 1007 in the fragment holding the first invalid byte, split at %i',
    (split) => {
      const server = new Connection({ role: 'server' });
      const first = server.receive(maskedFrame(0x01, text.subarray(0, split)));
      const second = server.receive(maskedFrame(0x80, text.subarray(split)));
      if (split > firstBadByte) {
        expect(failCode(first)).toBe(1007);
        expect(second).toEqual([]);
      } else {
        expect(first).toEqual([]);
        expect(failCode(second)).toBe(1007);
      }
    },
  );
});

describe('close codes, exhaustively (RFC 6455 §7.4, IANA registry)', () => {
  const isAllowed = (code: number) =>
    (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);

  it('accepts exactly 1000-1003, 1007-1014 and 3000-4999, and fails every other code with 1002', () => {
    const wrong: number[] = [];
    for (let code = 0; code <= 0xffff; code++) {
      const events = new Connection({ role: 'server' }).receive(
        maskedFrame(0x88, Buffer.from([code >> 8, code & 0xff])),
      );
      const outcome = failCode(events);
      if (isAllowed(code) ? outcome !== undefined : outcome !== 1002) wrong.push(code);
    }
    expect(wrong).toEqual([]);
  });
});

describe('floods', () => {
  it('answers every ping of a 10,000-ping chunk and keeps no payload beyond the current one', () => {
    const server = new Connection({ role: 'server' });
    const ping = maskedFrame(0x89, Buffer.alloc(125, 1));
    const flood = Buffer.concat(Array.from({ length: 10_000 }, () => ping));
    server.push(flood);
    let pongs = 0;
    for (let event = server.nextEvent(); event !== undefined; event = server.nextEvent()) {
      if (event.type === 'write') pongs++;
    }
    expect(pongs).toBe(10_000);
  });

  it('fails with 1009 on 131,073 empty fragments (the default cap) rather than counting on forever', () => {
    const server = new Connection({ role: 'server' });
    const frames = [maskedFrame(0x02, Buffer.alloc(0))];
    const continuation = maskedFrame(0x00, Buffer.alloc(0));
    for (let index = 0; index < 131_072; index++) frames.push(continuation);
    expect(failCode(server.receive(Buffer.concat(frames)))).toBe(1009);
  });
});
