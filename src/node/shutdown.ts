// Owns graceful shutdown: closing a set of WebSockets with 1001 and waiting, bounded, for their closing handshakes.

import { MAX_CLOSE_REASON_BYTES } from '../protocol/close.js';
import { CloseCode, isValidCloseCode } from '../protocol/opcodes.js';
import { closeAsEndpoint, destroyConnection, WebSocket } from '../websocket.js';

/** Options of {@link shutdown}. */
export interface ShutdownOptions {
  /**
   * Milliseconds to wait for the closing handshakes; sockets still open then are destroyed (their
   * applications see 1006). Default 5000, the default close timeout: a shutdown lasts no longer than
   * one close would.
   */
  timeout?: number;
  /** The close code to send. Default 1001 Going Away (RFC 6455 §7.4.1: "a server going down"). */
  code?: number;
  /** The close reason, at most 123 bytes of UTF-8. Default ''. */
  reason?: string;
}

/** What {@link shutdown} did. */
export interface ShutdownResult {
  /** Sockets that reached CLOSED on their own: a closing handshake within the timeout, or already closed. */
  closed: number;
  /** Sockets still open at the deadline, destroyed without waiting any longer. */
  destroyed: number;
}

const DEFAULT_SHUTDOWN_TIMEOUT = 5000;

/**
 * Closes every socket with 1001 (or `code`) and resolves once all are CLOSED: each closing handshake has
 * `timeout` ms, after which the sockets still open are destroyed. Sockets still connecting are abandoned
 * at once. Never rejects; throws RangeError at once for a bad option.
 *
 * @example
 * ```ts
 * process.once('SIGTERM', async () => {
 *   const { closed, destroyed } = await shutdown(sockets, { timeout: 3000 });
 *   console.log(`${closed} closed cleanly, ${destroyed} cut off`);
 * });
 * ```
 */
export function shutdown(
  sockets: Iterable<WebSocket>,
  options: ShutdownOptions = {},
): Promise<ShutdownResult> {
  // Checked before anything is closed: a bad option is a programmer error, thrown synchronously.
  const { timeout, code, reason } = validateShutdownOptions(options);
  return closeAll(sockets, timeout, code, reason);
}

async function closeAll(
  sockets: Iterable<WebSocket>,
  timeout: number,
  code: number,
  reason: string,
): Promise<ShutdownResult> {
  const pending = new Map<WebSocket, Promise<void>>();
  let closed = 0;
  for (const socket of new Set(sockets)) {
    if (socket.readyState === WebSocket.CLOSED) closed++;
    else pending.set(socket, closedOf(socket));
  }
  for (const socket of pending.keys()) closeAsEndpoint(socket, code, reason);

  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeout);
    // A bound on the shutdown, not a reason to keep the process alive once every socket is gone.
    timer.unref();
  });
  await Promise.race([Promise.all(pending.values()), deadline]);
  clearTimeout(timer);

  let destroyed = 0;
  const stragglers: Promise<void>[] = [];
  for (const [socket, isClosed] of pending) {
    if (socket.readyState === WebSocket.CLOSED) {
      closed++;
      continue;
    }
    destroyed++;
    destroyConnection(
      socket,
      new Error(`The closing handshake did not finish within ${timeout} ms of shutdown`),
    );
    stragglers.push(isClosed);
  }
  await Promise.all(stragglers);
  return { closed, destroyed };
}

function closedOf(socket: WebSocket): Promise<void> {
  return new Promise((resolve) => socket.addEventListener('close', () => resolve(), { once: true }));
}

function validateShutdownOptions(options: ShutdownOptions): Required<ShutdownOptions> {
  const timeout = options.timeout ?? DEFAULT_SHUTDOWN_TIMEOUT;
  if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout < 0) {
    throw new RangeError(`timeout is a number of milliseconds >= 0, not ${timeout}`);
  }
  const code = options.code ?? CloseCode.GoingAway;
  if (!isValidCloseCode(code)) {
    throw new RangeError(`code must be a close code allowed on the wire (RFC 6455 §7.4), not ${code}`);
  }
  const reason = options.reason ?? '';
  if (Buffer.byteLength(reason, 'utf8') > MAX_CLOSE_REASON_BYTES) {
    throw new RangeError(`reason is at most ${MAX_CLOSE_REASON_BYTES} bytes of UTF-8`);
  }
  return { timeout, code, reason };
}
