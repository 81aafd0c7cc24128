import { describe, expect, it } from 'vitest';
import { HandshakeError } from '../../src/protocol/errors.js';
import {
  buildExtendedConnectRejection,
  buildExtendedConnectRequest,
  buildExtendedConnectResponse,
  type ExtendedConnectCheck,
  type Http2HeaderMap,
  isExtendedConnect,
  validateExtendedConnect,
  validateExtendedConnectResponse,
} from '../../src/protocol/extended-connect.js';

/** The request of RFC 8441 §5.1, with `overrides` applied (undefined removes a header). */
function connectRequest(overrides: Record<string, string | string[] | undefined> = {}): Http2HeaderMap {
  const headers: Record<string, string | string[] | undefined> = {
    ':method': 'CONNECT',
    ':protocol': 'websocket',
    ':scheme': 'https',
    ':path': '/chat?room=1',
    ':authority': 'server.example.com',
    'sec-websocket-protocol': 'chat, superchat',
    'sec-websocket-extensions': 'permessage-deflate',
    'sec-websocket-version': '13',
    origin: 'http://www.example.com',
    ...overrides,
  };
  for (const name of Object.keys(headers)) if (headers[name] === undefined) delete headers[name];
  return headers;
}

function failure(check: ExtendedConnectCheck): HandshakeError {
  if (check.ok) throw new Error('expected the check to fail');
  return check.error;
}

describe('validateExtendedConnect', () => {
  it('accepts the request of RFC 8441 §5.1 and reports what it asks for', () => {
    expect(validateExtendedConnect(connectRequest())).toEqual({
      ok: true,
      scheme: 'https',
      authority: 'server.example.com',
      path: '/chat?room=1',
      offeredProtocols: ['chat', 'superchat'],
      extensionHeader: 'permessage-deflate',
      origin: 'http://www.example.com',
    });
  });

  it('accepts a minimal ws: request with no subprotocol, extension or origin', () => {
    const check = validateExtendedConnect(
      connectRequest({
        ':scheme': 'http',
        'sec-websocket-protocol': undefined,
        'sec-websocket-extensions': undefined,
        origin: undefined,
      }),
    );
    expect(check).toMatchObject({ ok: true, scheme: 'http', offeredProtocols: [], origin: undefined });
  });

  it('ignores a Sec-WebSocket-Key: RFC 8441 §5 leaves it unprocessed', () => {
    expect(validateExtendedConnect(connectRequest({ 'sec-websocket-key': 'not even base64' })).ok).toBe(true);
  });

  it('answers another method with 405 and Allow: CONNECT', () => {
    const error = failure(validateExtendedConnect(connectRequest({ ':method': 'GET' })));
    expect([error.status, error.headers]).toEqual([405, { allow: 'CONNECT' }]);
  });

  it('answers a CONNECT without :protocol (a tunnel request) with 400', () => {
    expect(failure(validateExtendedConnect(connectRequest({ ':protocol': undefined }))).status).toBe(400);
  });

  it('answers an unknown :protocol with 501 and accepts "WebSocket" in any case', () => {
    const error = failure(validateExtendedConnect(connectRequest({ ':protocol': 'connect-udp' })));
    expect([error.status, error.message]).toEqual([501, 'The protocol "connect-udp" is not served here']);
    expect(validateExtendedConnect(connectRequest({ ':protocol': 'WebSocket' })).ok).toBe(true);
  });

  it.each([
    [':scheme', undefined, 'The :scheme pseudo-header is missing (RFC 8441 §4)'],
    [':scheme', 'ftp', 'The :scheme must be http or https, not "ftp"'],
    [':path', undefined, 'The :path pseudo-header is missing (RFC 8441 §4)'],
    [':path', '*', 'The :path must start with "/", not "*"'],
    [':authority', undefined, 'The :authority pseudo-header is missing or empty (RFC 8441 §5)'],
    [':authority', '', 'The :authority pseudo-header is missing or empty (RFC 8441 §5)'],
    ['host', 'other.example.com', 'The Host header "other.example.com" differs from :authority'],
    ['connection', 'Upgrade', 'The connection header is not allowed over HTTP/2 (RFC 9113 §8.2.2)'],
    ['upgrade', 'websocket', 'The upgrade header is not allowed over HTTP/2 (RFC 9113 §8.2.2)'],
    ['sec-websocket-protocol', 'chat, chat', 'Sec-WebSocket-Protocol offers "chat" more than once'],
    ['sec-websocket-protocol', 'a b', 'Sec-WebSocket-Protocol offers "a b", which is not a token'],
    [
      'origin',
      'https://a.example, https://b.example',
      'The origin header must appear once but was sent more than once',
    ],
  ])('answers %s %j with 400', (name, value, message) => {
    const error = failure(validateExtendedConnect(connectRequest({ [name]: value })));
    expect([error.status, error.message]).toEqual([400, message]);
  });

  it('accepts a Host header that repeats :authority', () => {
    expect(validateExtendedConnect(connectRequest({ host: 'SERVER.example.com' })).ok).toBe(true);
  });

  it.each([
    [undefined, 'The sec-websocket-version header is missing; this server speaks version 13'],
    ['8', 'sec-websocket-version 8 is not supported; this server speaks version 13'],
    [['13', '13'], 'sec-websocket-version 13, 13 is not supported; this server speaks version 13'],
  ])('answers sec-websocket-version %j with 426 naming version 13', (version, message) => {
    const error = failure(validateExtendedConnect(connectRequest({ 'sec-websocket-version': version })));
    expect([error.status, error.message, error.headers]).toEqual([
      426,
      message,
      { 'sec-websocket-version': '13' },
    ]);
  });
});

describe('isExtendedConnect', () => {
  it('is true for CONNECT with any :protocol, false for a plain CONNECT or a GET', () => {
    expect(isExtendedConnect(connectRequest())).toBe(true);
    expect(isExtendedConnect(connectRequest({ ':protocol': 'connect-udp' }))).toBe(true);
    expect(isExtendedConnect(connectRequest({ ':protocol': undefined }))).toBe(false);
    expect(isExtendedConnect(connectRequest({ ':method': 'GET' }))).toBe(false);
  });
});

describe('buildExtendedConnectResponse', () => {
  it('answers :status 200 with the subprotocol and extensions, and no Sec-WebSocket-Accept', () => {
    expect(
      buildExtendedConnectResponse({
        protocol: 'chat',
        extensionHeader: 'permessage-deflate',
        headers: { 'X-Trace': 'abc' },
      }),
    ).toEqual({
      ':status': 200,
      'sec-websocket-protocol': 'chat',
      'sec-websocket-extensions': 'permessage-deflate',
      'x-trace': 'abc',
    });
    expect(buildExtendedConnectResponse()).toEqual({ ':status': 200 });
  });

  it.each([
    [{ Connection: 'close' }, 'The Connection header cannot be sent over HTTP/2 (RFC 9113 §8.2.2)'],
    [{ ':status': '101' }, 'Header name ":status" is not a token'],
    [
      { 'X-Evil': 'a\r\nb' },
      'Header X-Evil has a value with a forbidden character (CR, LF, NUL, control or beyond U+00FF)',
    ],
  ])('throws a TypeError for the custom header %j', (headers, message) => {
    expect(() => buildExtendedConnectResponse({ headers })).toThrow(new TypeError(message));
  });
});

describe('buildExtendedConnectRejection', () => {
  it('carries the status, the error headers lowercased and the reason as a plain-text body', () => {
    const rejection = buildExtendedConnectRejection(
      new HandshakeError(426, 'speak 13', { 'Sec-WebSocket-Version': '13' }),
    );
    expect(rejection.headers).toEqual({
      ':status': 426,
      'content-type': 'text/plain; charset=utf-8',
      'sec-websocket-version': '13',
      'content-length': 8,
    });
    expect(rejection.body.toString()).toBe('speak 13');
  });

  it('uses the reason phrase when the error has no message, and refuses a status outside 200-599', () => {
    expect(buildExtendedConnectRejection(new HandshakeError(403, '')).body.toString()).toBe('Forbidden');
    expect(() => buildExtendedConnectRejection(new HandshakeError(101, 'no'))).toThrow(TypeError);
  });
});

describe('buildExtendedConnectRequest', () => {
  it('builds the request of RFC 8441 §5.1 from a wss: URL', () => {
    expect(
      buildExtendedConnectRequest({
        url: new URL('wss://server.example.com/chat?room=1#ignored'),
        protocols: ['chat', 'superchat'],
        extensionHeader: 'permessage-deflate',
        origin: 'http://www.example.com',
        headers: { Authorization: 'Bearer t' },
      }),
    ).toEqual({
      ':method': 'CONNECT',
      ':protocol': 'websocket',
      ':scheme': 'https',
      ':path': '/chat?room=1',
      ':authority': 'server.example.com',
      'sec-websocket-version': '13',
      origin: 'http://www.example.com',
      'sec-websocket-protocol': 'chat, superchat',
      'sec-websocket-extensions': 'permessage-deflate',
      authorization: 'Bearer t',
    });
  });

  it('uses :scheme http for ws:, keeps a non-default port and sends no key', () => {
    const request = buildExtendedConnectRequest({ url: new URL('ws://[::1]:8080') });
    expect(request).toMatchObject({ ':scheme': 'http', ':path': '/', ':authority': '[::1]:8080' });
    expect(request['sec-websocket-key']).toBeUndefined();
  });

  it('throws a TypeError for another scheme, a repeated subprotocol or a non-token one', () => {
    expect(() => buildExtendedConnectRequest({ url: new URL('ftp://example.com/') })).toThrow(TypeError);
    expect(() =>
      buildExtendedConnectRequest({ url: new URL('wss://a.example/'), protocols: ['x', 'x'] }),
    ).toThrow('The subprotocol "x" is listed twice');
    expect(() =>
      buildExtendedConnectRequest({ url: new URL('wss://a.example/'), protocols: ['a b'] }),
    ).toThrow('A subprotocol must be a token, not "a b"');
  });
});

describe('validateExtendedConnectResponse', () => {
  it('accepts :status 200 with an offered subprotocol and returns the extensions', () => {
    expect(
      validateExtendedConnectResponse(
        {
          ':status': 200,
          'sec-websocket-protocol': 'chat',
          'sec-websocket-extensions': 'permessage-deflate',
        },
        { protocols: ['chat'] },
      ),
    ).toEqual({ ok: true, protocol: 'chat', extensionHeader: 'permessage-deflate' });
  });

  it.each([
    [{ ':status': 101 }, [], 101, 'Unexpected server response: 101'],
    [{ ':status': 204 }, [], 204, 'Unexpected server response: 204'],
    [{ ':status': 403 }, [], 403, 'Unexpected server response: 403'],
    [
      { ':status': 200, 'sec-websocket-protocol': 'chat' },
      [],
      200,
      'The server chose subprotocol "chat" but none was offered',
    ],
    [
      { ':status': 200, 'sec-websocket-protocol': 'other' },
      ['chat'],
      200,
      'The server chose subprotocol "other", which was not offered',
    ],
  ])('refuses %j (offered %j) with status %i', (headers, protocols, status, message) => {
    const check = validateExtendedConnectResponse(headers, { protocols });
    expect(check.ok).toBe(false);
    if (!check.ok) expect([check.error.status, check.error.message]).toEqual([status, message]);
  });
});
