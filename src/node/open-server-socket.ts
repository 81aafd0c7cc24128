// Owns the last step of accepting a WebSocket on any transport: wrap the linked driver, start it, and
// report whether the handshake succeeded.

import type { Driver } from '../driver/driver.js';
import { HandshakeError } from '../protocol/errors.js';
import { WebSocket, type WebSocketTransport } from '../websocket.js';

/**
 * Wraps a freshly linked server driver in a WebSocket, then starts it: throws the driver's error (or a
 * 400) if the handshake fails. The WebSocket listens before `start()`, because frames the client sent
 * with its request (HTTP/1.1) or its HEADERS (HTTP/2) are parsed during `start()`.
 */
export function openServerSocket(driver: Driver, transport: WebSocketTransport): WebSocket {
  let failure: Error | undefined;
  let hasOpened = false;
  const onError = (error: Error): void => {
    failure ??= error;
  };
  const onOpen = (): void => {
    hasOpened = true;
  };
  driver.on('error', onError);
  driver.once('open', onOpen);
  const socket = new WebSocket(transport);
  driver.start();
  driver.off('error', onError);
  driver.off('open', onOpen);
  if (!hasOpened) throw failure ?? new HandshakeError(400, 'The WebSocket handshake failed');
  // The application gets the request with the socket ('connection', acceptUpgrade's caller); the socket
  // itself never reads the request headers again.
  driver.forgetHeaders();
  return socket;
}
