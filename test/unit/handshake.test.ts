import { describe, expect, it } from 'vitest';
import { HandshakeError } from '../../src/protocol/errors.js';
import {
  assertSafeHeader,
  buildClientRequest,
  buildRejectionResponse,
  buildServerResponse,
  type ClientRequestCheck,
  computeAcceptKey,
  generateKey,
  isWebSocketUpgrade,
  parseTokenList,
  selectSubprotocol,
  type UpgradeRequest,
  validateClientRequest,
  validateServerResponse,
  WEBSOCKET_GUID,
} from '../../src/protocol/handshake.js';
import { HttpHeadParser } from '../../src/protocol/http-head.js';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

function upgradeRequest(
  overrides: {
    method?: string;
    httpVersion?: string;
    headers?: Record<string, string | string[] | undefined>;
  } = {},
): UpgradeRequest {
  return {
    method: overrides.method ?? 'GET',
    httpVersion: overrides.httpVersion ?? '1.1',
    url: '/chat',
    headers: {
      host: 'server.example.com',
      upgrade: 'websocket',
      connection: 'Upgrade',
      'sec-websocket-key': KEY,
      'sec-websocket-version': '13',
      ...overrides.headers,
    },
  };
}

function rejection(check: ClientRequestCheck): HandshakeError {
  if (check.ok) throw new Error('expected the request to be rejected');
  return check.error;
}

describe('computeAcceptKey', () => {
  it('computes the accept value of the RFC 6455 §1.3 example', () => {
    expect(computeAcceptKey(KEY)).toBe(ACCEPT);
  });

  it('uses the GUID of RFC 6455 §1.3', () => {
    expect(WEBSOCKET_GUID).toBe('258EAFA5-E914-47DA-95CA-C5AB0DC85B11');
  });
});

describe('generateKey', () => {
  it('makes a canonical base64 encoding of 16 bytes that a server accepts', () => {
    const key = generateKey();
    expect(key).toHaveLength(24);
    expect(Buffer.from(key, 'base64')).toHaveLength(16);
    expect(validateClientRequest(upgradeRequest({ headers: { 'sec-websocket-key': key } })).ok).toBe(true);
  });

  it('makes a different key each time', () => {
    const keys = new Set(Array.from({ length: 50 }, () => generateKey()));
    expect(keys.size).toBe(50);
  });
});

describe('parseTokenList', () => {
  it('splits on commas, trims spaces and tabs, drops empty elements and keeps case', () => {
    expect(parseTokenList(' keep-alive ,\tUpgrade,, ,x ')).toEqual(['keep-alive', 'Upgrade', 'x']);
  });

  it('reads an array of header values as one list', () => {
    expect(parseTokenList(['a, b', 'c'])).toEqual(['a', 'b', 'c']);
  });

  it('reads a missing header as an empty list', () => {
    expect(parseTokenList(undefined)).toEqual([]);
    expect(parseTokenList('')).toEqual([]);
  });
});

describe('validateClientRequest', () => {
  it('accepts the RFC 6455 §1.3 handshake and returns what the server needs', () => {
    const check = validateClientRequest(
      upgradeRequest({
        headers: {
          origin: 'http://example.com',
          'sec-websocket-protocol': 'chat, superchat',
          'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits',
        },
      }),
    );
    expect(check).toEqual({
      ok: true,
      key: KEY,
      offeredProtocols: ['chat', 'superchat'],
      extensionHeader: 'permessage-deflate; client_max_window_bits',
      origin: 'http://example.com',
    });
  });

  it('returns no protocols, extensions or origin when none were sent', () => {
    expect(validateClientRequest(upgradeRequest())).toEqual({
      ok: true,
      key: KEY,
      offeredProtocols: [],
      extensionHeader: undefined,
      origin: undefined,
    });
  });

  it('accepts Upgrade and Connection in any case and within token lists', () => {
    const check = validateClientRequest(
      upgradeRequest({ headers: { upgrade: 'WebSocket', connection: 'keep-alive, Upgrade' } }),
    );
    expect(check.ok).toBe(true);
  });

  it('accepts HTTP versions above 1.1', () => {
    expect(validateClientRequest(upgradeRequest({ httpVersion: '1.2' })).ok).toBe(true);
  });

  it('joins an extensions header that arrived as an array', () => {
    const check = validateClientRequest(
      upgradeRequest({ headers: { 'sec-websocket-extensions': ['a', 'b; c'] } }),
    );
    expect(check).toMatchObject({ ok: true, extensionHeader: 'a, b; c' });
  });

  it('answers 405 with Allow: GET when the method is POST', () => {
    const error = rejection(validateClientRequest(upgradeRequest({ method: 'POST' })));
    expect(error).toBeInstanceOf(HandshakeError);
    expect(error.status).toBe(405);
    expect(error.headers).toEqual({ Allow: 'GET' });
    expect(error.message).toMatch(/GET/);
  });

  it('answers 400 when the HTTP version is 1.0', () => {
    const error = rejection(validateClientRequest(upgradeRequest({ httpVersion: '1.0' })));
    expect(error.status).toBe(400);
    expect(error.message).toMatch(/HTTP version/);
  });

  it('answers 400 when the Host header is missing', () => {
    const error = rejection(validateClientRequest(upgradeRequest({ headers: { host: undefined } })));
    expect(error.status).toBe(400);
    expect(error.message).toMatch(/Host/);
  });

  it('answers 400 when the Host header was sent twice', () => {
    const error = rejection(
      validateClientRequest(upgradeRequest({ headers: { host: 'a.example, b.example' } })),
    );
    expect(error.status).toBe(400);
    expect(error.message).toMatch(/Host header must appear once/);
  });

  it.each([
    ['missing', undefined],
    ['h2c', 'h2c'],
    ['websocket/13 (a different token)', 'websocket/13'],
  ])('answers 400 when the Upgrade header is %s', (_description, value) => {
    const error = rejection(validateClientRequest(upgradeRequest({ headers: { upgrade: value } })));
    expect(error.status).toBe(400);
    expect(error.message).toMatch(/Upgrade header/);
  });

  it.each([
    ['missing', undefined],
    ['keep-alive only', 'keep-alive'],
    ['a word containing upgrade', 'upgrades'],
  ])('answers 400 when the Connection header is %s', (_description, value) => {
    const error = rejection(validateClientRequest(upgradeRequest({ headers: { connection: value } })));
    expect(error.status).toBe(400);
    expect(error.message).toMatch(/Connection header/);
  });

  it('answers 426 with Sec-WebSocket-Version: 13 when the version is 8', () => {
    const error = rejection(
      validateClientRequest(upgradeRequest({ headers: { 'sec-websocket-version': '8' } })),
    );
    expect(error.status).toBe(426);
    expect(error.headers).toEqual({ 'Sec-WebSocket-Version': '13' });
    expect(error.message).toMatch(/version 8/i);
  });

  it.each([
    ['missing', undefined],
    ['sent twice', '13, 13'],
    ['padded with a zero', '013'],
    ['an array', ['13', '13']],
  ])('answers 426 with Sec-WebSocket-Version: 13 when the version is %s', (_description, value) => {
    const error = rejection(
      validateClientRequest(upgradeRequest({ headers: { 'sec-websocket-version': value } })),
    );
    expect(error.status).toBe(426);
    expect(error.headers).toEqual({ 'Sec-WebSocket-Version': '13' });
  });

  it.each([
    ['missing', undefined, /missing/],
    ['sent twice and joined', `${KEY}, ${KEY}`, /more than once/],
    ['sent twice as an array', [KEY, KEY], /more than once/],
    ['too short', 'dGhlIHNhbXBsZQ==', /not base64 of 16 bytes/],
    ['too long', 'dGhlIHNhbXBsZSBub25jZQ==AAAA', /not base64 of 16 bytes/],
    ['unpadded', 'dGhlIHNhbXBsZSBub25jZQ', /not base64 of 16 bytes/],
    ['not base64', 'dGhlIHNhbXBsZSBub25j!Q==', /not base64 of 16 bytes/],
    ['base64url', 'dGhlIHNhbXBsZSBub25j_Q==', /not base64 of 16 bytes/],
    ['non-canonical (unused bits set)', 'dGhlIHNhbXBsZSBub25jZR==', /not base64 of 16 bytes/],
    ['empty', '', /not base64 of 16 bytes/],
  ])('answers 400 when Sec-WebSocket-Key is %s', (_description, value, message) => {
    const error = rejection(
      validateClientRequest(upgradeRequest({ headers: { 'sec-websocket-key': value } })),
    );
    expect(error.status).toBe(400);
    expect(error.message).toMatch(message);
  });

  it('answers 400 when an offered subprotocol is not a token', () => {
    const error = rejection(
      validateClientRequest(upgradeRequest({ headers: { 'sec-websocket-protocol': 'chat, chat room' } })),
    );
    expect(error.status).toBe(400);
    expect(error.message).toMatch(/"chat room", which is not a token/);
  });

  it('answers 400 when a subprotocol is offered twice', () => {
    const error = rejection(
      validateClientRequest(
        upgradeRequest({ headers: { 'sec-websocket-protocol': 'chat, superchat, chat' } }),
      ),
    );
    expect(error.status).toBe(400);
    expect(error.message).toMatch(/"chat" more than once/);
  });

  it('treats subprotocols that differ only in case as different', () => {
    const check = validateClientRequest(
      upgradeRequest({ headers: { 'sec-websocket-protocol': 'Chat, chat' } }),
    );
    expect(check).toMatchObject({ ok: true, offeredProtocols: ['Chat', 'chat'] });
  });

  it('answers 400 when the Origin header was sent twice', () => {
    const error = rejection(
      validateClientRequest(upgradeRequest({ headers: { origin: 'http://a.example, http://b.example' } })),
    );
    expect(error.status).toBe(400);
    expect(error.message).toMatch(/Origin header must appear once/);
  });

  it('checks the method first, so a POST without any WebSocket headers gets 405', () => {
    const error = rejection(
      validateClientRequest({ method: 'POST', httpVersion: '1.0', url: '/', headers: {} }),
    );
    expect(error.status).toBe(405);
  });

  it('validates a head read by HttpHeadParser', () => {
    const request = buildClientRequest({
      url: new URL('ws://server.example.com/chat'),
      key: KEY,
      protocols: ['chat'],
    });
    const result = new HttpHeadParser('request').push(request);
    expect(result.state).toBe('complete');
    if (result.state !== 'complete') return;
    const check = validateClientRequest({ ...result.head, url: result.head.target });
    expect(check).toMatchObject({ ok: true, key: KEY, offeredProtocols: ['chat'] });
  });
});

describe('isWebSocketUpgrade', () => {
  it('recognizes GET with Upgrade: websocket and Connection: upgrade in any case', () => {
    expect(
      isWebSocketUpgrade(
        upgradeRequest({ headers: { upgrade: 'WEBSOCKET', connection: 'keep-alive, UPGRADE' } }),
      ),
    ).toBe(true);
  });

  it('does not check the version or key', () => {
    expect(
      isWebSocketUpgrade(
        upgradeRequest({ headers: { 'sec-websocket-version': '8', 'sec-websocket-key': undefined } }),
      ),
    ).toBe(true);
  });

  it.each([
    ['a POST', upgradeRequest({ method: 'POST' })],
    ['a request without Upgrade', upgradeRequest({ headers: { upgrade: undefined } })],
    ['an h2c upgrade', upgradeRequest({ headers: { upgrade: 'h2c' } })],
    [
      'a request without the upgrade Connection token',
      upgradeRequest({ headers: { connection: 'keep-alive' } }),
    ],
  ])('rejects %s', (_description, request) => {
    expect(isWebSocketUpgrade(request)).toBe(false);
  });
});

describe('selectSubprotocol', () => {
  it("picks in the server's order of preference, not the client's", () => {
    expect(selectSubprotocol(['chat', 'superchat'], ['superchat', 'chat'])).toBe('superchat');
  });

  it('returns undefined when nothing is shared', () => {
    expect(selectSubprotocol(['chat'], ['superchat'])).toBeUndefined();
    expect(selectSubprotocol([], ['chat'])).toBeUndefined();
  });

  it('compares names case-sensitively', () => {
    expect(selectSubprotocol(['Chat'], ['chat'])).toBeUndefined();
  });
});

describe('buildServerResponse', () => {
  it('writes the 101 response of RFC 6455 §1.3', () => {
    expect(buildServerResponse({ key: KEY }).toString('latin1')).toBe(
      [
        'HTTP/1.1 101 Switching Protocols',
        'Upgrade: websocket',
        'Connection: Upgrade',
        `Sec-WebSocket-Accept: ${ACCEPT}`,
        '',
        '',
      ].join('\r\n'),
    );
  });

  it('adds the protocol, the extensions and custom headers, repeating array values', () => {
    const response = buildServerResponse({
      key: KEY,
      protocol: 'chat',
      extensionHeader: 'permessage-deflate',
      headers: { 'X-Powered-By': 'hybi', 'Set-Cookie': ['a=1', 'b=2'] },
    });
    expect(response.toString('latin1')).toBe(
      [
        'HTTP/1.1 101 Switching Protocols',
        'Upgrade: websocket',
        'Connection: Upgrade',
        `Sec-WebSocket-Accept: ${ACCEPT}`,
        'Sec-WebSocket-Protocol: chat',
        'Sec-WebSocket-Extensions: permessage-deflate',
        'X-Powered-By: hybi',
        'Set-Cookie: a=1',
        'Set-Cookie: b=2',
        '',
        '',
      ].join('\r\n'),
    );
  });

  it('leaves out an empty extensions header', () => {
    expect(buildServerResponse({ key: KEY, extensionHeader: '' }).toString()).not.toMatch(/Extensions/);
  });

  it.each([
    ['a custom header value with CR LF', { headers: { 'X-A': 'a\r\nSet-Cookie: evil=1' } }],
    ['a custom header value with a bare LF', { headers: { 'X-A': 'a\nb' } }],
    ['a custom header value with NUL', { headers: { 'X-A': 'a\u0000b' } }],
    [
      'a custom header value with U+010A, which latin1 would turn into LF',
      { headers: { 'X-A': 'a\u010ab' } },
    ],
    ['a custom header name with a colon', { headers: { 'X-A: b\r\nX-B': 'c' } }],
    ['an element of an array value with CR LF', { headers: { 'Set-Cookie': ['a=1', 'b\r\n'] } }],
    ['a protocol with CR LF', { protocol: 'chat\r\nX-Evil: 1' }],
  ])('throws a TypeError for %s', (_description, options) => {
    expect(() => buildServerResponse({ key: KEY, ...options })).toThrow(TypeError);
  });
});

describe('buildRejectionResponse', () => {
  it('writes a 426 with its reason phrase, Sec-WebSocket-Version and the message as the body', () => {
    const error = rejection(
      validateClientRequest(upgradeRequest({ headers: { 'sec-websocket-version': '8' } })),
    );
    const body = error.message;
    expect(buildRejectionResponse(error).toString('latin1')).toBe(
      [
        'HTTP/1.1 426 Upgrade Required',
        'Content-Type: text/plain; charset=utf-8',
        `Content-Length: ${Buffer.byteLength(body)}`,
        'Connection: close',
        'Sec-WebSocket-Version: 13',
        '',
        body,
      ].join('\r\n'),
    );
  });

  it('writes a 405 with Allow: GET', () => {
    const response = buildRejectionResponse(new HandshakeError(405, 'no', { Allow: 'GET' })).toString();
    expect(response.startsWith('HTTP/1.1 405 Method Not Allowed\r\n')).toBe(true);
    expect(response).toMatch(/\r\nAllow: GET\r\n/);
  });

  it('counts Content-Length in UTF-8 bytes, not characters', () => {
    const message = 'Origin n\u2019est pas permise';
    const response = buildRejectionResponse(new HandshakeError(403, message));
    const [head, body] = response.toString('utf8').split('\r\n\r\n') as [string, string];
    expect(Buffer.byteLength(message)).toBe(message.length + 2);
    expect(head).toContain(`\r\nContent-Length: ${Buffer.byteLength(message)}\r\n`);
    expect(body).toBe(message);
  });

  it("lets the error's Content-Type replace the default", () => {
    const response = buildRejectionResponse(
      new HandshakeError(400, '{}', { 'content-type': 'application/json' }),
    );
    expect(response.toString()).toMatch(/\r\nContent-Type: application\/json\r\n/);
    expect(response.toString()).not.toMatch(/text\/plain/);
  });

  it('answers an unknown status with a generic reason phrase', () => {
    expect(buildRejectionResponse(new HandshakeError(499, 'x')).toString()).toMatch(
      /^HTTP\/1\.1 499 Unknown\r\n/,
    );
  });

  it.each([
    ['status 0 (a client-side error)', new HandshakeError(0, 'x')],
    ['status 600', new HandshakeError(600, 'x')],
    ['a Content-Length header', new HandshakeError(400, 'x', { 'Content-Length': '1' })],
    ['a Connection header', new HandshakeError(400, 'x', { Connection: 'keep-alive' })],
    ['a header value with CR LF', new HandshakeError(400, 'x', { 'X-A': 'a\r\nb' })],
  ])('throws a TypeError for an error with %s', (_description, error) => {
    expect(() => buildRejectionResponse(error)).toThrow(TypeError);
  });
});

describe('buildClientRequest', () => {
  it('writes the GET request of RFC 6455 §1.3', () => {
    const request = buildClientRequest({
      url: new URL('ws://server.example.com/chat'),
      key: KEY,
      origin: 'http://example.com',
      protocols: ['chat', 'superchat'],
    });
    expect(request.toString('latin1')).toBe(
      [
        'GET /chat HTTP/1.1',
        'Host: server.example.com',
        'Upgrade: websocket',
        'Connection: Upgrade',
        `Sec-WebSocket-Key: ${KEY}`,
        'Sec-WebSocket-Version: 13',
        'Origin: http://example.com',
        'Sec-WebSocket-Protocol: chat, superchat',
        '',
        '',
      ].join('\r\n'),
    );
  });

  it('adds extensions and custom headers after the handshake headers', () => {
    const request = buildClientRequest({
      url: new URL('ws://a.example/'),
      key: KEY,
      extensionHeader: 'permessage-deflate; client_max_window_bits',
      headers: { Authorization: 'Bearer t', Cookie: ['a=1', 'b=2'] },
    });
    expect(request.toString('latin1')).toMatch(
      /\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\nAuthorization: Bearer t\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n$/,
    );
  });

  it.each([
    ['ws://a.example:80/', 'GET / HTTP/1.1', 'Host: a.example'],
    ['wss://a.example:443/', 'GET / HTTP/1.1', 'Host: a.example'],
    ['ws://a.example:443/', 'GET / HTTP/1.1', 'Host: a.example:443'],
    ['wss://a.example:80/', 'GET / HTTP/1.1', 'Host: a.example:80'],
    ['ws://a.example:8080', 'GET / HTTP/1.1', 'Host: a.example:8080'],
    ['ws://[::1]/x', 'GET /x HTTP/1.1', 'Host: [::1]'],
    ['wss://[2001:db8::1]:8443/x', 'GET /x HTTP/1.1', 'Host: [2001:db8::1]:8443'],
    ['ws://a.example/p/q?x=1&y=2#fragment', 'GET /p/q?x=1&y=2 HTTP/1.1', 'Host: a.example'],
    ['ws://user:pass@a.example/', 'GET / HTTP/1.1', 'Host: a.example'],
  ])('writes %s as %s with %s', (url, requestLine, hostLine) => {
    const lines = buildClientRequest({ url: new URL(url), key: KEY })
      .toString('latin1')
      .split('\r\n');
    expect(lines[0]).toBe(requestLine);
    expect(lines[1]).toBe(hostLine);
    expect(lines.join('\n')).not.toMatch(/pass|fragment/);
  });

  it.each([
    ['a scheme other than ws, wss, http or https', { url: new URL('ftp://a.example/') }],
    ['a subprotocol that is not a token', { url: new URL('ws://a.example/'), protocols: ['chat room'] }],
    ['a subprotocol listed twice', { url: new URL('ws://a.example/'), protocols: ['chat', 'chat'] }],
    ['an origin with CR LF', { url: new URL('ws://a.example/'), origin: 'http://a\r\nX: y' }],
    [
      'a custom header name that is not a token',
      { url: new URL('ws://a.example/'), headers: { 'X Y': 'z' } },
    ],
  ])('throws a TypeError for %s', (_description, options) => {
    expect(() => buildClientRequest({ key: KEY, ...options })).toThrow(TypeError);
  });
});

describe('validateServerResponse', () => {
  const goodHeaders = { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-accept': ACCEPT };

  it('accepts the 101 response of RFC 6455 §1.3', () => {
    expect(
      validateServerResponse({ statusCode: 101, headers: goodHeaders }, { key: KEY, protocols: [] }),
    ).toEqual({
      ok: true,
      protocol: undefined,
      extensionHeader: undefined,
    });
  });

  it('returns the chosen subprotocol and the extensions header unchecked', () => {
    const check = validateServerResponse(
      {
        statusCode: 101,
        headers: {
          ...goodHeaders,
          'sec-websocket-protocol': 'superchat',
          'sec-websocket-extensions': 'anything; at=all',
        },
      },
      { key: KEY, protocols: ['chat', 'superchat'] },
    );
    expect(check).toEqual({ ok: true, protocol: 'superchat', extensionHeader: 'anything; at=all' });
  });

  it('allows a server to pick no subprotocol when some were offered', () => {
    const check = validateServerResponse(
      { statusCode: 101, headers: goodHeaders },
      { key: KEY, protocols: ['chat'] },
    );
    expect(check).toEqual({ ok: true, protocol: undefined, extensionHeader: undefined });
  });

  it('accepts Upgrade and Connection in any case and within token lists', () => {
    const check = validateServerResponse(
      {
        statusCode: 101,
        headers: { ...goodHeaders, upgrade: 'WebSocket', connection: 'keep-alive, upgrade' },
      },
      { key: KEY, protocols: [] },
    );
    expect(check.ok).toBe(true);
  });

  it.each([200, 302, 400, 403, 426, 500])(
    'fails with status %d and "Unexpected server response: %d"',
    (status) => {
      const check = validateServerResponse({ statusCode: status, headers: {} }, { key: KEY, protocols: [] });
      expect(check.ok).toBe(false);
      if (!check.ok) {
        expect(check.error).toBeInstanceOf(HandshakeError);
        expect(check.error.status).toBe(status);
        expect(check.error.message).toBe(`Unexpected server response: ${status}`);
      }
    },
  );

  it.each([
    ['the Upgrade header is missing', { upgrade: undefined }, /Upgrade header/],
    ['the Upgrade header is not websocket', { upgrade: 'h2c' }, /Upgrade header/],
    ['the Connection header is missing', { connection: undefined }, /Connection header/],
    ['the Connection header lacks upgrade', { connection: 'close' }, /Connection header/],
    ['Sec-WebSocket-Accept is missing', { 'sec-websocket-accept': undefined }, /no Sec-WebSocket-Accept/],
    [
      'Sec-WebSocket-Accept is wrong',
      { 'sec-websocket-accept': computeAcceptKey(generateKey()) },
      /does not match/,
    ],
    [
      'Sec-WebSocket-Accept is sent twice',
      { 'sec-websocket-accept': `${ACCEPT}, ${ACCEPT}` },
      /does not match/,
    ],
    ['the subprotocol was not offered', { 'sec-websocket-protocol': 'other' }, /which was not offered/],
    ['the subprotocol differs in case', { 'sec-websocket-protocol': 'Chat' }, /which was not offered/],
    [
      'the subprotocol header names two',
      { 'sec-websocket-protocol': 'chat, superchat' },
      /which was not offered/,
    ],
  ])('fails with status 101 when %s', (_description, changes, message) => {
    const check = validateServerResponse(
      { statusCode: 101, headers: { ...goodHeaders, ...changes } },
      { key: KEY, protocols: ['chat', 'superchat'] },
    );
    expect(check.ok).toBe(false);
    if (!check.ok) {
      expect(check.error.status).toBe(101);
      expect(check.error.message).toMatch(message);
    }
  });

  it('fails when the server chose a subprotocol although none was offered', () => {
    const check = validateServerResponse(
      { statusCode: 101, headers: { ...goodHeaders, 'sec-websocket-protocol': 'chat' } },
      { key: KEY, protocols: [] },
    );
    expect(check.ok).toBe(false);
    if (!check.ok) expect(check.error.message).toMatch(/none was offered/);
  });
});

describe('a whole handshake through the head parser', () => {
  it('connects a client and a server that agree on a subprotocol, keeping a frame sent after each head', () => {
    const key = generateKey();
    const clientFrame = Buffer.from([0x81, 0x80, 1, 2, 3, 4]);
    const serverFrame = Buffer.from([0x81, 0x00]);

    const request = buildClientRequest({
      url: new URL('wss://example.com:8443/feed?x=1'),
      key,
      protocols: ['v1', 'v2'],
    });
    const requestResult = new HttpHeadParser('request').push(Buffer.concat([request, clientFrame]));
    if (requestResult.state !== 'complete') throw new Error('request head incomplete');
    expect(requestResult.rest).toEqual(clientFrame);
    expect(requestResult.head.target).toBe('/feed?x=1');
    expect(requestResult.head.headers.host).toBe('example.com:8443');

    const check = validateClientRequest({ ...requestResult.head, url: requestResult.head.target });
    if (!check.ok) throw check.error;
    const protocol = selectSubprotocol(check.offeredProtocols, ['v2', 'v1']);
    const response = buildServerResponse({ key: check.key, protocol });

    const responseResult = new HttpHeadParser('response').push(Buffer.concat([response, serverFrame]));
    if (responseResult.state !== 'complete') throw new Error('response head incomplete');
    expect(responseResult.rest).toEqual(serverFrame);
    expect(validateServerResponse(responseResult.head, { key, protocols: ['v1', 'v2'] })).toEqual({
      ok: true,
      protocol: 'v2',
      extensionHeader: undefined,
    });
  });
});

describe('assertSafeHeader', () => {
  it('accepts tokens with visible ASCII, spaces, tabs and latin1 values', () => {
    expect(() => assertSafeHeader('X-A', 'a b\tc \u00e9 ~')).not.toThrow();
    expect(() => assertSafeHeader('X-A', '')).not.toThrow();
  });

  it.each([
    ['an empty name', '', 'v'],
    ['a name with a space', 'X A', 'v'],
    ['a name with a colon', 'X:A', 'v'],
    ['a value with CR', 'X-A', 'a\rb'],
    ['a value with LF', 'X-A', 'a\nb'],
    ['a value with NUL', 'X-A', 'a\u0000b'],
    ['a value with DEL', 'X-A', 'a\u007fb'],
    ['a value beyond U+00FF', 'X-A', 'a\u2019b'],
  ])('throws a TypeError for %s', (_description, name, value) => {
    expect(() => assertSafeHeader(name, value)).toThrow(TypeError);
  });
});
