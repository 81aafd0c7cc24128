// Owns the Node dialer of `new WebSocket(url, protocols, options)`: the HTTP/1.1 transport (node:net,
// node:tls, a proxy) or, with `http2: 'require'`, an HTTP/2 stream. Registered with the WebSocket face when
// this file loads, so that the face imports nothing of src/node (DESIGN.md: imports only downward).

import { registerWebSocketDialer, type WebSocketDialer } from '../websocket-transport.js';
import { openClientTransport } from './client.js';
import { validateClientOptions } from './client-options.js';
import { openHttp2ClientTransport } from './http2-client.js';

/** @internal The dialer `src/index.ts` and `connect()` give the WebSocket face. */
export const nodeDialer: WebSocketDialer = {
  validate: validateClientOptions,
  open(url, options) {
    return options.http2 === 'require'
      ? openHttp2ClientTransport(url, options)
      : openClientTransport(url, options);
  },
};

registerWebSocketDialer(nodeDialer);
