import { describe, expect, it } from 'vitest';
import {
  type HeadParseResult,
  HttpHeadParser,
  type HttpRequestHead,
  type HttpResponseHead,
  isToken,
} from '../../src/protocol/http-head.js';

const REQUEST = [
  'GET /chat?room=1 HTTP/1.1',
  'Host: server.example.com',
  'Upgrade: websocket',
  'Connection: Upgrade',
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
  'Sec-WebSocket-Version: 13',
  '',
  '',
].join('\r\n');

// A masked text frame "Hi" a client might send right behind its request.
const EAGER_FRAME = Buffer.from([0x81, 0x82, 0x01, 0x02, 0x03, 0x04, 0x49, 0x6b]);

function parseRequest(text: string | Buffer, maxHeadSize?: number): HeadParseResult<HttpRequestHead> {
  const parser = new HttpHeadParser('request', maxHeadSize === undefined ? {} : { maxHeadSize });
  return parser.push(typeof text === 'string' ? Buffer.from(text, 'latin1') : text);
}

function requestHead(text: string): HttpRequestHead {
  const result = parseRequest(text);
  if (result.state !== 'complete') throw new Error(`expected a complete head, got ${JSON.stringify(result)}`);
  return result.head;
}

function parseResponse(text: string): HeadParseResult<HttpResponseHead> {
  return new HttpHeadParser('response').push(Buffer.from(text, 'latin1'));
}

/** Feeds `chunks` one after another and returns the first result that is not 'incomplete'. */
function feed<K extends 'request' | 'response'>(parser: HttpHeadParser<K>, chunks: readonly Buffer[]) {
  for (const chunk of chunks) {
    const result = parser.push(chunk);
    if (result.state !== 'incomplete') return result;
  }
  return { state: 'incomplete' } as const;
}

/**
 * Feeds chunks until the head is complete, then returns it with every byte after it: the parser's `rest`
 * followed by the chunks it was never given. Whatever the chunking, those bytes must be the same.
 */
function feedUntilHead(parser: HttpHeadParser<'request'>, chunks: readonly Buffer[]) {
  for (let index = 0; index < chunks.length; index++) {
    const result = parser.push(chunks[index]!);
    if (result.state === 'error') throw new Error(result.reason);
    if (result.state === 'complete') {
      return { head: result.head, afterHead: Buffer.concat([result.rest, ...chunks.slice(index + 1)]) };
    }
  }
  throw new Error('the head never completed');
}

describe('HttpHeadParser for requests', () => {
  it('reads the request line, headers and raw headers', () => {
    const head = requestHead(REQUEST);
    expect(head.method).toBe('GET');
    expect(head.target).toBe('/chat?room=1');
    expect(head.httpVersion).toBe('1.1');
    expect({ ...head.headers }).toEqual({
      host: 'server.example.com',
      upgrade: 'websocket',
      connection: 'Upgrade',
      'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
      'sec-websocket-version': '13',
    });
    expect(head.rawHeaders).toEqual([
      'Host',
      'server.example.com',
      'Upgrade',
      'websocket',
      'Connection',
      'Upgrade',
      'Sec-WebSocket-Key',
      'dGhlIHNhbXBsZSBub25jZQ==',
      'Sec-WebSocket-Version',
      '13',
    ]);
  });

  it('returns an empty rest when nothing follows the head', () => {
    const result = parseRequest(REQUEST);
    expect(result.state).toBe('complete');
    if (result.state === 'complete') expect(result.rest.length).toBe(0);
  });

  it('hands back the bytes after the blank line as rest', () => {
    const result = parseRequest(Buffer.concat([Buffer.from(REQUEST), EAGER_FRAME]));
    expect(result.state).toBe('complete');
    if (result.state === 'complete') expect(result.rest).toEqual(EAGER_FRAME);
  });

  it('joins repeated headers with ", " and keeps set-cookie as an array', () => {
    const head = requestHead(
      'GET / HTTP/1.1\r\nHost: a\r\nX-Thing: 1\r\nx-thing: 2\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\n\r\n',
    );
    expect(head.headers['x-thing']).toBe('1, 2');
    expect(head.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(head.rawHeaders).toEqual([
      'Host',
      'a',
      'X-Thing',
      '1',
      'x-thing',
      '2',
      'Set-Cookie',
      'a=1',
      'set-cookie',
      'b=2',
    ]);
  });

  it('trims spaces and tabs around values but keeps those inside', () => {
    const head = requestHead('GET / HTTP/1.1\r\nX-A: \t a  b \t\r\nX-B:c\r\nX-C:\r\n\r\n');
    expect(head.headers['x-a']).toBe('a  b');
    expect(head.headers['x-b']).toBe('c');
    expect(head.headers['x-c']).toBe('');
  });

  it('keeps a header named __proto__ as a header, on a null-prototype object like node', () => {
    const head = requestHead('GET / HTTP/1.1\r\n__proto__: x\r\n\r\n');
    expect(Object.getPrototypeOf(head.headers)).toBe(null);
    expect(Object.entries(head.headers)).toEqual([['__proto__', 'x']]);
  });

  it('decodes header bytes as latin1, keeping every octet', () => {
    const head = requestHead('GET / HTTP/1.1\r\nX-Name: caf\u00e9\r\n\r\n');
    expect(head.headers['x-name']).toBe('caf\u00e9');
  });

  it('reads HTTP/1.0 requests (the handshake, not the parser, refuses them)', () => {
    expect(requestHead('GET / HTTP/1.0\r\n\r\n').httpVersion).toBe('1.0');
  });

  it('skips empty lines before the request line', () => {
    const head = requestHead(`\r\n\r\n${REQUEST}`);
    expect(head.method).toBe('GET');
    expect(head.headers.host).toBe('server.example.com');
  });

  it('reads the same head and the same rest at every split point and byte by byte', () => {
    const bytes = Buffer.concat([Buffer.from(REQUEST), EAGER_FRAME]);
    const whole = requestHead(REQUEST);
    const chunkings: Buffer[][] = [];
    for (let split = 0; split <= bytes.length; split++) {
      chunkings.push([bytes.subarray(0, split), bytes.subarray(split)]);
    }
    const byteByByte: Buffer[] = [];
    for (let index = 0; index < bytes.length; index++) byteByByte.push(bytes.subarray(index, index + 1));
    chunkings.push(byteByByte);
    for (const chunks of chunkings) {
      const { head, afterHead } = feedUntilHead(new HttpHeadParser('request'), chunks);
      expect(head).toEqual(whole);
      expect(afterHead).toEqual(EAGER_FRAME);
    }
  });

  it('finds a CRLF CRLF split across chunks in every possible way', () => {
    const head = Buffer.from('GET / HTTP/1.1\r\nHost: a');
    const terminator = Buffer.from('\r\n\r\n');
    for (let split = 0; split <= terminator.length; split++) {
      const parser = new HttpHeadParser('request');
      expect(parser.push(head).state).toBe('incomplete');
      expect(parser.push(terminator.subarray(0, split)).state).toBe(split === 4 ? 'complete' : 'incomplete');
      if (split < 4) {
        const result = parser.push(Buffer.concat([terminator.subarray(split), EAGER_FRAME]));
        expect(result.state).toBe('complete');
        if (result.state === 'complete') expect(result.rest).toEqual(EAGER_FRAME);
      }
    }
  });

  it('keeps a frame that arrives with the last byte of the head when fed in three chunks', () => {
    const bytes = Buffer.concat([Buffer.from(REQUEST), EAGER_FRAME]);
    const headLength = Buffer.byteLength(REQUEST);
    const result = feed(new HttpHeadParser('request'), [
      bytes.subarray(0, 10),
      bytes.subarray(10, headLength - 1),
      bytes.subarray(headLength - 1),
    ]);
    expect(result.state).toBe('complete');
    if (result.state === 'complete') expect(result.rest).toEqual(EAGER_FRAME);
  });

  it('reports incomplete for an empty chunk', () => {
    expect(new HttpHeadParser('request').push(Buffer.alloc(0))).toEqual({ state: 'incomplete' });
  });

  describe('size limit', () => {
    function headOfSize(size: number): string {
      const prefix = 'GET / HTTP/1.1\r\nX-Pad: ';
      const suffix = '\r\n\r\n';
      return prefix + 'a'.repeat(size - prefix.length - suffix.length) + suffix;
    }

    it('accepts a head of exactly maxHeadSize bytes', () => {
      expect(parseRequest(headOfSize(100), 100).state).toBe('complete');
    });

    it('answers 431 for a head one byte over maxHeadSize', () => {
      const result = parseRequest(headOfSize(101), 100);
      expect(result).toEqual({ state: 'error', status: 431, reason: 'head is larger than 100 bytes' });
    });

    it('defaults maxHeadSize to 16384 bytes', () => {
      expect(parseRequest(headOfSize(16384)).state).toBe('complete');
      expect(parseRequest(headOfSize(16385))).toMatchObject({ state: 'error', status: 431 });
    });

    it('answers 431 as soon as the limit is passed, without waiting for the end of the head', () => {
      const parser = new HttpHeadParser('request', { maxHeadSize: 100 });
      expect(parser.push(Buffer.from('GET / HTTP/1.1\r\nX-Pad: ')).state).toBe('incomplete');
      expect(parser.push(Buffer.alloc(77, 'a')).state).toBe('incomplete');
      expect(parser.push(Buffer.from('a'))).toMatchObject({ state: 'error', status: 431 });
    });

    it('answers 431 on the first chunk when one chunk is far over the limit', () => {
      const result = parseRequest(Buffer.alloc(1024 * 1024, 'a'), 16384);
      expect(result).toMatchObject({ state: 'error', status: 431 });
    });

    it('allows rest beyond maxHeadSize: only the head is limited', () => {
      const bytes = Buffer.concat([Buffer.from(headOfSize(100)), Buffer.alloc(1000, 1)]);
      const result = parseRequest(bytes, 100);
      expect(result.state).toBe('complete');
      if (result.state === 'complete') expect(result.rest.length).toBe(1000);
    });

    it('reads a 16 KiB head pushed byte by byte in linear time', () => {
      const bytes = Buffer.from(headOfSize(16384));
      const parser = new HttpHeadParser('request');
      const started = performance.now();
      let result: HeadParseResult<HttpRequestHead> = { state: 'incomplete' };
      for (let index = 0; index < bytes.length; index++)
        result = parser.push(bytes.subarray(index, index + 1));
      expect(result.state).toBe('complete');
      expect(performance.now() - started).toBeLessThan(1000);
    });
  });

  const malformed: Array<[string, number, string]> = [
    ['obs-fold continuation line', 400, 'GET / HTTP/1.1\r\nX-A: 1\r\n 2\r\n\r\n'],
    ['obs-fold with a tab', 400, 'GET / HTTP/1.1\r\nX-A: 1\r\n\t2\r\n\r\n'],
    ['header name with a space', 400, 'GET / HTTP/1.1\r\nX A: 1\r\n\r\n'],
    ['whitespace before the colon', 400, 'GET / HTTP/1.1\r\nHost : a\r\n\r\n'],
    ['empty header name', 400, 'GET / HTTP/1.1\r\n: a\r\n\r\n'],
    ['header name with a separator', 400, 'GET / HTTP/1.1\r\nX(A): 1\r\n\r\n'],
    ['missing colon', 400, 'GET / HTTP/1.1\r\nHost a\r\n\r\n'],
    ['NUL inside a value', 400, 'GET / HTTP/1.1\r\nX-A: a\u0000b\r\n\r\n'],
    ['bare CR inside a value', 400, 'GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n'],
    ['bare LF inside the head', 400, 'GET / HTTP/1.1\r\nX-A: a\nX-B: b\r\n\r\n'],
    ['bare LF line endings', 400, 'GET / HTTP/1.1\nHost: a\n\n'],
    ['request line without a version', 400, 'GET /\r\n\r\n'],
    ['request line with two spaces', 400, 'GET  / HTTP/1.1\r\n\r\n'],
    ['request line with a space in the target', 400, 'GET /a b HTTP/1.1\r\n\r\n'],
    ['request line with a trailing space', 400, 'GET / HTTP/1.1 \r\n\r\n'],
    ['method that is not a token', 400, 'G(T / HTTP/1.1\r\n\r\n'],
    ['target with a control character', 400, 'GET /\u0001 HTTP/1.1\r\n\r\n'],
    ['lowercase protocol name', 400, 'GET / http/1.1\r\n\r\n'],
    ['version without a minor number', 400, 'GET / HTTP/1\r\n\r\n'],
    ['version with two-digit numbers', 400, 'GET / HTTP/1.10\r\n\r\n'],
    ['request for HTTP/2.0', 505, 'GET / HTTP/2.0\r\n\r\n'],
    ['request for HTTP/0.9', 505, 'GET / HTTP/0.9\r\n\r\n'],
    ['TLS ClientHello sent to a plain socket', 400, '\u0016\u0003\u0001\u0002\u0000\u0001\u0000'],
  ];

  it.each(malformed)('rejects a %s with %d', (_description, status, text) => {
    const result = parseRequest(text);
    expect(result.state).toBe('error');
    if (result.state === 'error') {
      expect(result.status).toBe(status);
      expect(result.reason.length).toBeGreaterThan(0);
    }
  });

  it('rejects a bare LF in the first chunk without waiting for more', () => {
    expect(new HttpHeadParser('request').push(Buffer.from('GET / HTTP/1.1\n'))).toMatchObject({
      state: 'error',
      status: 400,
    });
  });

  it('throws when pushed to after the head was complete', () => {
    const parser = new HttpHeadParser('request');
    expect(parser.push(Buffer.from(REQUEST)).state).toBe('complete');
    expect(() => parser.push(Buffer.from('x'))).toThrow(Error);
  });

  it('throws when pushed to after an error', () => {
    const parser = new HttpHeadParser('request');
    expect(parser.push(Buffer.from('GET / HTTP/2.0\r\n\r\n')).state).toBe('error');
    expect(() => parser.push(Buffer.from('x'))).toThrow(Error);
  });

  it('throws a TypeError for a maxHeadSize that is not a positive integer', () => {
    expect(() => new HttpHeadParser('request', { maxHeadSize: 0 })).toThrow(TypeError);
    expect(() => new HttpHeadParser('request', { maxHeadSize: 1.5 })).toThrow(TypeError);
  });
});

describe('HttpHeadParser for responses', () => {
  const RESPONSE = [
    'HTTP/1.1 101 Switching Protocols',
    'Upgrade: websocket',
    'Connection: Upgrade',
    'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=',
    '',
    '',
  ].join('\r\n');

  it('reads the status line and headers', () => {
    const result = parseResponse(RESPONSE);
    expect(result.state).toBe('complete');
    if (result.state !== 'complete') return;
    expect(result.head.httpVersion).toBe('1.1');
    expect(result.head.statusCode).toBe(101);
    expect(result.head.statusMessage).toBe('Switching Protocols');
    expect(result.head.headers['sec-websocket-accept']).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    expect(result.head.rawHeaders).toHaveLength(6);
  });

  it('hands back a frame the server sent right after its 101 as rest', () => {
    const parser = new HttpHeadParser('response');
    const frame = Buffer.from([0x81, 0x02, 0x48, 0x69]);
    const result = parser.push(Buffer.concat([Buffer.from(RESPONSE), frame]));
    expect(result.state).toBe('complete');
    if (result.state === 'complete') expect(result.rest).toEqual(frame);
  });

  it('accepts a status line without a reason phrase, with or without the space', () => {
    for (const line of ['HTTP/1.1 101', 'HTTP/1.1 101 ']) {
      const result = parseResponse(`${line}\r\n\r\n`);
      expect(result).toMatchObject({ state: 'complete', head: { statusCode: 101, statusMessage: '' } });
    }
  });

  it('keeps a reason phrase with spaces in it', () => {
    expect(parseResponse('HTTP/1.1 404 Not Found Here\r\n\r\n')).toMatchObject({
      head: { statusCode: 404, statusMessage: 'Not Found Here' },
    });
  });

  it.each([
    ['a status code with two digits', 'HTTP/1.1 10 Nope\r\n\r\n'],
    ['a status code with four digits', 'HTTP/1.1 1010 Nope\r\n\r\n'],
    ['no status code', 'HTTP/1.1\r\n\r\n'],
    ['HTTP/2.0', 'HTTP/2.0 101 Switching Protocols\r\n\r\n'],
    ['a header without a colon', 'HTTP/1.1 101 OK\r\nUpgrade websocket\r\n\r\n'],
    ['an obs-fold line', 'HTTP/1.1 101 OK\r\nUpgrade: web\r\n socket\r\n\r\n'],
  ])('fails with status 0 for %s', (_description, text) => {
    const result = parseResponse(text);
    expect(result.state).toBe('error');
    if (result.state === 'error') expect(result.status).toBe(0);
  });

  it('fails with status 0 when the response head is too large', () => {
    const result = new HttpHeadParser('response', { maxHeadSize: 10 }).push(Buffer.from(RESPONSE));
    expect(result).toEqual({ state: 'error', status: 0, reason: 'head is larger than 10 bytes' });
  });
});

describe('isToken', () => {
  it('accepts RFC 9110 tchars and rejects separators, controls and the empty string', () => {
    expect(isToken("!#$%&'*+-.^_`|~09azAZ")).toBe(true);
    for (const bad of ['', 'a b', 'a,b', 'a;b', 'a=b', '"a"', 'a\tb', 'a/b', '\u00e9', 'a\u0000']) {
      expect(isToken(bad), JSON.stringify(bad)).toBe(false);
    }
  });
});
