// Owns the RFC 7692 permessage-deflate extension and its sessions: compressing and inflating whole messages with node:zlib.

import {
  createDeflateRaw,
  createInflateRaw,
  type DeflateRaw,
  type InflateRaw,
  constants as zlibConstants,
} from 'node:zlib';
import { ProtocolError } from '../protocol/errors.js';
import { CloseCode, Opcode } from '../protocol/opcodes.js';
import type {
  ClientExtensionSession,
  Extension,
  ExtensionMessage,
  ExtensionParams,
  ExtensionSessionOptions,
  MessageCallback,
  ServerExtensionSession,
} from './extension.js';
import {
  type Agreement,
  agreeWithResponse,
  answerOffer,
  DEFAULT_AGREEMENT,
  type DeflateParams,
  readParams,
  writeParams,
} from './permessage-deflate-negotiation.js';
import type { PerMessageDeflateOptions } from './permessage-deflate-options.js';
import { type DeflateConfig, resolveMaxLength, validateOptions } from './permessage-deflate-options.js';
import { SerialQueue } from './serial-queue.js';

export type { PerMessageDeflateOptions } from './permessage-deflate-options.js';

/**
 * RFC 7692 §7.2.1: a sync flush ends with an empty stored block, `00 00 ff ff`; senders strip it and
 * receivers append it again before inflating.
 */
const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);
/** Compressed messages up to this size are copied once to carry the trailer in the same zlib write. */
const JOIN_TRAILER_LIMIT = 64 * 1024;
/**
 * The window-bits-8 decision, both ways.
 *
 * Deflating: zlib cannot build a raw deflater with a 256-byte window (deflateInit2 rejects 8 for raw
 * streams, madler/zlib#171); Node's DeflateRaw silently turns 8 into 9. That is still safe to send when
 * the peer allowed only 8: zlib never emits a distance beyond `w_size - MIN_LOOKAHEAD`, which with a
 * 512-byte window is 512 - 262 = 250 bytes, so every stream it makes fits a 256-byte inflate window.
 * So we accept and answer 8 like any other value (declining it, as some libraries do, would lose
 * compression with clients that ask for 8), and ask zlib for 9 explicitly rather than rely on Node's
 * rewrite. The test "deflates within 256 bytes of history when 8 is negotiated" pins the 250 limit.
 *
 * Inflating: a larger inflate window reads everything a smaller one does. We inflate with at least 9,
 * as faye's permessage-deflate does: for 256 more bytes per session we also read a peer that maps 8 to
 * 9 on its own with a deflater that does not stop at 250 bytes. That peer breaks §7.1.2, but failing it
 * would protect nothing, since our memory bound is maxLength, not the window.
 */
const ZLIB_MIN_RAW_WINDOW_BITS = 9;
/**
 * RFC 7692 permessage-deflate as a websocket-extensions style extension, on node:zlib.
 *
 * Options are checked now: a wrong type throws TypeError, a value out of range RangeError, each saying
 * what to pass. Sessions create their zlib contexts on the first compressed message and, under
 * no_context_takeover for a direction, release that direction's context after every message.
 *
 * @example
 * ```ts
 * import { permessageDeflate } from './extensions/permessage-deflate.js';
 * driver.addExtension(permessageDeflate({ threshold: 256, serverNoContextTakeover: true }));
 * ```
 */
export function permessageDeflate(options?: PerMessageDeflateOptions): Extension {
  const config = validateOptions(options);
  return {
    name: 'permessage-deflate',
    type: 'permessage',
    rsv1: true,
    rsv2: false,
    rsv3: false,
    createClientSession(sessionOptions?: ExtensionSessionOptions): ClientExtensionSession {
      return new PerMessageDeflateClientSession(config, resolveMaxLength(sessionOptions));
    },
    createServerSession(
      offers: ExtensionParams[],
      sessionOptions?: ExtensionSessionOptions,
    ): ServerExtensionSession | null {
      const maxLength = resolveMaxLength(sessionOptions);
      // RFC 7692 §5: the server declines an offer it cannot accept and considers the next; all declined
      // means the extension is not used, not that the handshake fails.
      for (const offer of offers) {
        const params = readParams(offer, 'offer');
        if (params !== null) return new PerMessageDeflateServerSession(config, maxLength, params);
      }
      return null;
    },
  };
}

/**
 * The per-connection half of permessage-deflate: two independent directions, each with its own queue,
 * its own lazily created zlib context, and callbacks fired strictly in call order.
 *
 * Exported for diagnostics and tests (`instanceof`, the read-only counters); drivers use it only
 * through the `ExtensionSession` interface.
 *
 * On `close()`, every callback not yet fired is called with an Error (never synchronously inside
 * `close()`), in call order per direction; calls made after `close()` get the same error.
 */
export class PerMessageDeflateSession {
  protected agreement: Agreement = DEFAULT_AGREEMENT;
  private readonly config: DeflateConfig;
  private readonly maxLength: number;
  private readonly outgoing = new SerialQueue();
  private readonly incoming = new SerialQueue();
  private deflater: DeflateRaw | null = null;
  private inflater: InflateRaw | null = null;
  private outgoingJob: MessageJob | null = null;
  private incomingJob: MessageJob | null = null;
  /** Set once inflating failed: the peer's LZ77 context is lost, so later compressed messages cannot be read. */
  private incomingFailure: Error | null = null;
  private inflatedByteCount = 0;
  private isClosed = false;

  constructor(config: DeflateConfig, maxLength: number) {
    this.config = config;
    this.maxLength = maxLength;
  }

  /** Bytes the inflater has produced over this session's life, counting output discarded past maxLength. */
  get totalInflatedBytes(): number {
    return this.inflatedByteCount;
  }

  /** Whether a zlib deflate context is allocated now. */
  get hasDeflater(): boolean {
    return this.deflater !== null;
  }

  /** Whether a zlib inflate context is allocated now. */
  get hasInflater(): boolean {
    return this.inflater !== null;
  }

  /**
   * RFC 7692 §6.2: inflate a message whose RSV1 is set; pass any other through unchanged. Fails with a
   * ProtocolError: 1009 once the inflated size passes maxLength, 1007 for data that is not DEFLATE.
   */
  processIncomingMessage(message: ExtensionMessage, callback: MessageCallback): void {
    this.incoming.add((next) => {
      if (this.isClosed) return deliver(callback, closedError(), undefined, next);
      if (!message.rsv1) return deliver(callback, null, message, next);
      if (this.incomingFailure !== null) return deliver(callback, this.incomingFailure, undefined, next);
      if (message.data.length === 0) {
        // Not valid DEFLATE (an empty message is sent as one 0x00 byte, §7.2.3.6), but harmless: read it
        // as empty rather than feed `00 00 ff ff` alone, which would leave the inflater inside a stored
        // block and corrupt the next message.
        return deliver(callback, null, withPayload(message, false, Buffer.alloc(0)), next);
      }
      const job = new MessageJob(message, callback, next);
      this.incomingJob = job;
      this.startJob(job, () => this.inflate(job));
    });
  }

  /**
   * RFC 7692 §6.1: compress a text or binary message at or above the threshold and set RSV1. Control
   * frames, short messages and messages with `compress: false` pass through unchanged.
   */
  processOutgoingMessage(message: ExtensionMessage, callback: MessageCallback): void {
    this.outgoing.add((next) => {
      if (this.isClosed) return deliver(callback, closedError(), undefined, next);
      if (!this.shouldCompress(message)) return deliver(callback, null, message, next);
      if (message.data.length === 0) {
        // RFC 7692 §7.2.3.6: an empty message is a single 0x00 byte. Made here rather than by zlib, which
        // emits nothing for a second sync flush with no input in between. It inserts an empty stored
        // block, which leaves the peer's window untouched, so context takeover is unaffected. A fresh
        // buffer each time: a client masks its payload in place.
        return deliver(callback, null, withPayload(message, true, Buffer.alloc(1)), next);
      }
      const job = new MessageJob(message, callback, next);
      this.outgoingJob = job;
      this.startJob(job, () => this.deflate(job));
    });
  }

  /** Free both zlib contexts and fail every callback not yet fired (asynchronously). Idempotent. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.releaseDeflater();
    this.releaseInflater();
    // Fail the jobs in flight on the next tick, so no callback runs inside close(); the queued ones see
    // isClosed when their turn comes and fail the same way, in order.
    process.nextTick(() => {
      const outgoingJob = this.outgoingJob;
      const incomingJob = this.incomingJob;
      try {
        if (outgoingJob !== null) this.settle(outgoingJob, closedError(), undefined);
      } finally {
        if (incomingJob !== null) this.settle(incomingJob, closedError(), undefined);
      }
    });
  }

  private shouldCompress(message: ExtensionMessage): boolean {
    if (message.compress === false) return false;
    // RFC 7692 §6: the extension applies to data messages; control frames are never compressed.
    if (message.opcode !== Opcode.Text && message.opcode !== Opcode.Binary) return false;
    return message.data.length >= this.config.threshold;
  }

  /** Wait for a zlib slot, then run `work` unless the job was settled (by close) in the meantime. */
  private startJob(job: MessageJob, work: () => void): void {
    this.config.limiter.run((release) => {
      if (job.isSettled) {
        release();
        return;
      }
      job.release = release;
      try {
        work();
      } catch (error) {
        // createDeflateRaw/createInflateRaw throw only when zlib cannot allocate; fail this message.
        // (An error from a callback fired by a settled job is the caller's; let it go on up.)
        if (job.isSettled) throw error;
        this.settle(job, asError(error), undefined);
      }
    });
  }

  private deflate(job: MessageJob): void {
    const deflater = this.deflater ?? this.createDeflater();
    // The stream flushes every write with Z_SYNC_FLUSH, so the write callback comes once the whole
    // message, and its trailing empty stored block, has been emitted as 'data'.
    deflater.write(job.message.data, (error) => this.onDeflated(deflater, job, error ?? null));
  }

  private onDeflated(deflater: DeflateRaw, job: MessageJob, error: Error | null): void {
    if (job.isSettled) return;
    if (this.isClosed || error !== null) {
      this.settle(job, this.isClosed ? closedError() : error, undefined);
      return;
    }
    drainReadable(deflater);
    const output = job.takeOutput();
    if (!endsWithTrailer(output)) {
      this.settle(
        job,
        new Error('permessage-deflate: zlib sync flush did not end with 00 00 ff ff'),
        undefined,
      );
      return;
    }
    // RFC 7692 §7.1.1.1 / §7.1.1.2: without context takeover for what we send, the next message must
    // not refer back into this one. Closing the context rather than reset() costs ~30 µs per message to
    // build a new one but frees ~210 KiB (15 bits, memLevel 8) that an idle connection would otherwise hold.
    if (this.agreement.ownNoContextTakeover) this.releaseDeflater();
    // RFC 7692 §7.2.1: strip the trailing 00 00 ff ff; a view, not a copy.
    const payload = output.subarray(0, output.length - TRAILER.length);
    this.settle(job, null, withPayload(job.message, true, payload));
  }

  private inflate(job: MessageJob): void {
    const inflater = this.inflater ?? this.createInflater();
    const data = job.message.data;
    const consumedBefore = inflater.bytesWritten;
    const onWritten = (error: Error | null | undefined): void =>
      this.onInflated(inflater, job, inflater.bytesWritten - consumedBefore, error ?? null);
    // RFC 7692 §7.2.2: append 00 00 ff ff before inflating. Each write is one trip to libuv's thread
    // pool, which costs more than copying a small message: small ones are joined with the trailer (one
    // trip), large ones written twice, so that they are not copied.
    if (data.length <= JOIN_TRAILER_LIMIT) {
      inflater.write(Buffer.concat([data, TRAILER], data.length + TRAILER.length), onWritten);
    } else {
      inflater.write(data);
      inflater.write(TRAILER, onWritten);
    }
  }

  private onInflated(inflater: InflateRaw, job: MessageJob, consumed: number, error: Error | null): void {
    if (job.isSettled) return;
    if (this.isClosed) {
      this.settle(job, closedError(), undefined);
      return;
    }
    if (error !== null) {
      this.failIncoming(job, invalidDataError(error));
      return;
    }
    drainReadable(inflater);
    // RFC 7692 §7.2.3.4: a peer may end a message with a block that has BFINAL set, followed by a 0x00
    // octet so that our trailer completes an empty stored block. zlib stops at the final block and reads
    // nothing after it (the rest of the frame and our trailer stay unread, as in ws), so the next message
    // needs a new inflater; it starts with an empty window, as the peer's finished deflate stream did.
    const isStreamEnded = consumed < job.message.data.length + TRAILER.length;
    // Without the peer's context takeover its next message needs an empty window anyway (§7.1.1), so
    // the inflater (~40 KiB at 15 bits) is freed now and made again when that message comes.
    if (isStreamEnded || this.agreement.peerNoContextTakeover) this.releaseInflater();
    this.settle(job, null, withPayload(job.message, false, job.takeOutput()));
  }

  private onInflatedChunk(inflater: InflateRaw, chunk: Buffer): void {
    const job = this.incomingJob;
    if (job === null || job.isSettled || this.inflater !== inflater) return;
    this.inflatedByteCount += chunk.length;
    if (job.outputLength + chunk.length > this.maxLength) {
      // The bound on a decompression bomb: stop at the first chunk past maxLength. Closing the inflater
      // here makes zlib skip the rest of the input, so memory stays near maxLength plus one chunk.
      this.failIncoming(job, new ProtocolError(CloseCode.MessageTooBig, 'message too big after inflation'));
      return;
    }
    job.addOutput(chunk);
  }

  private failIncoming(job: MessageJob, error: Error): void {
    this.incomingFailure = error;
    this.releaseInflater();
    this.settle(job, error, undefined);
  }

  private settle(job: MessageJob, error: Error | null, message: ExtensionMessage | undefined): void {
    if (job.isSettled) return;
    job.isSettled = true;
    if (this.outgoingJob === job) this.outgoingJob = null;
    if (this.incomingJob === job) this.incomingJob = null;
    const release = job.release;
    job.release = null;
    release?.();
    deliver(job.callback, error, message, job.next);
  }

  private createDeflater(): DeflateRaw {
    const deflater = createDeflateRaw({
      level: this.config.level,
      memLevel: this.config.memLevel,
      windowBits: Math.max(this.agreement.ownMaxWindowBits, ZLIB_MIN_RAW_WINDOW_BITS),
      flush: zlibConstants.Z_SYNC_FLUSH,
    });
    deflater.on('data', (chunk: Buffer) => {
      const job = this.outgoingJob;
      if (job !== null && this.deflater === deflater) job.addOutput(chunk);
    });
    deflater.on('error', (error: Error) => {
      // Also keeps an error emitted after close() from becoming an uncaught exception.
      if (this.deflater !== deflater) return;
      this.deflater = null;
      const job = this.outgoingJob;
      if (job !== null) this.settle(job, error, undefined);
    });
    this.deflater = deflater;
    return deflater;
  }

  private createInflater(): InflateRaw {
    const inflater = createInflateRaw({
      windowBits: Math.max(this.agreement.peerMaxWindowBits, ZLIB_MIN_RAW_WINDOW_BITS),
      flush: zlibConstants.Z_SYNC_FLUSH,
    });
    inflater.on('data', (chunk: Buffer) => this.onInflatedChunk(inflater, chunk));
    inflater.on('error', (error: Error) => {
      // zlib destroys the stream itself after an error; an error after close() is ignored here.
      if (this.inflater !== inflater) return;
      this.inflater = null;
      const job = this.incomingJob;
      if (job !== null) this.failIncoming(job, invalidDataError(error));
    });
    this.inflater = inflater;
    return inflater;
  }

  private releaseDeflater(): void {
    const deflater = this.deflater;
    if (deflater === null) return;
    this.deflater = null;
    deflater.close();
  }

  private releaseInflater(): void {
    const inflater = this.inflater;
    if (inflater === null) return;
    this.inflater = null;
    inflater.close();
  }
}

/** The client side: makes the offer and checks the server's response (RFC 7692 §5, §7.1). */
class PerMessageDeflateClientSession extends PerMessageDeflateSession implements ClientExtensionSession {
  private readonly offer: DeflateParams;

  constructor(config: DeflateConfig, maxLength: number) {
    super(config, maxLength);
    this.offer = {
      serverNoContextTakeover: config.serverNoContextTakeover,
      clientNoContextTakeover: config.clientNoContextTakeover,
      serverMaxWindowBits: config.serverMaxWindowBits,
      // RFC 7692 §7.1.2.2: offering it (even valueless) lets the server limit our window; browsers do.
      clientMaxWindowBits: config.clientMaxWindowBits ?? true,
    };
  }

  generateOffer(): ExtensionParams {
    return writeParams(this.offer);
  }

  activate(params: ExtensionParams): boolean {
    const response = readParams(params, 'response');
    if (response === null) return false;
    const agreement = agreeWithResponse(this.offer, response);
    if (agreement === null) return false;
    this.agreement = agreement;
    return true;
  }
}

/** The server side: answers the offer it accepted (RFC 7692 §5, §7.1). */
class PerMessageDeflateServerSession extends PerMessageDeflateSession implements ServerExtensionSession {
  private readonly response: DeflateParams;

  constructor(config: DeflateConfig, maxLength: number, offer: DeflateParams) {
    super(config, maxLength);
    const { response, agreement } = answerOffer(offer, config);
    this.response = response;
    this.agreement = agreement;
  }

  generateResponse(): ExtensionParams {
    return writeParams(this.response);
  }
}

/** One compressed message on its way through zlib. */
class MessageJob {
  readonly message: ExtensionMessage;
  readonly callback: MessageCallback;
  readonly next: () => void;
  isSettled = false;
  release: (() => void) | null = null;
  outputLength = 0;
  private chunks: Buffer[] = [];

  constructor(message: ExtensionMessage, callback: MessageCallback, next: () => void) {
    this.message = message;
    this.callback = callback;
    this.next = next;
  }

  addOutput(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.outputLength += chunk.length;
  }

  /** The output so far as one buffer; a single chunk is returned as is, not copied. */
  takeOutput(): Buffer {
    const chunks = this.chunks;
    this.chunks = [];
    if (chunks.length === 1) return chunks[0]!;
    return Buffer.concat(chunks, this.outputLength);
  }
}

/** Fire a callback, then let the queue move on even if the callback throws. */
function deliver(
  callback: MessageCallback,
  error: Error | null,
  message: ExtensionMessage | undefined,
  next: () => void,
): void {
  try {
    if (error !== null) callback(error);
    else callback(null, message);
  } finally {
    next();
  }
}

/** A new message object, so a caller reusing the original (say, for a broadcast) is not surprised. */
function withPayload(message: ExtensionMessage, rsv1: boolean, data: Buffer): ExtensionMessage {
  return { rsv1, rsv2: message.rsv2, rsv3: message.rsv3, opcode: message.opcode, data };
}

/**
 * Emit any output still buffered in the stream. In flowing mode zlib's output is emitted as 'data'
 * before the write callback, so this is a guard that costs one property read, not a code path in use.
 */
function drainReadable(stream: DeflateRaw | InflateRaw): void {
  while (stream.readableLength > 0 && stream.read() !== null) {
    // read() in flowing mode emits the chunk as 'data', where it is collected.
  }
}

function endsWithTrailer(data: Buffer): boolean {
  const length = data.length;
  return (
    length >= 4 &&
    data[length - 4] === 0x00 &&
    data[length - 3] === 0x00 &&
    data[length - 2] === 0xff &&
    data[length - 1] === 0xff
  );
}

function invalidDataError(cause: Error): ProtocolError {
  // RFC 6455 §7.4.1: 1007 is for data inconsistent with the message type; RFC 7692 §6.2 fails the
  // connection on data that does not inflate.
  const error = new ProtocolError(CloseCode.InvalidPayload, `invalid compressed data: ${cause.message}`);
  error.cause = cause;
  return error;
}

function closedError(): Error {
  return new Error('permessage-deflate: the session was closed before this message was processed');
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
