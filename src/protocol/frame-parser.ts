// Owns incremental frame parsing: header bytes split across chunks, payload delivered as unmasked slices.

import { ProtocolError } from './errors.js';
import { createFrameHeader, decodeFrameHeader, type FrameHeader } from './frame.js';
import { applyMaskUnchecked } from './mask.js';
import { CloseCode } from './opcodes.js';

/** What the parser reports to. Any method may throw ProtocolError to fail the connection. */
export interface FrameSink {
  /** A header is complete. `header` is reused by the parser: copy what you keep. */
  onFrameHeader(header: FrameHeader): void;
  /** Part (or all) of the current frame's payload, already unmasked. Never empty. */
  onFramePayload(payload: Buffer): void;
  /**
   * The current frame's payload is complete (also called for empty payloads). Return true to pause
   * parsing here (a message or control frame is ready for the caller).
   */
  onFrameEnd(header: FrameHeader): boolean;
}

/** Whose frames the parser reads: RFC 6455 §5.1 says clients mask every frame and servers none. */
export type MaskExpectation = 'masked' | 'unmasked' | 'either';

/** The largest header: 2 bytes + 8 length bytes + 4 masking-key bytes. */
const MAX_HEADER_LENGTH = 14;
/**
 * The most bytes that may wait behind the chunk being parsed. A transport that honours backpressure
 * never queues any: the driver's `io.write` returns false while it holds unparsed bytes, so the next
 * chunk comes only once the held one is read. This bounds a transport (or a caller of `parse()`) that
 * ignores that answer: past it the connection fails with 1008 instead of buffering whatever the peer sends.
 */
export const MAX_QUEUED_INPUT_BYTES = 4 * 1024 * 1024;

/**
 * An incremental frame parser. Push chunks of any size and call `parse()`; it calls the sink with
 * exactly the same sequence of headers and payload bytes whatever the chunking. Payload slices point into the chunk
 * (a frame that lies whole in one chunk is never copied) and are unmasked in place: `push` takes
 * ownership of the chunk's bytes.
 */
export class FrameParser {
  private readonly sink: FrameSink;
  private readonly maskExpectation: MaskExpectation;
  /**
   * The header being read, made on the first frame. Its `maskingKey` is one array shared by every
   * parser (filled and used synchronously): the key of a frame split across chunks is kept in
   * `maskKeyLow`/`maskKeyHigh` instead, so that an idle connection holds no typed array of its own.
   */
  private header: FrameHeader | undefined;
  /** Bytes 0-1 and 2-3 of the current frame's masking key, as two small integers. */
  private maskKeyLow = 0;
  private maskKeyHigh = 0;
  /** Header bytes that arrived split across chunks; made the first time a header is split. */
  private headerScratch: Uint8Array | undefined;
  private headerScratchLength = 0;
  private isInPayload = false;
  private payloadRemaining = 0;
  private maskKeyOffset = 0;
  private hasFailed = false;
  /** The chunk being parsed and where parsing stopped in it; chunks pushed meanwhile wait in order. */
  private input: Buffer | undefined;
  private inputOffset = 0;
  /**
   * Chunks pushed while `input` is not yet parsed (a message ahead of them waits for the extension
   * pipeline or a paused consumer). Bound: MAX_QUEUED_INPUT_BYTES, past which parse() fails with 1008;
   * emptied as parsing goes on, or at once by discardInput() when the transport is gone.
   */
  private queuedInput: Buffer[] | undefined;
  private queuedBytes = 0;

  constructor(sink: FrameSink, maskExpectation: MaskExpectation) {
    this.sink = sink;
    this.maskExpectation = maskExpectation;
  }

  /** Queues received bytes; `parse()` reads them. */
  push(chunk: Buffer): void {
    if (this.hasFailed || chunk.length === 0) return;
    if (this.input === undefined) {
      this.input = chunk;
      this.inputOffset = 0;
    } else {
      this.queuedInput ??= [];
      this.queuedInput.push(chunk);
      this.queuedBytes += chunk.length;
    }
  }

  /** Drops every byte not yet parsed (the transport is gone: nobody waits for what they hold). */
  discardInput(): void {
    this.input = undefined;
    this.inputOffset = 0;
    this.queuedInput = undefined;
    this.queuedBytes = 0;
  }

  /** Whether bytes are waiting to be parsed. */
  get hasInput(): boolean {
    return this.input !== undefined;
  }

  /**
   * Parses queued bytes until they run out or the sink asks to pause (its `onFrameEnd` returned true),
   * so that a caller can act on one message before the next is read. Throws ProtocolError on a
   * violation; after that the parser drops all input.
   */
  parse(): void {
    if (this.hasFailed) return;
    try {
      if (this.queuedBytes > MAX_QUEUED_INPUT_BYTES) {
        throw new ProtocolError(
          CloseCode.PolicyViolation,
          'Received data faster than it was read: the transport did not stop reading when asked',
        );
      }
      while (this.input !== undefined) {
        const isPaused = this.parseChunk(this.input);
        if (this.inputOffset >= this.input.length) {
          const next = this.queuedInput?.shift();
          if (next !== undefined) this.queuedBytes -= next.length;
          this.input = next;
          this.inputOffset = 0;
        }
        if (isPaused) return;
      }
    } catch (error) {
      this.hasFailed = true;
      this.discardInput();
      throw error;
    }
  }

  /** Parses from `inputOffset`; returns true when the sink asked to pause. */
  private parseChunk(chunk: Buffer): boolean {
    const end = chunk.length;
    this.header ??= createSharedKeyHeader();
    const header = this.header;
    let offset = this.inputOffset;
    while (offset < end) {
      if (!this.isInPayload) {
        if (this.headerScratchLength === 0) {
          const consumed = decodeFrameHeader(chunk, offset, end, header);
          if (consumed === 0) {
            this.headerScratch ??= new Uint8Array(MAX_HEADER_LENGTH);
            this.headerScratch.set(chunk.subarray(offset, end), 0);
            this.headerScratchLength = end - offset;
            this.inputOffset = end;
            return false;
          }
          offset += consumed;
        } else {
          const previous = this.headerScratchLength;
          const taken = Math.min(MAX_HEADER_LENGTH - previous, end - offset);
          const scratch = this.headerScratch!;
          scratch.set(chunk.subarray(offset, offset + taken), previous);
          const consumed = decodeFrameHeader(scratch, 0, previous + taken, header);
          if (consumed === 0) {
            // Fewer than 14 bytes in all, so the whole chunk was taken.
            this.headerScratchLength = previous + taken;
            this.inputOffset = end;
            return false;
          }
          offset += consumed - previous;
          this.headerScratchLength = 0;
        }
        this.checkMask(header);
        if (header.hasMask) {
          const key = header.maskingKey;
          this.maskKeyLow = key[0]! | (key[1]! << 8);
          this.maskKeyHigh = key[2]! | (key[3]! << 8);
        }
        this.sink.onFrameHeader(header);
        if (header.payloadLength === 0) {
          if (this.sink.onFrameEnd(header)) {
            this.inputOffset = offset;
            return true;
          }
          continue;
        }
        this.isInPayload = true;
        this.payloadRemaining = header.payloadLength;
        this.maskKeyOffset = 0;
      }

      const available = end - offset;
      const taken = Math.min(available, this.payloadRemaining);
      const payloadEnd = offset + taken;
      if (header.hasMask) {
        // The shared key array may hold another connection's key since this frame's header was read.
        const key = header.maskingKey;
        key[0] = this.maskKeyLow & 0xff;
        key[1] = this.maskKeyLow >>> 8;
        key[2] = this.maskKeyHigh & 0xff;
        key[3] = this.maskKeyHigh >>> 8;
        this.maskKeyOffset = applyMaskUnchecked(chunk, key, offset, payloadEnd, this.maskKeyOffset);
      }
      const payload = chunk.subarray(offset, payloadEnd);
      offset = payloadEnd;
      this.payloadRemaining -= taken;
      this.sink.onFramePayload(payload);
      if (this.payloadRemaining === 0) {
        this.isInPayload = false;
        if (this.sink.onFrameEnd(header)) {
          this.inputOffset = offset;
          return true;
        }
      }
    }
    this.inputOffset = end;
    return false;
  }

  private checkMask(header: FrameHeader): void {
    // RFC 6455 §5.1: a server MUST close on an unmasked frame; a client MUST close on a masked one.
    if (this.maskExpectation === 'masked' && !header.hasMask) {
      throw new ProtocolError(CloseCode.ProtocolError, 'Received an unmasked frame from a client');
    }
    if (this.maskExpectation === 'unmasked' && header.hasMask) {
      throw new ProtocolError(CloseCode.ProtocolError, 'Received a masked frame from a server');
    }
  }
}

/** One masking-key array for every parser's header: read and used within one synchronous parse step. */
const SHARED_MASKING_KEY = new Uint8Array(4);

function createSharedKeyHeader(): FrameHeader {
  return createFrameHeader(SHARED_MASKING_KEY);
}
