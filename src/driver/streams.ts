// Owns the driver's two classic streams, as websocket-driver models them: `io` carries wire bytes,
// `messages` carries application messages; pausing one tells the other's source to back off.

import { Stream } from 'node:stream';

/** What the streams need from their driver. */
export interface StreamDriver {
  parse(chunk: Buffer): void;
  text(message: string): boolean;
  binary(message: Buffer): boolean;
  /** The transport ended (the socket piped into `io` closed). */
  transportEnded(): void;
  /** The socket we write to is full. */
  outputBlocked(): void;
  /** The socket we write to can take more again. */
  outputDrained(): void;
  /** Whether received bytes wait unread: `io.write` then asks the transport to stop reading. */
  readonly isHoldingInput: boolean;
  /** `io.write` returned false: a 'drain' is owed once the held bytes are read. */
  inputBlocked(): void;
  readonly io: IOStream;
  readonly messages: MessagesStream;
  pauseInput(): void;
  resumeInput(): void;
  /** The messages stream if it was made (it is made on first use of `messages`). */
  readonly existingMessages: MessagesStream | undefined;
}

/**
 * The wire side: pipe the socket into it and it into the socket.
 * `write(chunk)` parses received bytes and returns false while some of them wait unread (a message ahead
 * of them is in the extension pipeline, e.g. being inflated) or the application has paused `messages`,
 * so that `socket.pipe(driver.io)` stops reading until 'drain'. A transport that honours this holds at
 * most one chunk beyond the message in flight, whatever the peer sends.
 *
 * @example
 * ```ts
 * socket.pipe(driver.io).pipe(socket);
 * ```
 */
export class IOStream extends Stream {
  readable = true;
  writable = true;
  /** @internal Set while the socket we write to is full. */
  isPaused = false;
  private readonly driver: StreamDriver;

  constructor(driver: StreamDriver) {
    super();
    this.driver = driver;
  }

  /** The writer of our output (the socket) is full: tell the messages writer to back off. */
  pause(): void {
    this.isPaused = true;
    this.driver.outputBlocked();
  }

  resume(): void {
    this.isPaused = false;
    this.driver.outputDrained();
    this.emit('drain');
    this.driver.existingMessages?.emit('drain');
  }

  write(chunk: Buffer | Uint8Array | string, ..._rest: unknown[]): boolean {
    if (!this.writable) return false;
    const bytes =
      typeof chunk === 'string'
        ? Buffer.from(chunk, 'latin1')
        : Buffer.isBuffer(chunk)
          ? chunk
          : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const driver = this.driver;
    driver.parse(bytes);
    // Reading stops while received bytes wait (for zlib, or for a paused application), never because our
    // own output is full: that would deadlock two peers that echo a burst at each other (each waits for
    // the other to read); a ping flood is bounded instead by answering only the latest ping while full.
    if (!driver.isHoldingInput) return true;
    driver.inputBlocked();
    return false;
  }

  /** The socket piped into us ended (classic `pipe` calls this): the transport is gone. */
  end(chunk?: unknown, ..._rest: unknown[]): this {
    if (!this.writable) return this;
    if (typeof chunk === 'string' || chunk instanceof Uint8Array) this.write(chunk);
    this.writable = false;
    this.driver.transportEnded();
    const messages = this.driver.existingMessages;
    if (messages?.readable === true) {
      messages.readable = false;
      messages.writable = false;
      messages.emit('end');
    }
    return this;
  }

  destroy(): this {
    return this.end();
  }
}

/**
 * The application side: 'data' emits each message (a string for text, a Buffer for binary);
 * `write(message)` sends one and returns false while the socket is full, then 'drain' fires.
 * `pause()` stops delivery (no 'data' until `resume()`, even from bytes already read) and makes
 * `io.write` return false so the socket stops being read.
 */
export class MessagesStream extends Stream {
  readable = true;
  writable = true;
  private readonly driver: StreamDriver;

  constructor(driver: StreamDriver) {
    super();
    this.driver = driver;
  }

  pause(): void {
    this.driver.pauseInput();
  }

  resume(): void {
    this.driver.resumeInput();
  }

  write(message: string | Uint8Array, ..._rest: unknown[]): boolean {
    if (!this.writable) return false;
    if (typeof message === 'string') this.driver.text(message);
    else this.driver.binary(Buffer.isBuffer(message) ? message : Buffer.from(message));
    return !this.driver.io.isPaused;
  }

  /** Many streams may be piped in; one ending does not end the WebSocket (as in websocket-driver). */
  end(message?: unknown, ..._rest: unknown[]): this {
    if (typeof message === 'string' || message instanceof Uint8Array) this.write(message);
    return this;
  }

  destroy(): this {
    return this;
  }
}
