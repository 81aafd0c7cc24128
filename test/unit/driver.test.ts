import { describe, expect, it } from 'vitest';
import type { Extension, ExtensionMessage, MessageCallback } from '../../src/extensions/extension.js';
import * as hybi from '../../src/index.js';
import { Connection } from '../../src/protocol/connection.js';
import { computeAcceptKey } from '../../src/protocol/handshake.js';
import { upgradeRequest } from '../support/upgrade-request.js';

/** The tests' request targets /chat. */
function chatRequest(headers: Record<string, string> = {}) {
  return upgradeRequest(headers, '/chat');
}

function rawRequest(headers: Record<string, string> = {}): string {
  const lines = Object.entries(chatRequest(headers).headers).map(([name, value]) => `${name}: ${value}`);
  return `GET /chat HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`;
}

/** Collects everything a driver writes to its io stream. */
function output(driver: hybi.Driver): () => Buffer {
  const chunks: Buffer[] = [];
  driver.io.on('data', (chunk: Buffer) => chunks.push(chunk));
  return () => Buffer.concat(chunks.splice(0));
}

function clientBytes(build: (client: Connection) => Buffer[]): Buffer {
  return Buffer.concat(build(new Connection({ role: 'client' })));
}

function events(driver: hybi.Driver) {
  const seen: unknown[] = [];
  driver.on('open', () => seen.push('open'));
  driver.on('message', (event) => seen.push(['message', event.data]));
  driver.on('ping', (event) => seen.push(['ping', event.data]));
  driver.on('pong', (event) => seen.push(['pong', event.data]));
  driver.on('close', (event) => seen.push(['close', event.code, event.reason]));
  driver.on('error', (error) => seen.push(['error', error.message]));
  return seen;
}

describe('server driver from a node:http request', () => {
  it('answers 101 with the RFC 6455 §1.3 accept key and opens', () => {
    const driver = hybi.http(chatRequest());
    const written = output(driver);
    const seen = events(driver);
    expect(driver.start()).toBe(true);
    const response = written().toString('latin1');
    expect(response.startsWith('HTTP/1.1 101 Switching Protocols\r\n')).toBe(true);
    expect(response).toContain('Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    expect(seen).toEqual(['open']);
    expect(driver.getState()).toBe('open');
    expect(driver.readyState).toBe(1);
    expect(driver.version).toBe('hybi-13');
    expect(driver.url).toBe('ws://example.com/chat');
  });

  it('answers 426 with Sec-WebSocket-Version: 13 for version 8, then reports error and close', () => {
    const driver = hybi.http(chatRequest({ 'sec-websocket-version': '8' }));
    const written = output(driver);
    const seen = events(driver);
    expect(driver.start()).toBe(false);
    const response = written().toString('latin1');
    expect(response).toMatch(/^HTTP\/1\.1 426 /);
    expect(response).toContain('Sec-WebSocket-Version: 13');
    expect(seen[0]).toEqual(['error', expect.any(String)]);
    expect(seen[1]).toEqual(['close', 1002, expect.any(String)]);
    expect(driver.getState()).toBe('closed');
  });

  it('answers 400 for a key that does not decode to 16 bytes', () => {
    const driver = hybi.http(chatRequest({ 'sec-websocket-key': 'c2hvcnQ=' }));
    const written = output(driver);
    driver.start();
    expect(written().toString('latin1')).toMatch(/^HTTP\/1\.1 400 /);
  });

  it('chooses the subprotocol by the server’s preference', () => {
    const driver = hybi.http(chatRequest({ 'sec-websocket-protocol': 'chat, superchat' }), {
      protocols: ['superchat', 'chat'],
    });
    const written = output(driver);
    driver.start();
    expect(written().toString('latin1')).toContain('Sec-WebSocket-Protocol: superchat');
    expect(driver.protocol).toBe('superchat');
  });

  it('writes custom headers and refuses ones that would split the response', () => {
    const driver = hybi.http(chatRequest());
    const written = output(driver);
    expect(driver.setHeader('X-Served-By', 'hybi')).toBe(true);
    expect(() => driver.setHeader('X-Evil', 'a\r\nSet-Cookie: x=1')).toThrow(TypeError);
    driver.start();
    expect(written().toString('latin1')).toContain('X-Served-By: hybi');
    expect(driver.setHeader('X-Late', 'no')).toBe(false);
  });

  it('holds frames written before start() and delivers them after open', () => {
    const driver = hybi.http(chatRequest());
    const seen = events(driver);
    driver.io.write(clientBytes((client) => client.sendText('early')));
    expect(seen).toEqual([]);
    driver.start();
    expect(seen).toEqual(['open', ['message', 'early']]);
  });

  it('queues messages sent before open and sends them after the handshake', () => {
    const driver = hybi.http(chatRequest());
    const written = output(driver);
    expect(driver.text('queued')).toBe(true);
    driver.start();
    const bytes = written();
    const frame = bytes.subarray(bytes.indexOf('\r\n\r\n') + 4);
    expect([...frame]).toEqual([0x81, 6, ...Buffer.from('queued')]);
  });

  it('echoes through the messages stream, answers pings, and runs the closing handshake', () => {
    const driver = hybi.http(chatRequest());
    const written = output(driver);
    const seen = events(driver);
    driver.messages.pipe(driver.messages);
    driver.start();
    written();
    driver.io.write(
      clientBytes((client) => [
        ...client.sendText('hi'),
        ...client.sendPing('p'),
        ...client.sendClose(4000, 'done'),
      ]),
    );
    expect([...written()]).toEqual([
      0x81,
      2,
      0x68,
      0x69,
      0x8a,
      1,
      0x70,
      0x88,
      6,
      0x0f,
      0xa0,
      ...Buffer.from('done'),
    ]);
    expect(seen).toEqual(['open', ['message', 'hi'], ['ping', 'p'], ['close', 4000, 'done']]);
    expect(driver.text('late')).toBe(false);
  });

  it('fails with 1002, an error event and a close frame on an unmasked client frame', () => {
    const driver = hybi.http(chatRequest());
    const written = output(driver);
    const seen = events(driver);
    driver.start();
    written();
    driver.io.write(Buffer.from([0x81, 0x02, 0x68, 0x69]));
    expect([...written()]).toEqual([0x88, 0x02, 0x03, 0xea]);
    expect(seen.slice(1)).toEqual([
      ['error', expect.any(String)],
      ['close', 1002, expect.any(String)],
    ]);
  });

  it('runs a ping callback when the matching pong arrives, and only then', () => {
    const driver = hybi.http(chatRequest());
    driver.start();
    const calls: string[] = [];
    driver.ping('one', () => calls.push('one'));
    driver.ping('two', () => calls.push('two'));
    driver.io.write(clientBytes((client) => client.sendPong('two')));
    expect(calls).toEqual(['two']);
    driver.io.write(clientBytes((client) => client.sendPong('one')));
    expect(calls).toEqual(['two', 'one']);
  });

  it('reports 1006 when the transport ends without a close handshake', () => {
    const driver = hybi.http(chatRequest());
    const seen = events(driver);
    driver.start();
    driver.io.end();
    expect(seen).toEqual(['open', ['close', 1006, '']]);
  });

  it('keeps reading while its own output is full, answering only the latest ping until drain', () => {
    const driver = hybi.http(chatRequest());
    const written = output(driver);
    driver.start();
    written();
    driver.io.pause(); // what a classic pipe does when socket.write() returns false
    for (const payload of ['one', 'two', 'three']) {
      // Reading goes on (no deadlock between two peers echoing at each other) ...
      expect(driver.io.write(clientBytes((client) => client.sendPing(payload)))).toBe(true);
    }
    // ... but no pong piles up while the socket is full.
    expect(written().length).toBe(0);
    driver.io.resume();
    expect([...written()]).toEqual([0x8a, 5, ...Buffer.from('three')]);
  });

  it('asks the socket to stop reading while the application has paused messages', () => {
    const driver = hybi.http(chatRequest());
    driver.start();
    driver.messages.pause();
    expect(driver.io.write(clientBytes((client) => client.sendText('a')))).toBe(false);
    driver.messages.resume();
    expect(driver.io.write(clientBytes((client) => client.sendText('b')))).toBe(true);
  });

  it('never throws out of parse() for arbitrary bytes', () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed & 0xff;
    };
    for (let round = 0; round < 300; round++) {
      const driver = hybi.http(chatRequest());
      driver.start();
      const bytes = Buffer.alloc(1 + (round % 40), 0);
      for (let index = 0; index < bytes.length; index++) bytes[index] = random();
      expect(() => driver.parse(bytes)).not.toThrow();
    }
  });
});

describe('server driver on a raw socket', () => {
  it('parses the request head, emits connect, and keeps frames sent in the same chunk', () => {
    const driver = hybi.server();
    const written = output(driver);
    const seen = events(driver);
    driver.on('connect', () => driver.start());
    const frames = clientBytes((client) => [...client.sendText('eager'), ...client.sendText('second')]);
    const request = Buffer.from(rawRequest(), 'latin1');
    const all = Buffer.concat([request, frames]);
    // Split in the middle of the head and in the middle of the frames.
    driver.io.write(all.subarray(0, 20));
    driver.io.write(all.subarray(20, request.length + 5));
    driver.io.write(all.subarray(request.length + 5));
    expect(written().toString('latin1')).toContain('101 Switching Protocols');
    expect(seen).toEqual(['open', ['message', 'eager'], ['message', 'second']]);
    expect(driver.headers.host).toBe('example.com');
  });

  it('answers 431 to a request head over maxHeadSize', () => {
    const driver = hybi.server({ maxHeadSize: 1024 });
    const written = output(driver);
    const seen = events(driver);
    driver.io.write(Buffer.from(`GET / HTTP/1.1\r\nX-Big: ${'a'.repeat(2000)}\r\n\r\n`));
    expect(written().toString('latin1')).toMatch(/^HTTP\/1\.1 431 /);
    expect(seen.at(-1)).toEqual(['close', 1002, expect.any(String)]);
  });
});

describe('client driver', () => {
  function serverResponse(request: string, extra = ''): Buffer {
    const key = /Sec-WebSocket-Key: (.+)\r\n/i.exec(request)?.[1] ?? '';
    return Buffer.from(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${computeAcceptKey(key)}\r\n${extra}\r\n`,
      'latin1',
    );
  }

  it('sends a valid request and opens on a valid response, keeping frames that follow it', () => {
    const driver = hybi.client('ws://example.com:8080/path?q=1', { protocols: ['chat'] });
    const written = output(driver);
    const seen = events(driver);
    driver.start();
    const request = written().toString('latin1');
    expect(request.startsWith('GET /path?q=1 HTTP/1.1\r\n')).toBe(true);
    expect(request).toContain('Host: example.com:8080');
    expect(request).toContain('Sec-WebSocket-Version: 13');
    const response = serverResponse(request, 'Sec-WebSocket-Protocol: chat\r\n');
    driver.io.write(Buffer.concat([response, Buffer.from([0x81, 0x02, 0x6f, 0x6b])]));
    expect(seen).toEqual(['open', ['message', 'ok']]);
    expect(driver.protocol).toBe('chat');
    expect(driver.statusCode).toBe(101);
  });

  it("sends the URL's credentials as Basic authorization, unless an Authorization header was set in any case", () => {
    const fromUrl = hybi.client('ws://al%20ice:s%3Ecret@example.com/');
    const written = output(fromUrl);
    fromUrl.start();
    const request = written().toString('latin1');
    expect(request).toContain(`authorization: Basic ${Buffer.from('al ice:s>cret').toString('base64')}`);

    const own = hybi.client('ws://alice:secret@example.com/', { headers: { authorization: 'Bearer token' } });
    const ownWritten = output(own);
    own.start();
    const ownRequest = ownWritten().toString('latin1');
    expect(ownRequest.match(/^authorization:/gim)).toHaveLength(1);
    expect(ownRequest).toContain('authorization: Bearer token');
  });

  it('fails with an error naming the problem on a wrong Sec-WebSocket-Accept', () => {
    const driver = hybi.client('ws://example.com/');
    const seen = events(driver);
    driver.start();
    driver.io.write(
      Buffer.from(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: bm9wZQ==\r\n\r\n',
      ),
    );
    expect(seen[0]).toEqual(['error', expect.stringMatching(/Sec-WebSocket-Accept/)]);
    expect(driver.getState()).toBe('closed');
  });

  it('fails when the server picks a subprotocol that was not offered', () => {
    const driver = hybi.client('ws://example.com/', { protocols: ['a'] });
    const written = output(driver);
    const seen = events(driver);
    driver.start();
    driver.io.write(serverResponse(written().toString('latin1'), 'Sec-WebSocket-Protocol: b\r\n'));
    expect(seen[0]).toEqual(['error', expect.any(String)]);
  });

  it('fails with 1010 when the server accepts an extension that was not offered', () => {
    const driver = hybi.client('ws://example.com/');
    const written = output(driver);
    const seen = events(driver);
    driver.start();
    driver.io.write(
      serverResponse(written().toString('latin1'), 'Sec-WebSocket-Extensions: permessage-deflate\r\n'),
    );
    expect(seen[1]).toEqual(['close', 1010, expect.stringMatching(/not offered/)]);
  });

  it('masks what it sends', () => {
    const driver = hybi.client('ws://example.com/');
    const written = output(driver);
    driver.start();
    driver.io.write(serverResponse(written().toString('latin1')));
    driver.text('masked');
    const frame = written();
    expect(frame[1]! & 0x80).toBe(0x80);
  });

  it('rejects URLs that are not ws: or wss:', () => {
    expect(() => hybi.client('ftp://example.com/')).toThrow(TypeError);
  });
});

describe('validateOptions', () => {
  it('throws on an unknown option, like websocket-driver', () => {
    expect(() => hybi.http(chatRequest(), { maxLenght: 10 } as never)).toThrow(
      /Unrecognized option: maxLenght/,
    );
    expect(hybi.validateOptions({ a: 1 }, ['a'])).toEqual({ a: 1 });
  });
});

/** An extension that finishes messages in reverse order, to prove the driver keeps wire order. */
function reversingExtension(log: string[]): Extension {
  const make = () => {
    const pending: { message: ExtensionMessage; callback: MessageCallback }[] = [];
    const flushLater = () =>
      setTimeout(() => {
        for (const item of pending.splice(0).reverse()) item.callback(null, item.message);
      }, 5);
    return {
      generateOffer: () => ({}),
      activate: () => true,
      generateResponse: () => ({}),
      processIncomingMessage(message: ExtensionMessage, callback: MessageCallback) {
        log.push('in');
        if (pending.push({ message, callback }) === 1) flushLater();
      },
      processOutgoingMessage(message: ExtensionMessage, callback: MessageCallback) {
        log.push('out');
        if (pending.push({ message, callback }) === 1) flushLater();
      },
      close() {
        log.push('closed');
      },
    };
  };
  return {
    name: 'x-reverse',
    type: 'permessage',
    rsv1: false,
    rsv2: true,
    rsv3: false,
    createClientSession: make,
    createServerSession: () => make(),
  };
}

describe('the extension pipeline in the driver', () => {
  it('delivers messages in wire order even when the extension finishes them out of order', async () => {
    const log: string[] = [];
    const driver = hybi.http(chatRequest({ 'sec-websocket-extensions': 'x-reverse' }));
    driver.addExtension(reversingExtension(log));
    const received: unknown[] = [];
    const closed = new Promise<void>((resolve) => driver.on('close', () => resolve()));
    driver.on('message', (event) => received.push(event.data));
    driver.start();
    expect(driver.negotiatedExtensions).toEqual(['x-reverse']);
    driver.io.write(
      clientBytes((client) => [
        ...client.sendText('1'),
        ...client.sendText('2'),
        ...client.sendText('3'),
        ...client.sendClose(1000),
      ]),
    );
    await closed;
    expect(received).toEqual(['1', '2', '3']);
    expect(log.at(-1)).toBe('closed');
  });

  it('writes queued messages before a close requested while they are still being processed', async () => {
    const log: string[] = [];
    const driver = hybi.http(chatRequest({ 'sec-websocket-extensions': 'x-reverse' }));
    driver.addExtension(reversingExtension(log));
    const written = output(driver);
    driver.start();
    written();
    driver.text('a');
    driver.text('b');
    driver.close('bye', 1000);
    await new Promise((resolve) => setTimeout(resolve, 30));
    const bytes = [...written()];
    expect(bytes).toEqual([0x81, 1, 0x61, 0x81, 1, 0x62, 0x88, 5, 0x03, 0xe8, 0x62, 0x79, 0x65]);
  });

  it('fails with 1002 on RSV1 when only RSV2 was negotiated', () => {
    const driver = hybi.http(chatRequest({ 'sec-websocket-extensions': 'x-reverse' }));
    driver.addExtension(reversingExtension([]));
    const seen = events(driver);
    driver.start();
    const frame = clientBytes((client) => client.sendText('x'));
    frame[0]! |= 0x40;
    driver.io.write(frame);
    expect(seen.at(-1)).toEqual(['close', 1002, expect.any(String)]);
  });
});

describe('the messages stream, made on first use', () => {
  it('is not made until asked for, and then carries messages and ends at close', () => {
    const driver = hybi.http(chatRequest());
    driver.start();
    expect(driver.existingMessages).toBeUndefined();
    const received: unknown[] = [];
    let ended = false;
    driver.messages.on('data', (message: unknown) => received.push(message));
    driver.messages.on('end', () => {
      ended = true;
    });
    expect(driver.existingMessages).toBe(driver.messages);
    driver.io.write(clientBytes((client) => client.sendText('first')));
    driver.io.write(clientBytes((client) => client.sendClose(1000)));
    expect(received).toEqual(['first']);
    expect(ended).toBe(true);
  });

  it('is made closed when first asked for after the driver closed', () => {
    const driver = hybi.http(chatRequest());
    driver.start();
    driver.io.write(clientBytes((client) => client.sendClose(1000)));
    expect(driver.messages.readable).toBe(false);
    expect(driver.messages.writable).toBe(false);
  });

  it('pauseInput() makes io.write ask the socket to stop, and resumeInput() emits drain, without the stream', () => {
    const driver = hybi.http(chatRequest());
    driver.start();
    let drains = 0;
    driver.io.on('drain', () => drains++);
    driver.pauseInput();
    expect(driver.io.write(clientBytes((client) => client.sendText('held')))).toBe(false);
    driver.resumeInput();
    expect(drains).toBe(1);
    expect(driver.io.write(clientBytes((client) => client.sendText('flowing')))).toBe(true);
    expect(driver.existingMessages).toBeUndefined();
  });
});
