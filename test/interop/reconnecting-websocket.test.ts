// ReconnectingWebSocket against real servers that restart, refuse, close on purpose and go silent; the
// backoff's timers are an injected clock, so every delay is checked exactly and nothing sleeps.

import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type ReconnectClock,
  type ReconnectingEvents,
  type ReconnectingOptions,
  ReconnectingWebSocket,
  server as rawServerDriver,
  WebSocketServer,
} from '../../src/index.js';

const cleanups: (() => Promise<unknown> | undefined)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Timers that fire only when the test says so: the delays asked for are kept in `delays`. */
class ManualClock implements ReconnectClock {
  readonly delays: number[] = [];
  private readonly pending = new Set<{ callback: () => void }>();

  setTimeout(callback: () => void, milliseconds: number): unknown {
    const handle = { callback };
    this.delays.push(milliseconds);
    this.pending.add(handle);
    return handle;
  }

  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as { callback: () => void });
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Fires the one pending timer (a client waits on one at a time). */
  fire(): void {
    const [handle] = this.pending;
    if (handle === undefined) throw new Error('no timer pending');
    this.pending.delete(handle);
    handle.callback();
  }
}

/** An echo server on `port` (0: any); closed after the test unless the test closed it. */
async function startEchoServer(port = 0, options: ConstructorParameters<typeof WebSocketServer>[0] = {}) {
  const server = new WebSocketServer({ port, host: '127.0.0.1', ...options });
  cleanups.push(() => server.close());
  await once(server, 'listening');
  server.on('connection', (socket) =>
    socket.addEventListener('message', (event) => socket.send(event.data as string)),
  );
  return { server, port: (server.address() as AddressInfo).port };
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function client(url: string, options: ReconnectingOptions = {}) {
  const clock = new ManualClock();
  const socket = new ReconnectingWebSocket(url, { clock, random: () => 0.5, ...options });
  cleanups.push(() => {
    socket.close();
    return undefined;
  });
  return { socket, clock };
}

function next<K extends keyof ReconnectingEvents>(
  socket: ReconnectingWebSocket,
  name: K,
): Promise<ReconnectingEvents[K][0]> {
  return new Promise((resolve) =>
    socket.once(name, ((event: ReconnectingEvents[K][0]) => resolve(event)) as never),
  );
}

describe('a server that restarts', () => {
  it('reconnects after 1001, sends what was queued meanwhile, and one for await reads both connections', async () => {
    const first = await startEchoServer();
    const { socket, clock } = client(`ws://127.0.0.1:${first.port}/`);
    await next(socket, 'open');
    const received: unknown[] = [];
    const reading = (async () => {
      for await (const message of socket) {
        received.push(message);
        if (received.length === 2) socket.close();
      }
    })();
    socket.send('before');
    await next(socket, 'message');
    const closed = next(socket, 'close');
    const retry = next(socket, 'retry');
    await first.server.close(); // 1001 Going Away to every client
    expect(await closed).toEqual({ code: 1001, reason: '', wasClean: true, willReconnect: true });
    // Full jitter: random 0.5 of the first ceiling, initialDelay 500 (no dial has failed yet).
    expect(await retry).toEqual({ attempt: 2, delay: 250, cause: 1001 });
    expect(socket.send('while down')).toBe(true);
    expect(socket.queuedMessages).toBe(1);
    await startEchoServer(first.port);
    const reopened = next(socket, 'open');
    clock.fire();
    expect((await reopened).attempt).toBe(2);
    expect(socket.queuedMessages).toBe(0);
    await reading;
    expect(received).toEqual(['before', 'while down']);
    expect(socket.ending).toEqual({ reason: 'closed-by-application' });
    expect(clock.delays).toEqual([250]);
  });
});

describe('a server that refuses', () => {
  it('backs off exponentially with full jitter under the cap, and gives up after maxAttempts', async () => {
    const port = await closedPort();
    const { socket, clock } = client(`ws://127.0.0.1:${port}/`, { maxAttempts: 4, maxDelay: 1500 });
    const attempts: number[] = [];
    socket.on('connecting', ({ attempt }) => attempts.push(attempt));
    // 'retry' comes just before its timer is set: fire it once the client has set it.
    socket.on('retry', () => queueMicrotask(() => clock.fire()));
    const ended = await next(socket, 'end');
    expect(ended.reason).toBe('gave-up');
    expect(ended.error?.message).toMatch(/ECONNREFUSED/);
    expect(attempts).toEqual([1, 2, 3, 4]);
    // Ceilings 500·2^1, 500·2^2 = 2000 capped at 1500, then 1500; times the random 0.5.
    expect(clock.delays).toEqual([500, 750, 750]);
    expect(clock.pendingCount).toBe(0);
  });

  it('stops at once on a 403 (the server decided) and retries a 503 (the moment)', async () => {
    let status = 503;
    const { port } = await startEchoServer(0, { verifyRequest: () => ({ status }) });
    const { socket, clock } = client(`ws://127.0.0.1:${port}/`);
    const retry = await next(socket, 'retry');
    expect([retry.attempt, retry.delay, (retry.cause as { status?: number }).status]).toEqual([2, 500, 503]);
    status = 403;
    const ended = next(socket, 'end');
    clock.fire();
    const end = await ended;
    expect([end.reason, (end.error as { status?: number }).status]).toEqual(['refused', 403]);
    expect(clock.delays).toEqual([500]);
  });
});

describe('closes on purpose', () => {
  for (const code of [1000, 1008]) {
    it(`does not reconnect after ${code}`, async () => {
      // A driver-level server: the WHATWG close() may not send 1008 (Policy Violation), a server may.
      const sockets = new Set<net.Socket>();
      const closing = net.createServer((peer) => {
        sockets.add(peer);
        const driver = rawServerDriver();
        peer.pipe(driver.io).pipe(peer);
        driver.on('open', () => driver.close('bye', code));
        driver.on('close', () => peer.end());
        driver.on('connect', () => driver.start());
      });
      closing.listen(0, '127.0.0.1');
      await once(closing, 'listening');
      cleanups.push(() => {
        for (const peer of sockets) peer.destroy();
        return new Promise((resolve) => closing.close(resolve));
      });
      const { port } = closing.address() as AddressInfo;
      const { socket, clock } = client(`ws://127.0.0.1:${port}/`);
      const ended = next(socket, 'end');
      const closed = await next(socket, 'close');
      expect([closed.code, closed.reason, closed.willReconnect]).toEqual([code, 'bye', false]);
      expect(await ended).toEqual({ reason: 'closed', code });
      expect(clock.pendingCount).toBe(0);
    });
  }
});

describe('a server that goes silent', () => {
  it('notices with the heartbeat (1006), retries, and stops for good on abort', async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((peer) => {
      sockets.add(peer);
      peer.once('data', (request: Buffer) => {
        // Completes the handshake, then never answers anything again: pings included.
        const driver = rawServerDriver();
        driver.io.on('data', (chunk: Buffer) => peer.write(chunk));
        driver.io.write(request);
        driver.start();
      });
    });
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    cleanups.push(() => {
      for (const peer of sockets) peer.destroy();
      return new Promise((resolve) => silent.close(resolve));
    });
    const controller = new AbortController();
    const { port } = silent.address() as AddressInfo;
    const { socket, clock } = client(`ws://127.0.0.1:${port}/`, {
      heartbeat: { interval: 50, timeout: 50 },
      closeTimeout: 50,
      signal: controller.signal,
    });
    await next(socket, 'open');
    const closed = await next(socket, 'close');
    expect([closed.code, closed.willReconnect]).toEqual([1006, true]);
    expect(clock.pendingCount).toBe(1);
    const ended = next(socket, 'end');
    controller.abort();
    expect(await ended).toEqual({ reason: 'aborted' });
    expect(clock.pendingCount).toBe(0);
    expect(socket.send('late')).toBe(false);
  });
});

describe('the send queue', () => {
  it("drops the oldest by default, reporting each as 'drop'", async () => {
    const { socket } = client(`ws://127.0.0.1:${await closedPort()}/`, { maxQueuedMessages: 2 });
    const dropped: unknown[] = [];
    socket.on('drop', (data) => dropped.push(data));
    expect([socket.send('a'), socket.send('b'), socket.send('c')]).toEqual([true, true, true]);
    expect(dropped).toEqual(['a']);
    expect(socket.queuedMessages).toBe(2);
  });

  it("refuses the newest with 'drop-newest', throws with 'throw', and bounds bytes too", () => {
    const newest = client('ws://127.0.0.1:1/', { maxQueuedMessages: 1, overflow: 'drop-newest' }).socket;
    expect([newest.send('a'), newest.send('b')]).toEqual([true, false]);
    const throwing = client('ws://127.0.0.1:1/', { maxQueuedBytes: 4, overflow: 'throw' }).socket;
    expect(throwing.send('abcd')).toBe(true);
    expect(() => throwing.send('e')).toThrow(RangeError);
  });

  it('checks its option names like connect()', () => {
    expect(() => new ReconnectingWebSocket('ws://127.0.0.1:1/', { maxAtempts: 3 } as never)).toThrow(
      /did you mean maxAttempts\?/,
    );
  });
});
