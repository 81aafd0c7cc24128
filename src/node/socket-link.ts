// Owns the one place a driver meets a socket (net.Socket, tls.TLSSocket or any Duplex): bytes both ways
// with backpressure, socket errors, the close timeout of RFC 6455 §7.1.1, and cleanup.

import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { ClientDriver } from '../driver/client.js';
import type { CloseEvent, Driver } from '../driver/driver.js';
import { CloseCode } from '../protocol/opcodes.js';
import type { TransportCloseEvent, TransportEvents, WebSocketTransport } from '../websocket.js';

/** Options of {@link linkSocket}. */
export interface SocketLinkOptions {
  /**
   * Milliseconds to wait, once a close frame was sent, for the closing handshake to finish and the TCP
   * connection to end, before the socket is destroyed. Default 5000.
   */
  closeTimeout?: number;
  /** Bytes already read from the socket (node:http's `head` of an upgrade), parsed before anything else. */
  head?: Buffer;
}

const DEFAULT_CLOSE_TIMEOUT = 5000;

/**
 * A driver linked to a socket. Emits 'drain' when the socket's write buffer drained after filling up, and
 * 'close' once, with the final code, reason and `wasClean`, after the socket closed and every listener
 * and timer of the link was removed. Socket errors are reported through the driver's 'error' event.
 */
export class SocketLink extends EventEmitter<TransportEvents> implements WebSocketTransport {
  readonly driver: Driver;
  readonly socket: Duplex;
  private readonly closeTimeout: number;
  private readonly isClient: boolean;
  private hasOpened = false;
  private hasFailed = false;
  private driverClose: CloseEvent | undefined;
  private closeTimer: NodeJS.Timeout | undefined;
  private isCorked = false;
  private isReadPaused = false;
  private isWriteBlocked = false;
  private isFinished = false;

  constructor(driver: Driver, socket: Duplex, options: SocketLinkOptions = {}) {
    super();
    const closeTimeout = options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT;
    if (!Number.isFinite(closeTimeout) || closeTimeout < 0) {
      throw new RangeError(`closeTimeout is a number of milliseconds >= 0, not ${closeTimeout}`);
    }
    this.driver = driver;
    this.socket = socket;
    this.closeTimeout = closeTimeout;
    this.isClient = driver instanceof ClientDriver;
    this.hasOpened = driver.readyState > 0;

    // WebSocket messages are latency-sensitive and already framed: Nagle would only delay them.
    const tcp = socket as Duplex & { setNoDelay?: (noDelay: boolean) => unknown };
    if (typeof tcp.setNoDelay === 'function') tcp.setNoDelay(true);

    socket.on('data', this.onSocketData);
    socket.on('end', this.onSocketEnd);
    socket.on('error', this.onSocketError);
    socket.on('close', this.onSocketClose);
    socket.on('drain', this.onSocketDrain);
    driver.on('open', this.onDriverOpen);
    driver.on('error', this.onDriverError);
    driver.on('close', this.onDriverClose);
    driver.io.on('data', this.onOutgoing);
    driver.io.on('drain', this.onConsumerDrain);

    const head = options.head;
    if (head !== undefined && head.length > 0) this.onSocketData(head);
    // A socket that was paused before it reached us (a CONNECT tunnel, an upgrade) must flow again.
    if (!this.isReadPaused) socket.resume();
    // The socket may have ended or closed while it waited (an async verifyRequest): act on it now.
    if (socket.destroyed) process.nextTick(this.onSocketClose);
    else if (socket.readableEnded) process.nextTick(this.onSocketEnd);
  }

  /** Bytes written to the socket and not yet flushed to the network. */
  get bufferedAmount(): number {
    return this.socket.writableLength;
  }

  /** Whether the socket's write buffer is past its high-water mark ('drain' follows). */
  get isWriteBufferFull(): boolean {
    return this.isWriteBlocked;
  }

  /** Destroys the socket at once; `error`, if given, is reported through the driver's 'error' first. */
  destroy(error?: Error): void {
    if (this.isFinished) return;
    if (error !== undefined) {
      this.hasFailed = true;
      this.driver.emit('error', error);
    }
    this.socket.destroy();
  }

  // --- socket → driver -------------------------------------------------------------------------

  private readonly onSocketData = (chunk: Buffer): void => {
    // After the driver closed, bytes are read only to see the peer's FIN; the driver ignores them.
    if (this.driverClose !== undefined) return;
    const io = this.driver.io;
    // Only the application's pause stops reading. A full write buffer does not (two peers echoing a
    // burst would each wait for the other to read: a deadlock); a ping flood is bounded by the driver,
    // which holds back all but the latest pong while our write buffer is full (RFC 6455 §5.5.3).
    if (!io.write(chunk) && io.isConsumerPaused) this.pauseReading();
  };

  /** io 'drain': the application resumed its messages, or our own write buffer drained. */
  private readonly onConsumerDrain = (): void => {
    if (!this.isReadPaused || this.driver.io.isConsumerPaused) return;
    this.resumeReading();
  };

  private readonly onSocketEnd = (): void => {
    if (this.isFinished) return;
    // The peer closed its side: a connection not yet closed ends with 1006 (RFC 6455 §7.1.5).
    this.driver.io.end();
    if (!this.socket.writableEnded) this.socket.end();
  };

  private readonly onSocketError = (error: Error): void => {
    // Never rethrown: a socket error fails this connection only. Node destroys the socket, 'close' follows.
    // After a completed closing handshake the outcome is decided (RFC 6455 §7.1.1 lets either side drop
    // TCP then), so a late ECONNRESET is not reported as a failure of the connection.
    if (this.driverClose !== undefined && !this.hasFailed && this.driverClose.code !== CloseCode.Abnormal) {
      return;
    }
    this.hasFailed = true;
    this.driver.emit('error', error);
    this.driver.io.end();
  };

  private readonly onSocketClose = (): void => {
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
  };

  // --- driver → socket -------------------------------------------------------------------------

  private readonly onOutgoing = (chunk: Buffer): void => {
    const socket = this.socket;
    if (socket.destroyed || socket.writableEnded) return;
    // A frame's header and payload, and every frame sent in one turn, leave in one writev.
    if (!this.isCorked) {
      this.isCorked = true;
      socket.cork();
      process.nextTick(this.uncork);
    }
    if (!socket.write(chunk) && !this.isWriteBlocked) {
      // Past the high-water mark: tell the driver's messages stream (its write() returns false now).
      this.isWriteBlocked = true;
      this.driver.io.pause();
    }
    // Our close frame is going out (RFC 6455 §7.1.2): from now on the peer has closeTimeout to finish.
    if (this.driver.readyState >= 2) this.startCloseTimer();
  };

  private readonly uncork = (): void => {
    this.isCorked = false;
    this.socket.uncork();
  };

  private readonly onSocketDrain = (): void => {
    if (!this.isWriteBlocked) return;
    this.isWriteBlocked = false;
    // Emits io 'drain', which resumes reading unless the application is paused.
    this.driver.io.resume();
    this.emit('drain');
  };

  // --- the driver's lifecycle ------------------------------------------------------------------

  private readonly onDriverOpen = (): void => {
    this.hasOpened = true;
  };

  private readonly onDriverError = (): void => {
    this.hasFailed = true;
  };

  private readonly onDriverClose = (event: CloseEvent): void => {
    this.driverClose = event;
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
  };

  // --- internals -------------------------------------------------------------------------------

  private startCloseTimer(): void {
    if (this.closeTimer !== undefined || this.isFinished) return;
    this.closeTimer = setTimeout(this.onCloseTimeout, this.closeTimeout);
    // The timer is a bound on a close, not a reason to keep the process alive.
    this.closeTimer.unref();
  }

  private readonly onCloseTimeout = (): void => {
    this.closeTimer = undefined;
    // The peer did not finish the closing handshake, or did not end TCP after it: give up on it.
    this.socket.destroy();
  };

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
    const socket = this.socket;
    const driver = this.driver;
    socket.off('data', this.onSocketData);
    socket.off('end', this.onSocketEnd);
    socket.off('error', this.onSocketError);
    socket.off('close', this.onSocketClose);
    socket.off('drain', this.onSocketDrain);
    driver.off('open', this.onDriverOpen);
    driver.off('error', this.onDriverError);
    driver.off('close', this.onDriverClose);
    driver.io.off('data', this.onOutgoing);
    driver.io.off('drain', this.onConsumerDrain);
  }
}

/**
 * Links a driver to a connected socket, both ways: what the socket reads is parsed by the driver, what
 * the driver writes goes to the socket. Call `driver.start()` after linking. The link ends the socket when
 * the driver closes (a client waits for the server's FIN first, RFC 6455 §7.1.1), destroys it when the
 * peer takes longer than `closeTimeout`, and reports 1006 if the transport ends before a closing handshake.
 *
 * @example
 * ```ts
 * const driver = http(request);
 * const link = linkSocket(driver, socket, { head, closeTimeout: 5000 });
 * link.on('close', ({ code, wasClean }) => console.log('closed', code, wasClean));
 * driver.start();
 * ```
 */
export function linkSocket(driver: Driver, socket: Duplex, options: SocketLinkOptions = {}): SocketLink {
  return new SocketLink(driver, socket, options);
}
