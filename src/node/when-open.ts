// Owns waiting for a client WebSocket to open: the promise connect() and connectHttp2() return.

import type { WebSocket } from '../websocket.js';

/**
 * Makes the socket with `open` and resolves with it on its 'open', or rejects on its 'close' with
 * `describe(the first error seen, its URL)`; removes its listeners either way. What `open` throws (a bad
 * URL, a bad option) rejects the promise too.
 */
export function whenOpen(
  open: () => WebSocket,
  describe: (failure: unknown, url: string) => Error,
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = open();
    let failure: unknown;
    const onError = (event: { error: unknown }): void => {
      failure ??= event.error;
    };
    const onOpen = (): void => {
      socket.removeEventListener('error', onError);
      socket.removeEventListener('close', onClose);
      resolve(socket);
    };
    const onClose = (): void => {
      socket.removeEventListener('error', onError);
      socket.removeEventListener('open', onOpen);
      reject(describe(failure, socket.url));
    };
    socket.addEventListener('error', onError);
    socket.addEventListener('open', onOpen, { once: true });
    socket.addEventListener('close', onClose, { once: true });
  });
}
