// Proves that the native suite puts in one TCP write what Autobahn|Testsuite puts in one write: the 101 with
// the frames a case sends on open, unsynced frames together, a synced frame or the first chop with whatever
// was queued before it. A client that answers a message only when it arrives apart from a protocol error
// (Autobahn 3.2, 3.3, 4.1.3, 5.15 …, found NON-STRICT by the real suite) is told apart only so.

import { once } from 'node:events';
import net from 'node:net';
import { Duplex } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import type { ConformanceCase } from '../../src/conformance/case.js';
import { createCatalogue } from '../../src/conformance/catalogue.js';
import { startClientTester } from '../../src/conformance/client-tester.js';
import { CaseSession, fragmentsOf } from '../../src/conformance/session.js';
import { resolveSettings } from '../../src/conformance/settings.js';
import { WireLog } from '../../src/conformance/wire-log.js';

const originalWrite = net.Socket.prototype.write;

/** A socket in memory that keeps every write apart, as the tester issued them. */
class RecordingSocket extends Duplex {
  readonly writes: Buffer[] = [];
  override _read(): void {}
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.writes.push(Buffer.from(chunk));
    callback();
  }
}

const HEAD = Buffer.from('HTTP/1.1 101 Switching Protocols\r\n\r\n', 'latin1');
const GREETING = Buffer.from('Hello, world!', 'latin1');
/** Unmasked frames, as the tester sends them when it is the server. */
const frame = (firstByte: number, payload: Buffer = Buffer.alloc(0)): Buffer =>
  Buffer.concat([Buffer.from([firstByte, payload.length]), payload]);
const TEXT = frame(0x81, GREETING);
const PING = frame(0x89);

function caseById(id: string): ConformanceCase {
  const definition = createCatalogue().find((candidate) => candidate.id === id);
  if (definition === undefined) throw new Error(`no case ${id}`);
  return definition;
}

/** Runs a case's script as the server (the tester of clients) and returns the writes it made. */
/** The frames in unmasked bytes as [opcode, isFinal, payload length], walking the headers (RFC 6455 §5.2). */
function framesIn(bytes: Buffer): [opcode: number, isFinal: boolean, length: number][] {
  const frames: [number, boolean, number][] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const first = bytes[offset]!;
    let length = bytes[offset + 1]! & 0x7f;
    let headerLength = 2;
    if (length === 126) {
      length = bytes.readUInt16BE(offset + 2);
      headerLength = 4;
    } else if (length === 127) {
      length = Number(bytes.readBigUInt64BE(offset + 2));
      headerLength = 10;
    }
    frames.push([first & 0x0f, (first & 0x80) !== 0, length]);
    offset += headerLength + length;
  }
  return frames;
}

async function writesOf(id: string, responseHead: Buffer | undefined): Promise<Buffer[]> {
  const socket = new RecordingSocket();
  const session = new CaseSession({
    socket,
    testerRole: 'server',
    wireLog: new WireLog(),
    deflate: undefined,
    timing: resolveSettings(),
    maxMessageLength: 1024 * 1024,
    responseHead,
  });
  const running = caseById(id).run(session);
  // Unsynced frames leave at the end of the turn; cases that then wait for an echo are stopped.
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
  const writes = [...socket.writes];
  session.abort('the test has the writes it needs');
  await running;
  return writes;
}

describe('what the native suite puts in one write, as Autobahn does', () => {
  it('writes the 101 and every frame of 3.2 (message, RSV2 frame, ping) in one write', async () => {
    expect(await writesOf('3.2', HEAD)).toEqual([Buffer.concat([HEAD, TEXT, frame(0xa1, GREETING), PING])]);
  });

  it('writes the 101 with the first synced frame of 3.3, then each further frame alone', async () => {
    expect(await writesOf('3.3', HEAD)).toEqual([Buffer.concat([HEAD, TEXT]), frame(0xb1, GREETING), PING]);
  });

  it('writes the 101 with the first octet of 3.4, then one octet a write', async () => {
    const writes = await writesOf('3.4', HEAD);
    const octets = Buffer.concat([TEXT, frame(0xc1, GREETING), PING]);
    expect(writes[0]).toEqual(Buffer.concat([HEAD, octets.subarray(0, 1)]));
    expect(writes.slice(1)).toEqual([...octets.subarray(1)].map((octet) => Buffer.from([octet])));
  });

  it('writes the four frames of 5.15 in one write, as Autobahn sends them in one chop', async () => {
    const fragments = ['fragment1', 'fragment2', 'fragment3', 'fragment4'].map((text) => Buffer.from(text));
    expect(await writesOf('5.15', undefined)).toEqual([
      Buffer.concat([
        frame(0x01, fragments[0]),
        frame(0x80, fragments[1]),
        frame(0x00, fragments[2]),
        frame(0x81, fragments[3]),
      ]),
    ]);
  });

  it('the client tester hands the 101 and the frames of 3.2 to the socket in one write', async () => {
    // Every write a node:net socket is given in this process: the tester's, and this test's request.
    const written: Buffer[] = [];
    const write = vi.spyOn(net.Socket.prototype, 'write').mockImplementation(function (
      this: net.Socket,
      ...args: Parameters<net.Socket['write']>
    ) {
      const [chunk] = args;
      written.push(Buffer.from(chunk as Buffer | string));
      return originalWrite.apply(this, args);
    });
    const tester = await startClientTester({ port: 0, cases: ['3.2'], failTimeout: 200, closeTimeout: 200 });
    const socket = net.connect(tester.port, '127.0.0.1');
    try {
      await once(socket, 'connect');
      const firstChunk = once(socket, 'data');
      socket.write(
        'GET /runCase?case=1&agent=writes HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n' +
          'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
      await firstChunk;
      const response = written.find((bytes) => bytes.subarray(0, 12).toString('latin1') === 'HTTP/1.1 101');
      expect(response).toBeDefined();
      const headEnd = response!.indexOf('\r\n\r\n') + 4;
      expect(response!.subarray(headEnd)).toEqual(Buffer.concat([TEXT, frame(0xa1, GREETING), PING]));
    } finally {
      write.mockRestore();
      socket.destroy();
      await tester.close();
    }
  });
});

describe('how the native suite fragments a message, as Autobahn does', () => {
  it('cuts a payload that is a multiple of the fragment size with an empty final fragment', () => {
    const lengths = (size: number, fragmentSize: number | undefined) =>
      fragmentsOf(Buffer.alloc(size), fragmentSize).map((piece) => piece.length);
    expect(lengths(8, 4)).toEqual([4, 4, 0]);
    expect(lengths(9, 4)).toEqual([4, 4, 1]);
    expect(lengths(4, 4)).toEqual([4]);
    expect(lengths(4, undefined)).toEqual([4]);
  });

  it('sends 6.2.4 as one byte a frame and an empty final frame, in one write', async () => {
    const writes = await writesOf('6.2.4', undefined);
    expect(writes).toHaveLength(1);
    const frames = framesIn(writes[0]!);
    expect(frames).toEqual([
      [0x1, false, 1],
      ...Array.from({ length: 10 }, () => [0x0, false, 1]),
      [0x0, true, 0],
    ]);
  });

  it('sends 9.3.2 (4 MiB in 256-byte fragments) as 16,385 frames, one more than ws accepts', async () => {
    const frames = framesIn(Buffer.concat(await writesOf('9.3.2', undefined)));
    expect(frames).toHaveLength(4 * 4096 + 1);
    expect(frames.at(-1)).toEqual([0x0, true, 0]);
    expect(frames.slice(0, -1).every(([, isFinal, length]) => !isFinal && length === 256)).toBe(true);
  });
});
