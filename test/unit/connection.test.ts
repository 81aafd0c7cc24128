import { describe, expect, it } from 'vitest';
import { Connection, type ConnectionEvent, type ConnectionOptions } from '../../src/protocol/connection.js';
import { CloseCode, Opcode } from '../../src/protocol/opcodes.js';

/** Frames what a client would send, by encoding with a client connection. */
function clientFrames(build: (client: Connection) => Buffer[][]): Buffer {
  const client = new Connection({ role: 'client' });
  return Buffer.concat(build(client).flat());
}

function rawFrame(
  first: number,
  payload: Buffer,
  options: { masked?: boolean; lengthOverride?: Buffer } = {},
): Buffer {
  const masked = options.masked ?? true;
  const key = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
  let lengthBytes: Buffer;
  if (options.lengthOverride !== undefined) lengthBytes = options.lengthOverride;
  else if (payload.length < 126) lengthBytes = Buffer.from([payload.length]);
  else if (payload.length < 65536)
    lengthBytes = Buffer.from([126, payload.length >> 8, payload.length & 0xff]);
  else {
    lengthBytes = Buffer.alloc(9);
    lengthBytes[0] = 127;
    lengthBytes.writeBigUInt64BE(BigInt(payload.length), 1);
  }
  if (masked) lengthBytes[0]! |= 0x80;
  const body = Buffer.from(payload);
  if (masked) for (let index = 0; index < body.length; index++) body[index]! ^= key[index % 4]!;
  return Buffer.concat([Buffer.from([first]), lengthBytes, masked ? key : Buffer.alloc(0), body]);
}

function serverReceiving(bytes: Buffer, options: Partial<ConnectionOptions> = {}): ConnectionEvent[] {
  return new Connection({ role: 'server', ...options }).receive(Buffer.from(bytes));
}

function failureOf(events: ConnectionEvent[]): number | undefined {
  const fail = events.find((event) => event.type === 'fail');
  return fail?.type === 'fail' ? fail.code : undefined;
}

function messagesOf(events: ConnectionEvent[]): (string | Buffer)[] {
  return events.flatMap((event) => (event.type === 'text' || event.type === 'binary' ? [event.data] : []));
}

describe('RFC 6455 §5.7 examples', () => {
  it('reads a single-frame unmasked text message as a client', () => {
    const client = new Connection({ role: 'client' });
    const events = client.receive(Buffer.from([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]));
    expect(events).toEqual([{ type: 'text', data: 'Hello' }]);
  });

  it('reads a single-frame masked text message as a server', () => {
    const events = serverReceiving(
      Buffer.from([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]),
    );
    expect(events).toEqual([{ type: 'text', data: 'Hello' }]);
  });

  it('assembles a fragmented unmasked text message', () => {
    const client = new Connection({ role: 'client' });
    const events = client.receive(Buffer.from([0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f]));
    expect(events).toEqual([{ type: 'text', data: 'Hello' }]);
  });

  it('encodes an unmasked ping with Hello exactly as §5.7 shows', () => {
    const server = new Connection({ role: 'server' });
    expect(Buffer.concat(server.sendPing('Hello'))).toEqual(
      Buffer.from([0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]),
    );
  });

  it('encodes 256 bytes with a 16-bit length and 64 KiB with a 64-bit length', () => {
    const server = new Connection({ role: 'server' });
    const medium = Buffer.concat(server.sendBinary(Buffer.alloc(256)));
    expect([...medium.subarray(0, 4)]).toEqual([0x82, 0x7e, 0x01, 0x00]);
    const large = Buffer.concat(server.sendBinary(Buffer.alloc(65536)));
    expect([...large.subarray(0, 10)]).toEqual([0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]);
  });
});

describe('masking (RFC 6455 §5.1, §5.3)', () => {
  it('fails with 1002 when a server receives an unmasked frame', () => {
    expect(failureOf(serverReceiving(rawFrame(0x81, Buffer.from('hi'), { masked: false })))).toBe(1002);
  });

  it('fails with 1002 when a client receives a masked frame', () => {
    const client = new Connection({ role: 'client' });
    expect(failureOf(client.receive(rawFrame(0x81, Buffer.from('hi'))))).toBe(1002);
  });

  it('accepts unmasked client frames when requireMasking is false', () => {
    const events = serverReceiving(rawFrame(0x81, Buffer.from('hi'), { masked: false }), {
      requireMasking: false,
    });
    expect(messagesOf(events)).toEqual(['hi']);
  });

  it('masks every client frame and never changes the caller’s buffer', () => {
    const client = new Connection({ role: 'client' });
    const payload = Buffer.from('a payload that stays as it is');
    const frame = Buffer.concat(client.sendBinary(payload));
    expect(frame[1]! & 0x80).toBe(0x80);
    expect(payload.toString()).toBe('a payload that stays as it is');
    expect(messagesOf(serverReceiving(frame))).toEqual([payload]);
  });
});

describe('chunking invariance', () => {
  const stream = clientFrames((client) => [
    client.sendText('héllo wörld, ünïcode ✓ 𝄞'),
    client.sendPing('p'),
    client.sendFragment(Opcode.Binary, Buffer.alloc(300, 7), false),
    client.sendPing('between'),
    client.sendFragment(Opcode.Binary, Buffer.alloc(70000, 9), true),
    client.sendText(''),
    client.sendClose(1000, 'bye'),
  ]);

  /** A compact, comparable form of events: big payloads become their length and a checksum. */
  function normalize(events: ConnectionEvent[]): unknown[] {
    return events.map((event) => {
      if (event.type === 'write') return { type: 'write', bytes: Buffer.concat(event.data).toString('hex') };
      if ('data' in event && Buffer.isBuffer(event.data)) {
        let sum = 0;
        for (const byte of event.data) sum = (sum * 31 + byte) >>> 0;
        return { type: event.type, length: event.data.length, sum };
      }
      return event;
    });
  }

  const whole = normalize(serverReceiving(stream));

  it('gives the expected events for the whole stream', () => {
    expect(whole.map((event) => (event as { type: string }).type)).toEqual([
      'text',
      'write',
      'ping',
      'write',
      'ping',
      'binary',
      'text',
      'write',
      'close',
    ]);
  });

  it('gives identical events fed one byte at a time', () => {
    const server = new Connection({ role: 'server' });
    const events: ConnectionEvent[] = [];
    const copy = Buffer.from(stream); // receive() unmasks in place: it owns what it is given
    for (let index = 0; index < copy.length; index++)
      events.push(...server.receive(copy.subarray(index, index + 1)));
    expect(normalize(events)).toEqual(whole);
  });

  it('gives identical events for every two-way split of the first 400 bytes', () => {
    for (let split = 1; split < 400; split++) {
      const server = new Connection({ role: 'server' });
      const copy = Buffer.from(stream);
      const events = [...server.receive(copy.subarray(0, split)), ...server.receive(copy.subarray(split))];
      expect(normalize(events)).toEqual(whole);
    }
  });

  it('does not copy a binary frame that lies whole in one chunk', () => {
    const chunk = Buffer.from(clientFrames((client) => [client.sendBinary(Buffer.alloc(5000, 1))]));
    const [message] = new Connection({ role: 'server' }).receive(chunk);
    expect(message?.type).toBe('binary');
    if (message?.type === 'binary') {
      expect(message.data.buffer).toBe(chunk.buffer);
      expect(message.data.equals(Buffer.alloc(5000, 1))).toBe(true);
    }
  });
});

describe('frame and message rules', () => {
  it('fails with 1002 on each reserved opcode', () => {
    for (const opcode of [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]) {
      expect(failureOf(serverReceiving(rawFrame(0x80 | opcode, Buffer.alloc(0))))).toBe(1002);
    }
  });

  it('fails with 1002 on a fragmented control frame', () => {
    expect(failureOf(serverReceiving(rawFrame(0x09, Buffer.from('x'))))).toBe(1002);
  });

  it('fails with 1002 on a control frame over 125 bytes', () => {
    expect(failureOf(serverReceiving(rawFrame(0x89, Buffer.alloc(126))))).toBe(1002);
  });

  it('fails with 1002 on a continuation without a message to continue', () => {
    expect(failureOf(serverReceiving(rawFrame(0x80, Buffer.from('x'))))).toBe(1002);
  });

  it('fails with 1002 on a new data frame inside a fragmented message', () => {
    const bytes = Buffer.concat([rawFrame(0x01, Buffer.from('a')), rawFrame(0x81, Buffer.from('b'))]);
    expect(failureOf(serverReceiving(bytes))).toBe(1002);
  });

  it('fails with 1002 on an RSV bit no extension claims', () => {
    for (const bit of [0x40, 0x20, 0x10])
      expect(failureOf(serverReceiving(rawFrame(0x81 | bit, Buffer.from('x'))))).toBe(1002);
  });

  it('fails with 1002 on RSV1 on a continuation even when RSV1 is claimed', () => {
    const bytes = Buffer.concat([rawFrame(0x41, Buffer.from('a')), rawFrame(0xc0, Buffer.from('b'))]);
    expect(failureOf(serverReceiving(bytes, { allowedRsvBits: 0x40, hasExtensions: true }))).toBe(1002);
  });

  it('fails with 1002 on RSV1 on a control frame even when RSV1 is claimed', () => {
    expect(
      failureOf(
        serverReceiving(rawFrame(0xc9, Buffer.alloc(0)), { allowedRsvBits: 0x40, hasExtensions: true }),
      ),
    ).toBe(1002);
  });

  it('fails with 1002 on a 64-bit length with the top bit set', () => {
    const length = Buffer.from([127, 0x80, 0, 0, 0, 0, 0, 0, 1]);
    expect(failureOf(serverReceiving(rawFrame(0x82, Buffer.alloc(0), { lengthOverride: length })))).toBe(
      1002,
    );
  });

  it('fails with 1009 on a frame announcing more than maxLength, before any payload arrives', () => {
    const header = rawFrame(0x82, Buffer.alloc(0), {
      lengthOverride: Buffer.from([127, 0, 0, 0, 1, 0, 0, 0, 0]),
    });
    expect(failureOf(serverReceiving(header, { maxLength: 1024 }))).toBe(1009);
  });

  it('fails with 1009 when fragments together pass maxLength', () => {
    const bytes = Buffer.concat([rawFrame(0x02, Buffer.alloc(600)), rawFrame(0x80, Buffer.alloc(600))]);
    expect(failureOf(serverReceiving(bytes, { maxLength: 1000 }))).toBe(1009);
  });

  it('fails with 1009 past maxFragments', () => {
    const parts = [rawFrame(0x02, Buffer.alloc(0))];
    for (let index = 0; index < 10; index++) parts.push(rawFrame(0x00, Buffer.alloc(0)));
    expect(failureOf(serverReceiving(Buffer.concat(parts), { maxFragments: 5 }))).toBe(1009);
  });

  it('delivers control frames in the middle of a fragmented message', () => {
    const bytes = Buffer.concat([
      rawFrame(0x01, Buffer.from('Hel')),
      rawFrame(0x89, Buffer.from('ping')),
      rawFrame(0x80, Buffer.from('lo')),
    ]);
    const events = serverReceiving(bytes);
    expect(events.map((event) => event.type)).toEqual(['write', 'ping', 'text']);
    expect(messagesOf(events)).toEqual(['Hello']);
  });

  it('emits nothing after a failure', () => {
    const server = new Connection({ role: 'server' });
    server.receive(rawFrame(0x83, Buffer.alloc(0)));
    expect(server.receive(rawFrame(0x81, Buffer.from('late')))).toEqual([]);
    expect(server.state).toBe('closed');
  });
});

describe('UTF-8 (RFC 6455 §8.1), failing fast', () => {
  it('fails with 1007 on the first fragment whose bytes are invalid, before the message ends', () => {
    const server = new Connection({ role: 'server' });
    expect(server.receive(rawFrame(0x01, Buffer.from('valid ')))).toEqual([]);
    const events = server.receive(
      rawFrame(
        0x00,
        Buffer.from([0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5, 0xed, 0xa0, 0x80]),
      ),
    );
    expect(failureOf(events)).toBe(1007);
  });

  it('fails with 1007 inside a single frame as soon as the invalid chunk arrives', () => {
    const server = new Connection({ role: 'server' });
    const frame = rawFrame(
      0x81,
      Buffer.concat([Buffer.from('abcdef'), Buffer.from([0xf4, 0x90, 0x80, 0x80]), Buffer.from('ghij')]),
    );
    expect(server.receive(frame.subarray(0, 10))).toEqual([]);
    expect(failureOf(server.receive(frame.subarray(10, 14)))).toBe(1007);
  });

  it('fails with 1007 on a whole invalid message in one chunk, and delivers the valid one before it', () => {
    const server = new Connection({ role: 'server' });
    const bytes = Buffer.concat([
      rawFrame(0x81, Buffer.from('fine')),
      rawFrame(0x81, Buffer.from([0x61, 0xed, 0xa0, 0x80, 0x62])),
      rawFrame(0x81, Buffer.from('never read')),
    ]);
    const events = server.receive(bytes);
    expect(messagesOf(events)).toEqual(['fine']);
    expect(failureOf(events)).toBe(1007);
  });

  it('delivers a leading byte order mark as part of the text, whole or fragmented', () => {
    const withBom = Buffer.from('\ufeffhello');
    const fragmented = Buffer.concat([
      rawFrame(0x01, withBom.subarray(0, 2)),
      rawFrame(0x80, withBom.subarray(2)),
    ]);
    expect(messagesOf(serverReceiving(rawFrame(0x81, withBom)))).toEqual(['\ufeffhello']);
    expect(messagesOf(serverReceiving(fragmented))).toEqual(['\ufeffhello']);
  });

  it('fails with 1007 when a text message ends inside a multi-byte sequence', () => {
    expect(failureOf(serverReceiving(rawFrame(0x81, Buffer.from([0x61, 0xe2, 0x82]))))).toBe(1007);
  });

  it('accepts a code point split across fragments', () => {
    const euro = Buffer.from('€');
    const bytes = Buffer.concat([
      rawFrame(0x01, euro.subarray(0, 1)),
      rawFrame(0x00, euro.subarray(1, 2)),
      rawFrame(0x80, euro.subarray(2)),
    ]);
    expect(messagesOf(serverReceiving(bytes))).toEqual(['€']);
  });
});

describe('close handshake (RFC 6455 §5.5.1, §7)', () => {
  it('echoes the peer’s code and reason and reports them, then stops reading', () => {
    const server = new Connection({ role: 'server' });
    const body = Buffer.from([0x03, 0xe8, 0x62, 0x79, 0x65]);
    const events = server.receive(Buffer.concat([rawFrame(0x88, body), rawFrame(0x81, Buffer.from('late'))]));
    expect(events.map((event) => event.type)).toEqual(['write', 'close']);
    const write = events[0];
    if (write?.type === 'write')
      expect([...Buffer.concat(write.data)]).toEqual([0x88, 0x05, 0x03, 0xe8, 0x62, 0x79, 0x65]);
    expect(events[1]).toEqual({ type: 'close', code: 1000, reason: 'bye' });
    expect(server.state).toBe('closed');
  });

  it('replies with an empty close to an empty close and reports 1005', () => {
    const events = serverReceiving(rawFrame(0x88, Buffer.alloc(0)));
    const write = events[0];
    if (write?.type === 'write') expect([...Buffer.concat(write.data)]).toEqual([0x88, 0x00]);
    expect(events[1]).toEqual({ type: 'close', code: CloseCode.NoStatusReceived, reason: '' });
  });

  it('fails with 1002 on a 1-byte close body', () => {
    expect(failureOf(serverReceiving(rawFrame(0x88, Buffer.from([0x03]))))).toBe(1002);
  });

  const invalidCodes = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535];
  it.each(invalidCodes)('fails with 1002 on close code %i', (code) => {
    const body = Buffer.from([code >> 8, code & 0xff]);
    expect(failureOf(serverReceiving(rawFrame(0x88, body)))).toBe(1002);
  });

  const validCodes = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999];
  it.each(validCodes)('accepts and echoes close code %i', (code) => {
    const events = serverReceiving(rawFrame(0x88, Buffer.from([code >> 8, code & 0xff])));
    expect(events[1]).toEqual({ type: 'close', code, reason: '' });
  });

  it('fails with 1007 on a close reason that is not UTF-8', () => {
    expect(failureOf(serverReceiving(rawFrame(0x88, Buffer.from([0x03, 0xe8, 0xff]))))).toBe(1007);
  });

  it('moves to closing on sendClose, still delivers data, and closes on the peer’s reply without answering it', () => {
    const server = new Connection({ role: 'server' });
    server.sendClose(1001, 'going');
    expect(server.state).toBe('closing');
    expect(() => server.sendText('no')).toThrow();
    const events = server.receive(
      Buffer.concat([rawFrame(0x81, Buffer.from('last')), rawFrame(0x88, Buffer.from([0x03, 0xe9]))]),
    );
    expect(events).toEqual([
      { type: 'text', data: 'last' },
      { type: 'close', code: 1001, reason: '' },
    ]);
  });

  it('with autoCloseReply false, lets data go before the reply, which then echoes the code', () => {
    const server = new Connection({ role: 'server', autoCloseReply: false });
    const events = server.receive(rawFrame(0x88, Buffer.from([0x0f, 0xa0])));
    expect(events).toEqual([{ type: 'close', code: 4000, reason: '' }]);
    expect(server.state).toBe('closing');
    expect(server.isCloseReplyDue).toBe(true);
    expect(server.canSend).toBe(true);
    expect([...Buffer.concat(server.sendText('last'))]).toEqual([0x81, 4, ...Buffer.from('last')]);
    expect([...Buffer.concat(server.sendCloseReply())]).toEqual([0x88, 2, 0x0f, 0xa0]);
    expect(server.state).toBe('closed');
    expect(server.canSend).toBe(false);
    expect(server.sendCloseReply()).toEqual([]);
  });

  it('reports 1006 when the transport ends without a close frame', () => {
    const server = new Connection({ role: 'server' });
    expect(server.transportClosed()).toEqual([{ type: 'close', code: 1006, reason: '' }]);
    expect(server.transportClosed()).toEqual([]);
  });

  it('sends an empty close body for 1005 (no status) and none at all for undefined', () => {
    expect([...Buffer.concat(new Connection({ role: 'server' }).sendClose(1005))]).toEqual([0x88, 0x00]);
    expect([...Buffer.concat(new Connection({ role: 'server' }).sendClose())]).toEqual([0x88, 0x00]);
  });

  it('refuses to send a close code that may not be on the wire', () => {
    const server = new Connection({ role: 'server' });
    expect(() => server.sendClose(1006)).toThrow(RangeError);
    expect(() => server.sendClose(1000, 'x'.repeat(124))).toThrow(RangeError);
  });
});

describe('ping and pong (RFC 6455 §5.5.2, §5.5.3)', () => {
  it('answers a ping with a pong carrying the same payload, before reporting the ping', () => {
    const events = serverReceiving(rawFrame(0x89, Buffer.from('abc')));
    expect(events[1]).toEqual({ type: 'ping', data: Buffer.from('abc') });
    const write = events[0];
    expect(write?.type === 'write' && [...Buffer.concat(write.data)]).toEqual([0x8a, 0x03, 0x61, 0x62, 0x63]);
  });

  it('reports unsolicited pongs without answering', () => {
    expect(serverReceiving(rawFrame(0x8a, Buffer.from('hb')))).toEqual([
      { type: 'pong', data: Buffer.from('hb') },
    ]);
  });

  it('refuses a ping payload over 125 bytes', () => {
    expect(() => new Connection({ role: 'server' }).sendPing(Buffer.alloc(126))).toThrow(RangeError);
  });
});

describe('extension messages', () => {
  it('hands compressed messages out unvalidated and validates them on completion', () => {
    const server = new Connection({ role: 'server', allowedRsvBits: 0x40, hasExtensions: true });
    const events = server.receive(rawFrame(0xc1, Buffer.from([0xff])));
    expect(events).toEqual([
      {
        type: 'extension-message',
        opcode: 1,
        rsvBits: 0x40,
        data: Buffer.from([0xff]),
        isUtf8Checked: false,
      },
    ]);
    expect(failureOf(server.completeExtensionMessage(Opcode.Text, Buffer.from([0xff])))).toBe(1007);
  });

  it('fails with 1009 when a processed message passes maxLength', () => {
    const server = new Connection({
      role: 'server',
      allowedRsvBits: 0x40,
      hasExtensions: true,
      maxLength: 10,
    });
    expect(failureOf(server.completeExtensionMessage(Opcode.Binary, Buffer.alloc(11)))).toBe(1009);
  });
});
