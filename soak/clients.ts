// Owns one soak client process: keeps a number of connections open against the soak server for a while,
// each with a random behaviour (chatty, short-lived, reset at a random moment, silent, ping flooder),
// replacing each one that ends, then reports what it saw to the parent over IPC.

import net from 'node:net';
import { connect, type WebSocket } from '../src/index.js';
import { Connection } from '../src/protocol/connection.js';

export interface ClientsConfig {
  port: number;
  /** Connections kept open at once. */
  connections: number;
  /** Milliseconds to hold the connections open (replacing each that ends) once all are open. */
  durationMs: number;
  /** Milliseconds the ramp-up may take at most; the hold starts then, however many are open. */
  rampLimitMs: number;
  /** At most this many connections over the whole run. */
  maxConnections: number;
  localAddress: string;
  seed: number;
}

export interface ClientsReport {
  opened: number;
  handshakeFailures: number;
  /** Why handshakes failed, by the first words of the error. */
  failureReasons: Record<string, number>;
  messagesSent: number;
  echoesReceived: number;
  resets: number;
  /** Seconds from the start to all `connections` open (or to the ramp limit). */
  rampSeconds: number;
  /** The most connections open (or opening) at once. */
  peakOpen: number;
  closeCodes: Record<string, number>;
  behaviours: Record<string, number>;
}

/** Handshakes one client process keeps in flight at most. */
const MAX_PENDING_HANDSHAKES = 100;

type Behaviour = 'chatty' | 'short' | 'reset' | 'silent' | 'flooder';
const BEHAVIOURS: readonly [Behaviour, number][] = [
  ['chatty', 0.6],
  ['short', 0.1],
  ['reset', 0.2],
  ['silent', 0.05],
  ['flooder', 0.05],
];

/** A small deterministic generator (mulberry32), so that a run can be repeated with its seed. */
function randomGenerator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

export async function runClients(config: ClientsConfig): Promise<ClientsReport> {
  const random = randomGenerator(config.seed);
  const between = (low: number, high: number): number => low + Math.floor(random() * (high - low));
  const report: ClientsReport = {
    opened: 0,
    handshakeFailures: 0,
    failureReasons: {},
    messagesSent: 0,
    echoesReceived: 0,
    resets: 0,
    rampSeconds: 0,
    peakOpen: 0,
    closeCodes: {},
    behaviours: {},
  };
  const startedAt = Date.now();
  const live = new Set<{ stop(): void }>();
  let isStopping = false;

  const countClose = (code: number): void => {
    report.closeCodes[code] = (report.closeCodes[code] ?? 0) + 1;
  };

  function pickBehaviour(): Behaviour {
    let roll = random();
    for (const [behaviour, weight] of BEHAVIOURS) {
      roll -= weight;
      if (roll < 0) return behaviour;
    }
    return 'chatty';
  }

  /** Starts one connection; `handshaken` runs once its handshake is over, `done` once it is over for good. */
  function start(handshaken: () => void, done: () => void): void {
    const behaviour = pickBehaviour();
    report.opened++;
    report.behaviours[behaviour] = (report.behaviours[behaviour] ?? 0) + 1;
    let isHandshaken = false;
    const settle = (): void => {
      if (isHandshaken) return;
      isHandshaken = true;
      handshaken();
    };
    const end = (): void => {
      settle();
      done();
    };
    if (behaviour === 'chatty' || behaviour === 'short') startWebSocket(behaviour, settle, end);
    else startRaw(behaviour, settle, end);
  }

  function startWebSocket(behaviour: 'chatty' | 'short', handshaken: () => void, done: () => void): void {
    let socket: WebSocket | undefined;
    let timer: NodeJS.Timeout | undefined;
    const handle = {
      stop(): void {
        if (timer !== undefined) clearTimeout(timer);
        if (socket !== undefined && socket.readyState === 1) socket.close(1000, 'soak over');
      },
    };
    live.add(handle);
    const finish = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      live.delete(handle);
      done();
    };
    connect(`ws://127.0.0.1:${config.port}/`, {
      localAddress: config.localAddress,
      perMessageDeflate: random() < 0.05,
      handshakeTimeout: 20_000,
    }).then(
      (opened) => {
        handshaken();
        socket = opened;
        opened.addEventListener('message', () => report.echoesReceived++);
        opened.addEventListener('close', (event) => {
          countClose(event.code);
          finish();
        });
        if (isStopping) {
          handle.stop();
          return;
        }
        const closeAt = Date.now() + (behaviour === 'short' ? between(0, 500) : between(30_000, 150_000));
        const tick = (): void => {
          timer = undefined;
          if (opened.readyState !== 1) return;
          if (Date.now() >= closeAt) {
            opened.close(random() < 0.9 ? 1000 : between(3000, 5000), 'done');
            return;
          }
          const size = random() < 0.9 ? between(1, 512) : between(512, 16 * 1024);
          const isText = random() < 0.5;
          // The application respects backpressure: while the socket is full, it skips a beat.
          if (opened.bufferedAmount < 64 * 1024) {
            opened.send(isText ? 'x'.repeat(size) : Buffer.alloc(size, size & 0xff));
            report.messagesSent++;
          }
          timer = setTimeout(tick, between(200, 5_000));
        };
        tick();
      },
      (error: unknown) => {
        report.handshakeFailures++;
        const reason = String((error as Error).message ?? error)
          .replace(/127\.0\.0\.1:\d+/g, 'server')
          .slice(0, 100);
        report.failureReasons[reason] = (report.failureReasons[reason] ?? 0) + 1;
        finish();
      },
    );
  }

  function startRaw(
    behaviour: 'reset' | 'silent' | 'flooder',
    handshaken: () => void,
    done: () => void,
  ): void {
    const socket = net.connect({ host: '127.0.0.1', port: config.port, localAddress: config.localAddress });
    let timer: NodeJS.Timeout | undefined;
    const handle = {
      stop(): void {
        if (timer !== undefined) clearTimeout(timer);
        socket.destroy();
      },
    };
    live.add(handle);
    socket.on('error', () => {});
    socket.on('close', () => {
      if (timer !== undefined) clearTimeout(timer);
      live.delete(handle);
      done();
    });
    const framer = new Connection({ role: 'client' });
    const request = [
      'GET / HTTP/1.1',
      `Host: 127.0.0.1:${config.port}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
      'Sec-WebSocket-Version: 13',
      '',
      '',
    ].join('\r\n');
    const reset = (): void => {
      report.resets++;
      socket.resetAndDestroy();
    };
    socket.once('connect', () => {
      if (isStopping) {
        socket.destroy();
        return;
      }
      const phase = between(0, 4);
      if (behaviour === 'reset' && phase === 0) {
        // Inside the opening handshake.
        socket.write(request.slice(0, between(1, request.length - 4)));
        timer = setTimeout(reset, between(0, 2_000));
        return;
      }
      socket.write(request);
      let head = '';
      const onHead = (chunk: Buffer): void => {
        head += chunk.toString('latin1');
        if (!head.includes('\r\n\r\n')) return;
        socket.off('data', onHead);
        handshaken();
        if (!head.startsWith('HTTP/1.1 101')) {
          report.handshakeFailures++;
          const reason = head.slice(0, head.indexOf('\r\n'));
          report.failureReasons[reason] = (report.failureReasons[reason] ?? 0) + 1;
          socket.destroy();
          return;
        }
        if (behaviour === 'silent') {
          // Never reads again, never answers a ping: the server's heartbeat must end it.
          socket.pause();
          return;
        }
        if (behaviour === 'flooder') {
          socket.pause();
          const ping = Buffer.concat(framer.sendPing('p'.repeat(125)));
          let rounds = between(1, 4);
          const flood = (): void => {
            timer = undefined;
            for (let index = 0; index < 200; index++) socket.write(ping);
            if (--rounds > 0) timer = setTimeout(flood, 10);
            else timer = setTimeout(reset, between(1_000, 10_000));
          };
          flood();
          return;
        }
        socket.resume();
        if (phase === 1) {
          // Inside a frame.
          const frame = Buffer.concat(framer.sendBinary(Buffer.alloc(between(2, 4096), 1)));
          socket.write(frame.subarray(0, between(1, frame.length)));
          timer = setTimeout(reset, between(0, 2_000));
        } else if (phase === 2) {
          // Inside the closing handshake: our close frame goes out, the reset follows before the answer.
          socket.write(Buffer.concat(framer.sendClose(1000, 'bye')));
          reset();
        } else {
          // After a while of doing nothing.
          timer = setTimeout(reset, between(10_000, 60_000));
        }
      };
      socket.on('data', onHead);
    });
  }

  await new Promise<void>((resolve) => {
    let running = 0;
    // Handshakes in flight, capped as a load generator would: past the server's accept backlog (511),
    // SYNs are dropped and retried seconds later, which measures the kernel rather than hybi.
    let pending = 0;
    let stopTimer: NodeJS.Timeout | undefined;
    const stopAll = (): void => {
      isStopping = true;
      for (const handle of [...live]) handle.stop();
      if (running === 0) resolve();
    };
    const hold = (): void => {
      if (stopTimer !== undefined) return;
      report.rampSeconds = Math.round((Date.now() - startedAt) / 100) / 10;
      stopTimer = setTimeout(stopAll, config.durationMs);
    };
    const pump = (): void => {
      while (
        !isStopping &&
        running < config.connections &&
        pending < MAX_PENDING_HANDSHAKES &&
        report.opened < config.maxConnections
      ) {
        running++;
        pending++;
        start(
          () => {
            pending--;
            pump();
          },
          () => {
            running--;
            if (isStopping && running === 0) resolve();
            else pump();
          },
        );
      }
      report.peakOpen = Math.max(report.peakOpen, running - pending);
      if (running - pending >= config.connections) hold();
    };
    pump();
    setTimeout(hold, config.rampLimitMs).unref();
  });
  return report;
}

// Run as a child of soak/run.ts: the config comes in the environment, the report goes back over IPC.
if (process.send !== undefined && process.env.SOAK_CLIENTS_CONFIG !== undefined) {
  const config = JSON.parse(process.env.SOAK_CLIENTS_CONFIG) as ClientsConfig;
  runClients(config).then(
    (report) => process.send!({ type: 'report', report }, () => process.exit(0)),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
