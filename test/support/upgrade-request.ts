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
