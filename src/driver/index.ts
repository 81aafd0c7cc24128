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

/**
 * Throws a TypeError for an option name not in `validKeys` (websocket-driver's check against typos), naming
 * the closest valid name when one is near: `perMesageDeflate` gets "did you mean perMessageDeflate?".
 * Returns the options.
 */
export function validateOptions<T extends object>(options: T | undefined, validKeys: readonly string[]): T {
  const given = (options ?? {}) as T;
  for (const key of Object.keys(given)) {
    if (!validKeys.includes(key)) {
      const suggestion = closestName(key, validKeys);
      const hint = suggestion === undefined ? '' : ` (did you mean ${suggestion}?)`;
      throw new TypeError(`Unrecognized option: ${key}${hint}; the options are ${validKeys.join(', ')}`);
    }
  }
  return given;
}

/** The valid name nearest to `name` by edit distance, ignoring case, if it is near enough to be a typo. */
function closestName(name: string, validKeys: readonly string[]): string | undefined {
  const lowered = name.toLowerCase();
  // A third of the name's length, at least 2: catches a dropped or doubled letter, not a different word.
  const tolerance = Math.max(2, Math.floor(name.length / 3));
  let best: string | undefined;
  let bestDistance = tolerance + 1;
  for (const key of validKeys) {
    const distance = editDistance(lowered, key.toLowerCase());
    if (distance < bestDistance) {
      best = key;
      bestDistance = distance;
    }
  }
  return best;
}

/** Levenshtein distance, one row at a time (option names are short). */
function editDistance(from: string, to: string): number {
  let previous = Array.from({ length: to.length + 1 }, (_, index) => index);
  for (let row = 1; row <= from.length; row++) {
    const current = [row];
    for (let column = 1; column <= to.length; column++) {
      const substitution = (previous[column - 1] ?? 0) + (from[row - 1] === to[column - 1] ? 0 : 1);
      const insertion = (current[column - 1] ?? 0) + 1;
      const deletion = (previous[column] ?? 0) + 1;
      current.push(Math.min(substitution, insertion, deletion));
    }
    previous = current;
  }
  return previous[to.length] ?? 0;
}
