// Owns the websocket-driver-compatible entry points: http, server, client, isWebSocket, isSecureRequest, validateOptions.

import { isWebSocketUpgrade } from '../protocol/handshake.js';
import { ClientDriver, type ClientDriverOptions } from './client.js';
import { DRIVER_OPTION_KEYS, type DriverOptions } from './driver.js';
import { isSecureRequest as isSecure, ServerDriver, type ServerRequest } from './server.js';

/**
 * A server driver for a request node:http already parsed (its 'upgrade' event).
 * @example
 * ```ts
 * server.on('upgrade', (request, socket, head) => {
 *   const driver = http(request);
 *   driver.io.write(head);
 *   socket.pipe(driver.io).pipe(socket);
 *   driver.messages.pipe(driver.messages); // echo
 *   driver.start();
 * });
 * ```
 */
export function http(request: ServerRequest, options: DriverOptions = {}): ServerDriver {
  validateOptions(options, DRIVER_OPTION_KEYS);
  return new ServerDriver(request, { requireMasking: true, ...options });
}

/** A server driver for a raw socket: it parses the HTTP request itself and emits 'connect'. */
export function server(options: DriverOptions = {}): ServerDriver {
  validateOptions(options, DRIVER_OPTION_KEYS);
  return new ServerDriver(undefined, { requireMasking: true, ...options });
}

/** A client driver for `url` (ws: or wss:). Pipe it over a socket you opened, then `start()`. */
export function client(url: string | URL, options: ClientDriverOptions = {}): ClientDriver {
  validateOptions(options, [...DRIVER_OPTION_KEYS, 'origin', 'headers']);
  return new ClientDriver(url, { masking: true, ...options });
}

/** Whether an HTTP request asks for a WebSocket upgrade (GET, Upgrade: websocket, Connection: upgrade). */
export function isWebSocket(request: ServerRequest): boolean {
  return isWebSocketUpgrade(request);
}

/** Whether the request came over TLS (directly, or per X-Forwarded-* headers). */
export function isSecureRequest(request: ServerRequest): boolean {
  return isSecure(request);
}

/** Throws for an option name not in `validKeys` (websocket-driver's check against typos). */
export function validateOptions<T extends object>(options: T | undefined, validKeys: readonly string[]): T {
  const given = (options ?? {}) as T;
  for (const key of Object.keys(given)) {
    if (!validKeys.includes(key)) {
      throw new Error(`Unrecognized option: ${key}; the options are ${validKeys.join(', ')}`);
    }
  }
  return given;
}
