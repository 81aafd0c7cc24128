// Owns the upgrade request the driver tests hand to http(): what node:http's IncomingMessage carries
// that a server driver reads, for a valid RFC 6455 §4.1 handshake unless the test overrides headers.

/** The sample key of RFC 6455 §1.3; its accept value is s3pPLMBiTxaQ9kYGzzhZRbK+xOo=. */
export const UPGRADE_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

export function upgradeRequest(headers: Record<string, string> = {}, url = '/') {
  return {
    method: 'GET',
    url,
    httpVersion: '1.1',
    headers: {
      host: 'example.com',
      upgrade: 'websocket',
      connection: 'Upgrade',
      'sec-websocket-key': UPGRADE_KEY,
      'sec-websocket-version': '13',
      ...headers,
    },
  };
}

/** The same handshake as raw HTTP/1.1 bytes, for tests that write to a socket themselves. */
export function rawUpgradeRequest(host: string, path = '/', headers: Record<string, string> = {}): string {
  return [
    `GET ${path} HTTP/1.1`,
    `Host: ${host}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${UPGRADE_KEY}`,
    'Sec-WebSocket-Version: 13',
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    '',
    '',
  ].join('\r\n');
}
