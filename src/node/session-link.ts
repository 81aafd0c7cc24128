// Owns the lean link between one Session and its socket (net.Socket, tls.TLSSocket or an HTTP/2 stream):
// bytes both ways with backpressure, the close timeout, the heartbeat and cleanup, reporting straight to
// the WebSocket on top. The path of hybi's own servers: no Driver, no classic stream, no emitter.

import type { Duplex } from 'node:stream';
import type { Role } from '../protocol/connection.js';
import { CloseCode } from '../protocol/opcodes.js';
import { Session, type SessionHost, type SessionOptions } from '../session/session.js';
import type {
  SessionTransport,
  TransportCloseEvent,
  TransportReceiver,
  TransportReport,
} from '../websocket-transport.js';
import { Heartbeat, type HeartbeatHost, type HeartbeatOptions } from './heartbeat.js';
import { DEFAULT_CLOSE_TIMEOUT } from './socket-link.js';

/** Options of a {@link SessionLink}. */
export interface SessionLinkOptions {
  /** Milliseconds for the closing handshake and the TCP end once a close frame was sent (default 5000). */
  closeTimeout?: number;
  /** Ping every `interval` ms, give up on the peer after `timeout` ms without a pong. Off by default. */
  heartbeat?: HeartbeatOptions | false;
  /**
   * How to abort without a closing handshake: default `socket.destroy()`. An HTTP/2 stream is reset
   * with CANCEL instead (RFC 8441 §5). The socket's 'close' must follow.
   */
  abort?: () => void;
  /** The HTTP/2 session kind when the socket is an HTTP/2 stream (RFC 8441). */
  httpProtocol?: 'h2' | 'h2c';
}

/**
 * One connection's session linked to its socket, both ways, for a WebSocket that is already past its
 * opening handshake (or is about to be: `session.open()` starts it). What the socket reads goes to the
 * session, what the session writes goes to the socket, and everything the WebSocket needs to hear is
 * handed to it through one shared function (`attach`), not through events.
 */
export class SessionLink implements SessionTransport, SessionHost, HeartbeatHost {
  readonly session: Session;
  readonly socket: Duplex;
  readonly url: string;
  readonly httpProtocol: 'h2' | 'h2c' | undefined;
  private readonly closeTimeout: number;
  private readonly heartbeat: Heartbeat | undefined;
  private readonly customAbort: (() => void) | undefined;
  private owner: object | undefined;
  private receiver: TransportReceiver | undefined;
  private hasOpened = false;
  private hasFailed = false;
  /** The session's close, once it reported one: code and reason for the final close event. */
  private closeCode = -1;
  private closeReason = '';
  private closeTimer: NodeJS.Timeout | undefined;
  private isCorked = false;
  private isReadPaused = false;
  private isWriteBlocked = false;
  /** isWriteBufferFull said true because of messages still being compressed. */
  private isAwaitingCompression = false;
  private isFinished = false;
  /** The session was told the transport ended (once: later ends, errors and the close change nothing). */
  private hasEndedTransport = false;

  constructor(
    socket: Duplex,
    role: Role,
    url: string,
    sessionOptions: SessionOptions,
    options: SessionLinkOptions = {},
  ) {
    const closeTimeout = options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT;
    if (!Number.isFinite(closeTimeout) || closeTimeout < 0) {
      throw new RangeError(`closeTimeout is a number of milliseconds >= 0, not ${closeTimeout}`);
    }
    const heartbeat = options.heartbeat ?? false;
    this.socket = socket;
    this.url = url;
    this.httpProtocol = options.httpProtocol;
    this.closeTimeout = closeTimeout;
    this.customAbort = options.abort;
    this.session = new Session(this, role, sessionOptions);
    this.heartbeat = heartbeat === false ? undefined : new Heartbeat(heartbeat, this);

    // WebSocket messages are latency-sensitive and already framed: Nagle would only delay them.
    const tcp = socket as Duplex & { setNoDelay?: (noDelay: boolean) => unknown };
    if (typeof tcp.setNoDelay === 'function') tcp.setNoDelay(true);

    // Shared listeners that find their link through a symbol on the socket (as ws does): no closures.
    (socket as Linked)[LINK] = this;
    socket.on('data', onSocketData);
    socket.on('end', onSocketEnd);
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
    socket.on('drain', onSocketDrain);
  }

  /**
   * Bytes already read from the socket (node:http's `head` of an upgrade), then reading starts: a socket
   * paused before it reached us (an upgrade) flows again. A socket that ended or closed meanwhile is
   * acted on in the next tick.
   */
  start(head: Buffer | undefined): void {
    const socket = this.socket;
    if (head !== undefined && head.length > 0) this.socketData(head);
    if (!this.isReadPaused) socket.resume();
    if (socket.destroyed) process.nextTick(closeLinkSoon, this);
    else if (socket.readableEnded) process.nextTick(endLinkSoon, this);
  }

  /** Where the link's reports go: the WebSocket on top calls this once, with a shared function. */
  attach(owner: object, receiver: TransportReceiver): void {
    this.owner = owner;
    this.receiver = receiver;
  }

  // --- the heartbeat's host (the link itself: no object per connection for it) -------------------

  /** @internal Whether the socket is being read: false while the application has paused reading. */
  isReading(): boolean {
    return !this.isReadPaused;
  }

  /** @internal The heartbeat's ping. */
  ping(): void {
    this.session.ping();
  }

  /** @internal No pong arrived in time. */
  expire(timeout: number): void {
    // RFC 6455 §7.1.7: a peer that does not answer a ping will not answer a close frame either, so the
    // connection is failed at once; the application sees the 'error' saying why, then 1006 (§7.1.5).
    this.destroy(new Error(`No pong arrived within ${timeout} ms of a heartbeat ping`));
  }

  /** Bytes not yet handed to the network: the socket's buffer, plus messages still being compressed. */
  get bufferedAmount(): number {
    return this.socket.writableLength + this.session.bufferedOutgoingBytes;
  }

  /**
   * Whether the socket's write buffer is past its high-water mark, or the messages still being
   * compressed add up to that much ('drain' follows either way).
   */
  get isWriteBufferFull(): boolean {
    if (this.isWriteBlocked) return true;
    if (this.session.bufferedOutgoingBytes < this.socket.writableHighWaterMark) return false;
    this.isAwaitingCompression = true;
    return true;
  }

  /** How many timers this link has pending (heartbeat, close): 0 once it closed. For tests and leak checks. */
  get activeTimerCount(): number {
    return (this.closeTimer === undefined ? 0 : 1) + (this.heartbeat?.isRunning === true ? 1 : 0);
  }

  /** Aborts the connection at once; `error`, if given, is reported first. */
  destroy(error?: Error): void {
    if (this.isFinished) return;
    if (error !== undefined) this.fail(error);
    this.abort();
  }

  /** Reports `error` as the connection's failure (its close will not be clean), without ending it. */
  fail(error: Error): void {
    this.hasFailed = true;
    this.report('error', error);
  }

  // --- socket → session ------------------------------------------------------------------------

  /** @internal */
  socketData(chunk: Buffer): void {
    // After the session closed, bytes are read only to see the peer's FIN.
    if (this.closeCode !== -1 || this.hasEndedTransport) return;
    // The session says stop while bytes it was given wait unread (a message ahead of them is being
    // inflated, or the application paused): one socket read held, then the kernel's buffers and TCP's
    // window push back on the peer. A full write buffer never stops reading (see Session#receive).
    if (!this.session.receive(chunk)) this.pauseReading();
  }

  /** @internal */
  socketEnded(): void {
    if (this.isFinished) return;
    // The peer closed its side: a connection not yet closed ends with 1006 (RFC 6455 §7.1.5).
    this.endTransport();
    if (!this.socket.writableEnded) this.socket.end();
  }

  /** @internal */
  socketFailed(error: Error): void {
    // Never rethrown: a socket error fails this connection only; 'close' follows. After a completed
    // closing handshake the outcome is decided (RFC 6455 §7.1.1 lets either side drop TCP then).
    if (this.closeCode !== -1 && !this.hasFailed && this.closeCode !== CloseCode.Abnormal) return;
    this.fail(error);
    this.endTransport();
  }

  /** @internal */
  socketClosed(): void {
    if (this.isFinished) return;
    this.isFinished = true;
    // Destroyed (close timeout, destroy(), a reset) before the session heard of it: 1006.
    this.endTransport();
    this.cleanUp();
    const event: TransportCloseEvent =
      this.closeCode === -1
        ? { code: CloseCode.Abnormal, reason: '', wasClean: false }
        : {
            code: this.closeCode,
            reason: this.closeReason,
            wasClean: this.hasOpened && !this.hasFailed && this.closeCode !== CloseCode.Abnormal,
          };
    this.report('close', event);
  }

  /** @internal */
  socketDrained(): void {
    if (!this.isWriteBlocked) return;
    this.isWriteBlocked = false;
    this.session.outputDrained();
    this.inputDrained();
    this.report('drain', undefined);
  }

  /** @internal */
  uncork(): void {
    this.isCorked = false;
    this.socket.uncork();
  }

  // --- session → socket and WebSocket ----------------------------------------------------------

  /** @internal */
  sessionWrite(chunks: readonly Buffer[]): void {
    const socket = this.socket;
    if (socket.destroyed || socket.writableEnded) return;
    // A frame's header and payload, and every frame sent in one turn, leave in one writev.
    if (!this.isCorked) {
      this.isCorked = true;
      socket.cork();
      process.nextTick(uncorkLink, this);
    }
    for (const chunk of chunks) {
      if (!socket.write(chunk) && !this.isWriteBlocked) {
        // Past the high-water mark: the session holds pongs back, the WebSocket's send() says false.
        this.isWriteBlocked = true;
        this.session.outputBlocked();
      }
    }
    // Our close frame is going out (RFC 6455 §7.1.2): from now on the peer has closeTimeout to finish,
    // and that bound replaces the heartbeat's.
    if (this.session.readyState >= 2) {
      this.heartbeat?.stop();
      this.startCloseTimer();
    }
  }

  /** @internal */
  sessionOpened(): void {
    this.hasOpened = true;
    this.heartbeat?.start();
    this.report('open', undefined);
  }

  /** @internal */
  sessionMessage(data: string | Buffer): void {
    this.report('message', data);
  }

  /** @internal */
  sessionPing(payload: Buffer): void {
    this.report('ping', payload);
  }

  /** @internal */
  sessionPong(payload: Buffer): void {
    this.heartbeat?.pong();
    this.report('pong', payload);
  }

  /** @internal */
  sessionError(error: Error): void {
    this.fail(error);
  }

  /** @internal */
  sessionClosed(code: number, reason: string): void {
    this.closeCode = code;
    this.closeReason = reason;
    this.heartbeat?.stop();
    if (!this.isFinished) {
      const socket = this.socket;
      // Keep reading, whatever the application paused: the peer's FIN is what ends the connection.
      if (this.isReadPaused) this.resumeReading();
      // RFC 6455 §7.1.1: the server closes TCP first; a client waits for the server to do so. A handshake
      // that never opened, a failure or a lost transport leave nothing to wait for.
      const shouldEndNow =
        this.session.role === 'server' ||
        !this.hasOpened ||
        this.hasFailed ||
        code === CloseCode.Abnormal ||
        socket.readableEnded;
      if (shouldEndNow && !socket.writableEnded) socket.end();
      this.startCloseTimer();
    }
    this.report('closed', undefined);
  }

  /** @internal The compressor caught up; if it was what made us report a full buffer, 'drain' is owed now. */
  sessionOutgoingIdle(): void {
    if (!this.isAwaitingCompression) return;
    this.isAwaitingCompression = false;
    if (!this.isWriteBlocked) this.report('drain', undefined);
  }

  /** @internal The held bytes were read (or the application resumed): read the socket again. */
  sessionInputDrained(): void {
    this.inputDrained();
  }

  // --- internals -------------------------------------------------------------------------------

  private report(kind: TransportReport, value: unknown): void {
    const receiver = this.receiver;
    if (receiver !== undefined) receiver(this.owner!, kind, value);
  }

  private endTransport(): void {
    if (this.hasEndedTransport) return;
    this.hasEndedTransport = true;
    this.session.transportEnded();
  }

  private inputDrained(): void {
    if (!this.isReadPaused || this.session.isHoldingInput) return;
    this.resumeReading();
  }

  /** Ends the connection without a closing handshake: `options.abort`, or destroying the socket. */
  private abort(): void {
    if (this.customAbort === undefined) this.socket.destroy();
    else this.customAbort();
  }

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

  private pauseReading(): void {
    if (this.isReadPaused || this.closeCode !== -1) return;
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
    this.heartbeat?.stop();
    const socket = this.socket;
    socket.off('data', onSocketData);
    socket.off('end', onSocketEnd);
    socket.off('error', onSocketError);
    socket.off('close', onSocketClose);
    socket.off('drain', onSocketDrain);
  }
}

/** Where the shared listeners find their link: set on the socket. */
const LINK = Symbol('hybi.sessionLink');
type Linked = { [LINK]?: SessionLink };

function linkOf(socket: Duplex): SessionLink {
  return (socket as Linked)[LINK]!;
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
function uncorkLink(link: SessionLink): void {
  link.uncork();
}
function closeTimedOut(link: SessionLink): void {
  link.closeTimedOut();
}
function closeLinkSoon(link: SessionLink): void {
  link.socketClosed();
}
function endLinkSoon(link: SessionLink): void {
  link.socketEnded();
}
