// Owns the one place a driver meets a socket (net.Socket, tls.TLSSocket or any Duplex): bytes both ways
// with backpressure, socket errors, the handshake and close timeouts, the heartbeat, and cleanup.

import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { ClientDriver } from '../driver/client.js';
import type { CloseEvent, Driver } from '../driver/driver.js';
import { ServerDriver } from '../driver/server.js';
import { HandshakeError } from '../protocol/errors.js';
import { buildRejectionResponse } from '../protocol/handshake.js';
import { CloseCode } from '../protocol/opcodes.js';
import type { TransportCloseEvent, TransportEvents, WebSocketTransport } from '../websocket.js';
import { Heartbeat, type HeartbeatHost, type HeartbeatOptions } from './heartbeat.js';

/** Options of {@link linkSocket}. */
export interface SocketLinkOptions {
  /**
   * Milliseconds to wait, once a close frame was sent, for the closing handshake to finish and the TCP
   * connection to end, before the socket is destroyed. Default 5000.
   */
  closeTimeout?: number;
  /**
   * Milliseconds from linking to the driver's 'open'; past it the handshake is abandoned: a server
   * answers 408 (request head incomplete) or 503 (head read, the application did not decide), then the
   * socket is destroyed, the driver reports an 'error' and the link closes with 1006. This is the bound
   * on a slowloris peer that sends its request one byte at a time. Default 10000; 0 turns it off (for a
   * caller that bounds the handshake itself). Not armed for a driver that is already open.
   */
  handshakeTimeout?: number;
  /**
   * Ping every `interval` ms and destroy the connection (1006, with an 'error' saying why) when no pong
   * arrives within `timeout` ms. Default `false` here: `WebSocketServer`, `acceptUpgrade` and
   * `acceptSocket` turn it on with {@link DEFAULT_HEARTBEAT}.
   */
  heartbeat?: HeartbeatOptions | false;
  /** Bytes already read from the socket (node:http's `head` of an upgrade), parsed before anything else. */
  head?: Buffer;
  /**
   * How to abort the connection without a closing handshake (close timeout, heartbeat expiry, an abandoned
   * client handshake, `destroy()`): default `socket.destroy()`. A transport that shares its connection
   * passes its own: an HTTP/2 stream is reset with CANCEL (RFC 8441 §5), leaving the session to the
   * streams still on it. The socket's 'close' must follow, as it does after `destroy()`.
   */
  abort?: () => void;
}

/** Five seconds for the peer's close frame and FIN: a round trip, with room for a congested link. */
export const DEFAULT_CLOSE_TIMEOUT = 5000;
/** Ten seconds: a browser's handshake takes one round trip; a slowloris peer is cut off early. */
export const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;

/**
 * A driver linked to a socket. Emits 'drain' when the socket's write buffer drained after filling up, and
 * 'close' once, with the final code, reason and `wasClean`, after the socket closed and every listener
 * and timer of the link was removed. Socket errors are reported through the driver's 'error' event.
 */
export class SocketLink extends EventEmitter<TransportEvents> implements WebSocketTransport {
  readonly driver: Driver;
  readonly socket: Duplex;
  private readonly closeTimeout: number;
  private readonly handshakeTimeout: number;
  private readonly heartbeat: Heartbeat | undefined;
  private readonly customAbort: (() => void) | undefined;
  private readonly isClient: boolean;
  private hasOpened = false;
  private hasFailed = false;
  private driverClose: CloseEvent | undefined;
  private closeTimer: NodeJS.Timeout | undefined;
  private handshakeTimer: NodeJS.Timeout | undefined;
  /** The handshake timed out: bytes still arriving are not parsed any more. */
  private hasAbandonedHandshake = false;
  private isCorked = false;
  private isReadPaused = false;
  private isWriteBlocked = false;
  /** isWriteBufferFull said true because of messages still being compressed. */
  private isAwaitingCompression = false;
  private isFinished = false;

  constructor(driver: Driver, socket: Duplex, options: SocketLinkOptions = {}) {
    super();
    const closeTimeout = options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT;
    if (!Number.isFinite(closeTimeout) || closeTimeout < 0) {
      throw new RangeError(`closeTimeout is a number of milliseconds >= 0, not ${closeTimeout}`);
    }
    const handshakeTimeout = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
    if (!Number.isFinite(handshakeTimeout) || handshakeTimeout < 0) {
      throw new RangeError(`handshakeTimeout is a number of milliseconds >= 0, not ${handshakeTimeout}`);
    }
    const heartbeat = options.heartbeat ?? false;
    if (options.abort !== undefined && typeof options.abort !== 'function') {
      throw new TypeError('abort is a function () => void that ends the connection at once');
    }
    this.driver = driver;
    this.socket = socket;
    this.closeTimeout = closeTimeout;
    this.handshakeTimeout = handshakeTimeout;
    this.customAbort = options.abort;
    this.heartbeat = heartbeat === false ? undefined : new Heartbeat(heartbeat, new LinkHeartbeatHost(this));
    this.isClient = driver instanceof ClientDriver;
    this.hasOpened = driver.readyState > 0;

    // WebSocket messages are latency-sensitive and already framed: Nagle would only delay them.
    const tcp = socket as Duplex & { setNoDelay?: (noDelay: boolean) => unknown };
    if (typeof tcp.setNoDelay === 'function') tcp.setNoDelay(true);

    // The listeners are functions shared by every link, which find theirs through a symbol on the
    // emitter (as ws does): seventeen closures per connection cost ~1 KiB of heap on an idle server.
    (socket as Linked)[LINK] = this;
    (driver as unknown as Linked)[LINK] = this;
    (driver.io as unknown as Linked)[LINK] = this;
    socket.on('data', onSocketData);
    socket.on('end', onSocketEnd);
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
    socket.on('drain', onSocketDrain);
    driver.on('open', onDriverOpen);
    driver.on('error', onDriverError);
    driver.on('close', onDriverClose);
    driver.io.on('data', onOutgoing);
    driver.io.on('drain', onConsumerDrain);
    driver.on('outgoingIdle', onOutgoingIdle);
    if (this.heartbeat !== undefined) driver.on('pong', onDriverPong);

    if (this.hasOpened) this.heartbeat?.start();
    else if (handshakeTimeout > 0) {
      this.handshakeTimer = setTimeout(handshakeTimedOut, handshakeTimeout, this);
      this.handshakeTimer.unref();
    }
    const head = options.head;
    if (head !== undefined && head.length > 0) this.socketData(head);
    // A socket that was paused before it reached us (a CONNECT tunnel, an upgrade) must flow again.
    if (!this.isReadPaused) socket.resume();
    // The socket may have ended or closed while it waited (an async verifyRequest): act on it now.
    if (socket.destroyed) process.nextTick(() => this.socketClosed());
    else if (socket.readableEnded) process.nextTick(() => this.socketEnded());
  }

  /** Whether the socket is being read: false while the application has paused reading. */
  get isReading(): boolean {
    return !this.isReadPaused;
  }

  /** Bytes written to the socket and not yet flushed to the network. */
  /** Bytes not yet handed to the network: the socket's buffer, plus messages still being compressed. */
  get bufferedAmount(): number {
    return this.socket.writableLength + this.driver.bufferedOutgoingBytes;
  }

  /**
   * Whether the socket's write buffer is past its high-water mark, or the messages still being
   * compressed add up to that much ('drain' follows either way).
   */
  get isWriteBufferFull(): boolean {
    if (this.isWriteBlocked) return true;
    if (this.driver.bufferedOutgoingBytes < this.socket.writableHighWaterMark) return false;
    this.isAwaitingCompression = true;
    return true;
  }

  /**
   * How many timers this link has pending (handshake, heartbeat, close): 0 once it closed. For tests and
   * leak checks.
   */
  get activeTimerCount(): number {
    return (
      (this.handshakeTimer === undefined ? 0 : 1) +
      (this.closeTimer === undefined ? 0 : 1) +
      (this.heartbeat?.isRunning === true ? 1 : 0)
    );
  }

  /**
   * Aborts the connection at once (`options.abort`: by default the socket is destroyed); `error`, if
   * given, is reported through the driver's 'error' first.
   */
  destroy(error?: Error): void {
    if (this.isFinished) return;
    if (error !== undefined) {
      this.hasFailed = true;
      this.driver.emit('error', error);
    }
    this.abort();
  }

  /** Ends the connection without a closing handshake: `options.abort`, or destroying the socket. */
  private abort(): void {
    if (this.customAbort === undefined) this.socket.destroy();
    else this.customAbort();
  }

  // --- socket → driver -------------------------------------------------------------------------

  /** @internal */
  socketData(chunk: Buffer): void {
    // After the driver closed, bytes are read only to see the peer's FIN; the driver ignores them.
    if (this.driverClose !== undefined || this.hasAbandonedHandshake) return;
    // The driver says stop while bytes it was given wait unread: a message ahead of them is being
    // inflated, or the application paused. Pausing here is what bounds a flood of compressed frames to one
    // socket read held in the driver (the kernel's buffers, then TCP's window, push back on the peer). A
    // full write buffer does not stop reading (two peers echoing a burst would each wait for the other:
    // a deadlock); a ping flood is bounded by the driver keeping only the latest pong (RFC 6455 §5.5.3).
    if (!this.driver.io.write(chunk)) this.pauseReading();
  }

  /** @internal io 'drain': the held bytes were read (or the application resumed), or our output drained. */
  consumerDrained(): void {
    if (!this.isReadPaused || this.driver.isHoldingInput) return;
    this.resumeReading();
  }

  /** @internal */
  socketEnded(): void {
    if (this.isFinished) return;
    // The peer closed its side: a connection not yet closed ends with 1006 (RFC 6455 §7.1.5).
    this.driver.io.end();
    if (!this.socket.writableEnded) this.socket.end();
  }

  /** @internal */
  socketFailed(error: Error): void {
    // Never rethrown: a socket error fails this connection only. Node destroys the socket, 'close' follows.
    // After a completed closing handshake the outcome is decided (RFC 6455 §7.1.1 lets either side drop
    // TCP then), so a late ECONNRESET is not reported as a failure of the connection.
    if (this.driverClose !== undefined && !this.hasFailed && this.driverClose.code !== CloseCode.Abnormal) {
      return;
    }
    this.hasFailed = true;
    this.driver.emit('error', error);
    this.driver.io.end();
  }

  /** @internal */
  socketClosed(): void {
    if (this.isFinished) return;
    this.isFinished = true;
    // Destroyed (close timeout, destroy(), a reset) before the driver heard of it: 1006.
    this.driver.io.end();
    this.cleanUp();
    const close = this.driverClose;
    const event: TransportCloseEvent =
      close === undefined
        ? { code: CloseCode.Abnormal, reason: '', wasClean: false }
        : {
            code: close.code,
            reason: close.reason,
            wasClean: this.hasOpened && !this.hasFailed && close.code !== CloseCode.Abnormal,
          };
    this.emit('close', event);
  }

  // --- driver → socket -------------------------------------------------------------------------

  /** @internal */
  outgoing(chunk: Buffer): void {
    const socket = this.socket;
    if (socket.destroyed || socket.writableEnded) return;
    // A frame's header and payload, and every frame sent in one turn, leave in one writev.
    if (!this.isCorked) {
      this.isCorked = true;
      socket.cork();
      process.nextTick(uncorkLink, this);
    }
    if (!socket.write(chunk) && !this.isWriteBlocked) {
      // Past the high-water mark: tell the driver's messages stream (its write() returns false now).
      this.isWriteBlocked = true;
      this.driver.io.pause();
    }
    // Our close frame is going out (RFC 6455 §7.1.2): from now on the peer has closeTimeout to finish,
    // and that bound replaces the heartbeat's.
    if (this.driver.readyState >= 2) {
      this.heartbeat?.stop();
      this.startCloseTimer();
    }
  }

  /** @internal */
  uncork(): void {
    this.isCorked = false;
    this.socket.uncork();
  }

  /** @internal The compressor caught up; if it was what made us report a full buffer, 'drain' is owed now. */
  outgoingIdle(): void {
    if (!this.isAwaitingCompression) return;
    this.isAwaitingCompression = false;
    if (!this.isWriteBlocked) this.emit('drain');
  }

  /** @internal */
  socketDrained(): void {
    if (!this.isWriteBlocked) return;
    this.isWriteBlocked = false;
    // Emits io 'drain', which resumes reading unless the application is paused.
    this.driver.io.resume();
    this.emit('drain');
  }

  // --- the driver's lifecycle ------------------------------------------------------------------

  /** @internal */
  driverOpened(): void {
    this.hasOpened = true;
    this.clearHandshakeTimer();
    this.heartbeat?.start();
  }

  /** @internal */
  driverPonged(): void {
    this.heartbeat?.pong();
  }

  /** @internal */
  driverFailed(): void {
    this.hasFailed = true;
  }

  /** @internal */
  driverClosed(event: CloseEvent): void {
    this.driverClose = event;
    this.clearHandshakeTimer();
    this.heartbeat?.stop();
    if (this.isFinished) return;
    const socket = this.socket;
    // Keep reading, whatever the application paused: the peer's FIN is what ends the connection.
    if (this.isReadPaused) this.resumeReading();
    // RFC 6455 §7.1.1: the server closes TCP first; a client waits for the server to do so. A handshake
    // that never opened, a failure or a lost transport leave nothing to wait for.
    const shouldEndNow =
      !this.isClient ||
      !this.hasOpened ||
      this.hasFailed ||
      event.code === CloseCode.Abnormal ||
      socket.readableEnded;
    if (shouldEndNow && !socket.writableEnded) socket.end();
    this.startCloseTimer();
  }

  // --- internals -------------------------------------------------------------------------------

  private startCloseTimer(): void {
    if (this.closeTimer !== undefined || this.isFinished) return;
    this.closeTimer = setTimeout(closeTimedOut, this.closeTimeout, this);
    // The timer is a bound on a close, not a reason to keep the process alive.
    this.closeTimer.unref();
  }

  /** @internal */
  closeTimedOut(): void {
    this.closeTimer = undefined;
    // The peer did not finish the closing handshake, or did not end TCP after it: give up on it.
    this.abort();
  }

  /** @internal */
  handshakeTimedOut(): void {
    this.handshakeTimer = undefined;
    if (this.isFinished || this.driver.readyState !== 0) return;
    this.hasAbandonedHandshake = true;
    this.hasFailed = true;
    const socket = this.socket;
    const driver = this.driver;
    driver.emit(
      'error',
      new Error(`The opening handshake did not complete within ${this.handshakeTimeout} ms`),
    );
    if (!(driver instanceof ServerDriver) || socket.writableEnded || socket.destroyed) {
      this.abort();
      return;
    }
    // RFC 9110 §15.5.9: 408 when the request itself did not arrive in time; 503 (§15.6.4) when it did
    // and the server side (an async verifyRequest, a start() never called) did not decide.
    const isHeadComplete = driver.method !== '';
    const rejection = isHeadComplete
      ? new HandshakeError(503, 'The server did not accept the WebSocket in time')
      : new HandshakeError(408, 'The request took too long to arrive');
    socket.once('finish', destroyAfterRejection);
    socket.end(buildRejectionResponse(rejection));
    // If the peer does not even take the answer, the close timeout ends it.
    this.startCloseTimer();
  }

  private clearHandshakeTimer(): void {
    if (this.handshakeTimer !== undefined) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
  }

  private pauseReading(): void {
    if (this.isReadPaused || this.driverClose !== undefined) return;
    this.isReadPaused = true;
    this.socket.pause();
  }

  private resumeReading(): void {
    this.isReadPaused = false;
    this.socket.resume();
  }

  private cleanUp(): void {
    if (this.closeTimer !== undefined) clearTimeout(this.closeTimer);
    this.closeTimer = undefined;
    this.clearHandshakeTimer();
    this.heartbeat?.stop();
    const socket = this.socket;
    const driver = this.driver;
    socket.off('data', onSocketData);
    socket.off('end', onSocketEnd);
    socket.off('error', onSocketError);
    socket.off('close', onSocketClose);
    socket.off('drain', onSocketDrain);
    socket.off('finish', destroyAfterRejection);
    driver.off('open', onDriverOpen);
    driver.off('pong', onDriverPong);
    driver.off('error', onDriverError);
    driver.off('close', onDriverClose);
    driver.io.off('data', onOutgoing);
    driver.io.off('drain', onConsumerDrain);
    driver.off('outgoingIdle', onOutgoingIdle);
  }
}

/** Where the shared listeners find their link: set on the socket, the driver and the driver's io. */
const LINK = Symbol('hybi.socketLink');
type Linked = { [LINK]?: SocketLink };

function linkOf(emitter: unknown): SocketLink {
  return (emitter as Linked)[LINK]!;
}

function onSocketData(this: Duplex, chunk: Buffer): void {
  linkOf(this).socketData(chunk);
}
function onSocketEnd(this: Duplex): void {
  linkOf(this).socketEnded();
}
function onSocketError(this: Duplex, error: Error): void {
  linkOf(this).socketFailed(error);
}
function onSocketClose(this: Duplex): void {
  linkOf(this).socketClosed();
}
function onSocketDrain(this: Duplex): void {
  linkOf(this).socketDrained();
}
function onDriverOpen(this: Driver): void {
  linkOf(this).driverOpened();
}
function onDriverError(this: Driver): void {
  linkOf(this).driverFailed();
}
function onDriverClose(this: Driver, event: CloseEvent): void {
  linkOf(this).driverClosed(event);
}
function onDriverPong(this: Driver): void {
  linkOf(this).driverPonged();
}
function onOutgoingIdle(this: Driver): void {
  linkOf(this).outgoingIdle();
}
function onOutgoing(this: Driver['io'], chunk: Buffer): void {
  linkOf(this).outgoing(chunk);
}
function onConsumerDrain(this: Driver['io']): void {
  linkOf(this).consumerDrained();
}
function uncorkLink(link: SocketLink): void {
  link.uncork();
}
function closeTimedOut(link: SocketLink): void {
  link.closeTimedOut();
}
function handshakeTimedOut(link: SocketLink): void {
  link.handshakeTimedOut();
}
function destroyAfterRejection(this: Duplex): void {
  this.destroy();
}

/** The heartbeat's view of a link: one small object instead of three closures per connection. */
class LinkHeartbeatHost implements HeartbeatHost {
  private readonly link: SocketLink;

  constructor(link: SocketLink) {
    this.link = link;
  }

  ping(): void {
    this.link.driver.ping();
  }

  expire(timeout: number): void {
    // RFC 6455 §7.1.7: a peer that does not answer a ping will not answer a close frame either, so the
    // connection is failed at once instead of spending closeTimeout on a closing handshake. The
    // application sees the 'error' saying why, then 1006 (no close frame was received, §7.1.5).
    this.link.destroy(new Error(`No pong arrived within ${timeout} ms of a heartbeat ping`));
  }

  isReading(): boolean {
    return this.link.isReading;
  }
}

/**
 * Links a driver to a connected socket, both ways: what the socket reads is parsed by the driver, what
 * the driver writes goes to the socket. Call `driver.start()` after linking. The link ends the socket when
 * the driver closes (a client waits for the server's FIN first, RFC 6455 §7.1.1), aborts it (destroys it,
 * or calls `options.abort`) when the peer takes longer than `closeTimeout`, or the handshake longer than
 * `handshakeTimeout`, or a pong longer than the heartbeat's `timeout`, and reports 1006 if the transport
 * ends before a closing handshake.
 *
 * @example
 * ```ts
 * const driver = http(request);
 * const link = linkSocket(driver, socket, { head, closeTimeout: 5000, heartbeat: DEFAULT_HEARTBEAT });
 * link.on('close', ({ code, wasClean }) => console.log('closed', code, wasClean));
 * driver.start();
 * ```
 */
export function linkSocket(driver: Driver, socket: Duplex, options: SocketLinkOptions = {}): SocketLink {
  return new SocketLink(driver, socket, options);
}
