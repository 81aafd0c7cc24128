// Owns one case's connection after the handshake: writing the case's frames (batched, synced or chopped),
// reading the peer, answering pings and close frames as a conforming endpoint, the closing sequence the
// expectation asks for, and the observation that comes out of it all.

import type { Duplex } from 'node:stream';
import type { CaseContext, Expectation, MessageOptions, ReceivedMessage, SendOptions } from './case.js';
import type { TesterDeflate } from './deflate.js';
import { isSendableCloseCode, type PeerEvent, PeerFrameReader, type Violation } from './frame-reader.js';
import { chop, type EncodedFrame, type FrameSpec, FrameWriter, toBuffer } from './frame-writer.js';
import type { CloseObservation, HandshakeObservation, Observation, ObservedEvent } from './observation.js';
import type { WireLog } from './wire-log.js';

/** Timing of the closing sequence, in milliseconds. */
export interface SessionTiming {
  /** The pause cases use to see whether the peer failed fast (Autobahn: 1000). */
  pace: number;
  /** When no events are expected, how long to watch for unexpected ones before closing. */
  settleTime: number;
  /** How long to wait for the expected events before closing anyway. */
  responseTimeout: number;
  /** How long the peer has to fail the connection after the case's frames went out (Autobahn's kill). */
  failTimeout: number;
  /** How long the closing handshake and the end of TCP may take. */
  closeTimeout: number;
}

export interface SessionOptions {
  socket: Duplex;
  testerRole: 'client' | 'server';
  wireLog: WireLog;
  deflate: TesterDeflate | undefined;
  timing: SessionTiming;
  maxMessageLength: number;
  /** Bytes that arrived behind the handshake head. */
  initialBytes?: Buffer | undefined;
  /**
   * Testing clients: the handshake response, not yet written. It leaves in one write with the case's first
   * frames, as Autobahn's server writes its 101 and what the case sends on open in the same turn (Twisted
   * buffers both until the reactor writes); a client must cope with frames in the chunk of the 101.
   */
  responseHead?: Buffer | undefined;
  handshake?: HandshakeObservation | undefined;
}

const CLOSE_OPCODE = 0x8;
const PONG_OPCODE = 0xa;

/**
 * The tester's end of one case's connection. Case scripts see it as a {@link CaseContext}; the runner
 * calls {@link CaseSession.finish} after the script and {@link CaseSession.observe} at the end.
 */
export class CaseSession implements CaseContext {
  readonly testerRole: 'client' | 'server';
  readonly pace: number;
  private readonly socket: Duplex;
  private readonly wireLog: WireLog;
  private readonly writer: FrameWriter;
  private readonly reader: PeerFrameReader;
  private readonly deflate: TesterDeflate | undefined;
  private readonly timing: SessionTiming;
  private readonly handshake: HandshakeObservation | undefined;

  private readonly events: ObservedEvent[] = [];
  private readonly violations: Violation[] = [];
  private readonly failures: string[] = [];
  private readonly notes: string[] = [];
  private unimplementedReason: string | undefined;
  private isRecording = true;
  private readonly messageQueue: ReceivedMessage[] = [];

  private testerClose: { code: number | undefined; at: number } | undefined;
  private peerCloseFrame: { code: number | undefined; reason: string; at: number } | undefined;
  private initiator: 'tester' | 'peer' | 'none' = 'none';
  private tcpClosedBy: 'peer' | 'tester' | 'open' = 'open';
  private wasKilled = false;
  private serverKeptTcpOpen = false;
  private hasPeerEnded = false;
  private isTcpClosed = false;
  private isAborted = false;
  private hasTimedOut = false;

  /** Frames queued in this turn of the event loop, written together. */
  private batch: Buffer[] = [];
  private batchFlush: Promise<void> | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(options: SessionOptions) {
    this.socket = options.socket;
    this.testerRole = options.testerRole;
    this.wireLog = options.wireLog;
    this.deflate = options.deflate;
    this.timing = options.timing;
    this.pace = options.timing.pace;
    this.handshake = options.handshake;
    this.writer = new FrameWriter(options.testerRole === 'client');
    this.reader = new PeerFrameReader({
      peerRole: options.testerRole === 'client' ? 'server' : 'client',
      wireLog: options.wireLog,
      deflate: options.deflate,
      maxMessageLength: options.maxMessageLength,
      onEvent: (event) => this.onPeerEvent(event),
      onViolation: (violation) => {
        this.violations.push(violation);
        this.changed();
      },
    });
    const socket = options.socket;
    socket.on('data', (chunk: Buffer) => this.reader.push(chunk));
    socket.on('end', () => {
      this.hasPeerEnded = true;
      this.wireLog.note('the peer closed its side of TCP');
      if (this.tcpClosedBy === 'open') this.tcpClosedBy = 'peer';
      if (this.initiator === 'none') this.initiator = 'peer';
      // Half-open sockets (node:http upgrades allow them) would stay up; a FIN is answered with ours.
      socket.end();
      this.changed();
    });
    socket.on('close', () => {
      this.isTcpClosed = true;
      if (this.tcpClosedBy === 'open') this.tcpClosedBy = 'peer';
      if (this.initiator === 'none') this.initiator = 'peer';
      this.changed();
    });
    socket.on('error', (error: Error) => {
      // A reset is how some peers drop a connection they failed; the 'close' that follows records it.
      this.wireLog.note(`socket error: ${error.message}`);
    });
    if (options.responseHead !== undefined) this.queue(options.responseHead);
    if (options.initialBytes !== undefined && options.initialBytes.length > 0)
      this.reader.push(options.initialBytes);
    socket.resume();
  }

  get peerClose(): { code: number | undefined; reason: string } | undefined {
    return this.peerCloseFrame;
  }

  get isCompressionActive(): boolean {
    return this.deflate !== undefined;
  }

  get isOpen(): boolean {
    return (
      this.testerClose === undefined &&
      this.peerCloseFrame === undefined &&
      !this.hasPeerEnded &&
      !this.isTcpClosed &&
      !this.isAborted
    );
  }

  /** Whether nothing more can come from the peer: its close frame or the end of TCP arrived. */
  private get hasPeerFinished(): boolean {
    return this.peerCloseFrame !== undefined || this.hasPeerEnded || this.isTcpClosed || this.isAborted;
  }

  // --- CaseContext ----------------------------------------------------------------------------------

  async send(frame: FrameSpec, options: SendOptions = {}): Promise<void> {
    const encoded = this.writer.encode(frame);
    if (encoded.opcode === CLOSE_OPCODE) this.recordTesterClose(encoded.payload);
    this.logFrame(encoded, options.chopSize);
    // Autobahn queues synced frames and chops; its queue writes the first item at once, into whatever the
    // turn buffered already (the 101, unsynced frames), and each later item in a later turn. So the first
    // piece joins the batch and leaves with it, and every other piece is a write of its own.
    if (options.chopSize !== undefined) {
      let isFirst = true;
      for (const piece of chop(encoded.bytes, options.chopSize)) {
        if (this.isAborted) return;
        if (isFirst) await this.flushWith(piece);
        else await this.write(piece);
        isFirst = false;
      }
      return;
    }
    if (options.isSync === true) {
      await this.flushWith(encoded.bytes);
      return;
    }
    // Frames sent in one turn of the event loop leave in one write, like Autobahn's unsynced frames: a
    // script that awaits each send still puts them on the wire together.
    this.queue(encoded.bytes);
  }

  encodeFrame(frame: FrameSpec): Buffer {
    const encoded = this.writer.encode(frame);
    if (encoded.opcode === CLOSE_OPCODE) this.recordTesterClose(encoded.payload);
    this.logFrame(encoded, undefined);
    return encoded.bytes;
  }

  async sendRaw(bytes: Uint8Array): Promise<void> {
    const buffer = toBuffer(bytes);
    this.wireLog.octets('tx', buffer);
    // Like Autobahn's direct transport write: behind what this turn queued, in the same write.
    await this.flushWith(buffer);
  }

  async sendMessage(data: string | Uint8Array, options: MessageOptions = {}): Promise<void> {
    let payload = toBuffer(data);
    const isBinary = options.binary ?? typeof data !== 'string';
    const deflate = this.deflate;
    const isCompressed = deflate !== undefined && options.compress !== false;
    if (isCompressed) payload = await deflate.compress(payload, options.compressionForm);
    const sendOptions: SendOptions = {
      ...(options.chopSize === undefined ? {} : { chopSize: options.chopSize }),
      ...(options.isSync === undefined ? {} : { isSync: options.isSync }),
    };
    // Unchopped, unsynced fragments are queued together and leave in one write, as Autobahn's do.
    const isBatched = options.chopSize === undefined && options.isSync !== true;
    const pending: Promise<void>[] = [];
    const pieces = fragmentsOf(payload, options.fragmentSize);
    for (let index = 0; index < pieces.length && !this.isAborted; index++) {
      const frame: FrameSpec = {
        opcode: index === 0 ? (isBinary ? 0x2 : 0x1) : 0x0,
        isFinal: index === pieces.length - 1,
        rsv: index === 0 && isCompressed ? 4 : 0,
        payload: pieces[index]!,
      };
      if (isBatched) pending.push(this.send(frame, sendOptions));
      else await this.send(frame, sendOptions);
    }
    await Promise.all(pending);
  }

  compress(data: Buffer): Promise<Buffer> {
    if (this.deflate === undefined) return Promise.reject(new Error('permessage-deflate was not agreed'));
    return this.deflate.compress(data);
  }

  sendClose(code?: number, reason: string | Uint8Array = ''): Promise<void> {
    return this.send({ opcode: CLOSE_OPCODE, payload: closePayload(code, reason) });
  }

  async pause(milliseconds: number, tag?: string): Promise<boolean> {
    await this.waitFor(() => !this.isOpen, milliseconds);
    const isOpen = this.isOpen;
    if (isOpen && tag !== undefined) {
      this.wireLog.marker(tag);
      this.events.push({ type: 'marker', tag, at: this.wireLog.now() });
    }
    return isOpen;
  }

  async waitForEvents(count: number, milliseconds: number): Promise<void> {
    await this.waitFor(() => this.events.length >= count || this.hasPeerFinished, milliseconds);
    await this.reader.settled();
  }

  async nextMessage(milliseconds: number): Promise<ReceivedMessage | undefined> {
    await this.waitFor(() => this.messageQueue.length > 0 || this.hasPeerFinished, milliseconds);
    return this.messageQueue.shift();
  }

  setRecording(isRecording: boolean): void {
    this.isRecording = isRecording;
    if (isRecording) this.wireLog.resume();
    else this.wireLog.pause('the case checks its own messages');
  }

  fail(reason: string): void {
    this.failures.push(reason);
    this.wireLog.note(`case failure: ${reason}`);
  }

  unimplemented(reason: string): void {
    this.unimplementedReason = reason;
    this.wireLog.note(`unimplemented: ${reason}`);
  }

  note(text: string): void {
    this.notes.push(text);
    this.wireLog.note(text);
  }

  // --- for the runner -------------------------------------------------------------------------------

  /**
   * Ends the case as the expectation says: the tester closes once the expected events are in (or the
   * settle time passed), or it waits for the peer to fail the connection and drops it when the peer does
   * not; then it waits for the closing handshake and the end of TCP.
   */
  async finish(expectation: Expectation): Promise<void> {
    await this.flushBatch();
    const timing = this.timing;
    if (this.unimplementedReason !== undefined) {
      // Nothing was tested: close at once rather than wait for a failure that has no cause.
      if (this.isOpen) await this.sendClose(1000);
    } else if (expectation.close.isClosedByTester) {
      if (this.testerClose === undefined && this.isOpen) {
        const lists = [...expectation.ok, ...(expectation.nonStrict ?? [])];
        const expectedCount = Math.max(0, ...lists.map((list) => list.length));
        if (expectedCount > this.events.length) {
          await this.waitForEvents(expectedCount, expectation.responseTimeout ?? timing.responseTimeout);
        } else {
          await this.waitForEvents(this.events.length + 1, expectation.settleTime ?? timing.settleTime);
        }
        if (this.isOpen) await this.sendClose(1000);
      }
    } else {
      await this.waitFor(() => this.hasPeerFinished, timing.failTimeout);
      if (!this.hasPeerFinished) {
        this.wasKilled = true;
        this.wireLog.note(
          `the peer did not fail the connection within ${timing.failTimeout} ms; dropping it`,
        );
        this.drop();
      }
    }
    await this.waitFor(() => this.isTcpClosed, timing.closeTimeout);
    if (!this.isTcpClosed) {
      if (
        this.testerRole === 'client' &&
        this.peerCloseFrame !== undefined &&
        this.testerClose !== undefined
      ) {
        this.serverKeptTcpOpen = true;
        this.wireLog.note(`the server kept TCP open ${timing.closeTimeout} ms after the closing handshake`);
      } else {
        this.wireLog.note(`the connection did not close within ${timing.closeTimeout} ms; dropping it`);
      }
      this.drop();
    }
    await this.reader.settled();
  }

  /** Stops the case now (its time ran out): drops the connection and wakes every wait. */
  abort(reason: string): void {
    if (this.isAborted) return;
    this.hasTimedOut = true;
    this.wireLog.note(reason);
    this.drop();
    this.isAborted = true;
    this.changed();
  }

  observe(): Observation {
    const close: CloseObservation = {
      testerClose: this.testerClose,
      peerClose: this.peerCloseFrame,
      initiator: this.initiator,
      tcpClosedBy: this.tcpClosedBy,
      wasKilled: this.wasKilled,
      serverKeptTcpOpen: this.serverKeptTcpOpen,
    };
    this.deflate?.close();
    return {
      events: [...this.events],
      violations: [...this.violations],
      close,
      handshake: this.handshake,
      failures: [...this.failures],
      unimplemented: this.unimplementedReason,
      timedOut: this.hasTimedOut,
      notes: [...this.notes],
      durationMilliseconds: this.wireLog.now(),
    };
  }

  // --- internals ------------------------------------------------------------------------------------

  private onPeerEvent(event: PeerEvent): void {
    const at = this.wireLog.now();
    switch (event.type) {
      case 'message':
        if (this.isRecording) {
          this.events.push({
            type: 'message',
            binary: event.binary,
            data: event.data,
            isCompressed: event.isCompressed,
            frameCount: event.frameCount,
            at,
          });
        } else {
          this.messageQueue.push({
            binary: event.binary,
            data: event.data,
            isCompressed: event.isCompressed,
          });
        }
        break;
      case 'ping':
        if (this.isRecording) this.events.push({ type: 'ping', data: event.data, at });
        // RFC 6455 §5.5.2: answer a ping with a pong carrying its payload, unless closing already.
        if (this.testerClose === undefined && this.peerCloseFrame === undefined) {
          void this.send({ opcode: PONG_OPCODE, payload: event.data });
        }
        break;
      case 'pong':
        if (this.isRecording) this.events.push({ type: 'pong', data: event.data, at });
        break;
      case 'close':
        this.onPeerClose(event.code, event.reason, at);
        break;
    }
    this.changed();
  }

  private onPeerClose(code: number | undefined, reason: string, at: number): void {
    this.peerCloseFrame = { code, reason, at };
    if (this.initiator === 'none') this.initiator = 'peer';
    if (this.testerClose === undefined) {
      // RFC 6455 §5.5.1: answer a close frame with one, echoing its code; an invalid one gets 1002.
      const replyCode = code === undefined ? undefined : isSendableCloseCode(code) ? code : 1002;
      void this.sendClose(replyCode).then(() => this.afterClosingHandshake());
    } else {
      this.afterClosingHandshake();
    }
  }

  /** RFC 6455 §5.5.1 and §7.1.1: once both close frames crossed, the server closes TCP first. */
  private afterClosingHandshake(): void {
    if (this.testerRole === 'server' && !this.isTcpClosed) {
      if (this.tcpClosedBy === 'open') this.tcpClosedBy = 'tester';
      this.socket.end();
    }
  }

  private recordTesterClose(payload: Buffer): void {
    if (this.testerClose !== undefined) return;
    this.testerClose = {
      code: payload.length >= 2 ? payload.readUInt16BE(0) : undefined,
      at: this.wireLog.now(),
    };
    if (this.initiator === 'none') this.initiator = 'tester';
    if (this.peerCloseFrame !== undefined) queueMicrotask(() => this.afterClosingHandshake());
    this.changed();
  }

  private logFrame(frame: EncodedFrame, chopSize: number | undefined): void {
    this.wireLog.frame({
      direction: 'tx',
      opcode: frame.opcode,
      isFinal: frame.isFinal,
      rsv: frame.rsv,
      isMasked: frame.isMasked,
      payloadLength: frame.payload.length,
      payload: frame.payload,
      ...(chopSize === undefined ? {} : { chopSize }),
    });
  }

  /** Adds bytes to the batch, which leaves in one write at the end of this turn of the event loop. */
  private queue(bytes: Buffer): void {
    this.batch.push(bytes);
    this.batchFlush ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.flushBatch());
  }

  /** Writes the batch now with `bytes` at its end, in one write. */
  private flushWith(bytes: Buffer): Promise<void> {
    this.batch.push(bytes);
    return this.flushBatch();
  }

  private async flushBatch(): Promise<void> {
    const batch = this.batch;
    this.batch = [];
    this.batchFlush = undefined;
    if (batch.length === 0) return;
    await this.write(batch.length === 1 ? batch[0]! : Buffer.concat(batch));
  }

  private write(bytes: Buffer): Promise<void> {
    const socket = this.socket;
    if (this.isAborted || socket.destroyed || !socket.writable) return Promise.resolve();
    return new Promise((resolve) => {
      socket.write(bytes, () => resolve());
    });
  }

  private drop(): void {
    if (this.tcpClosedBy === 'open') this.tcpClosedBy = 'tester';
    if (this.initiator === 'none') this.initiator = 'tester';
    this.socket.destroy();
  }

  private changed(): void {
    for (const listener of [...this.listeners]) listener();
  }

  /** Resolves when `predicate` holds (checked on every change), the case aborted, or the time ran out. */
  private waitFor(predicate: () => boolean, milliseconds: number): Promise<void> {
    if (predicate() || this.isAborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.listeners.delete(check);
        resolve();
      };
      const check = (): void => {
        if (predicate() || this.isAborted) done();
      };
      const timer = setTimeout(done, milliseconds);
      this.listeners.add(check);
    });
  }
}

/**
 * A message's payloads frame by frame, cut as Autobahn's sendMessage cuts them: whole when it fits in
 * `fragmentSize`, else in pieces of that size, and when its length is a multiple of the size, with an empty
 * final piece (Autobahn's loop ends only once past the end). The count matters to a peer that caps the
 * fragments of a message: ws's 16,384 fails 9.3.2 (4 MiB in 256-byte fragments: 16,385 frames).
 */
export function fragmentsOf(payload: Buffer, fragmentSize: number | undefined): Buffer[] {
  if (fragmentSize === undefined || payload.length <= fragmentSize) return [payload];
  if (!(fragmentSize >= 1)) throw new RangeError(`fragmentSize must be at least 1, not ${fragmentSize}`);
  const pieces: Buffer[] = [];
  for (let offset = 0; ; offset += fragmentSize) {
    const end = offset + fragmentSize;
    if (end > payload.length) {
      pieces.push(payload.subarray(offset));
      return pieces;
    }
    pieces.push(payload.subarray(offset, end));
  }
}

/** A close frame body: the code in two bytes (none when undefined), then the reason. */
export function closePayload(code: number | undefined, reason: string | Uint8Array = ''): Buffer {
  const reasonBytes = toBuffer(reason);
  if (code === undefined) return reasonBytes;
  const body = Buffer.allocUnsafe(2 + reasonBytes.length);
  body.writeUInt16BE(code & 0xffff, 0);
  reasonBytes.copy(body, 2);
  return body;
}
