// Owns reading the peer's frames without judging too early: every frame is taken apart and logged, and
// each rule of RFC 6455 / RFC 7692 it breaks is recorded as a violation instead of stopping the reader.

import { isUtf8 } from 'node:buffer';
import { ProtocolError } from '../protocol/errors.js';
import type { FrameHeader } from '../protocol/frame.js';
import { FrameParser, type FrameSink } from '../protocol/frame-parser.js';
import type { TesterDeflate } from './deflate.js';
import type { WireLog } from './wire-log.js';

/** Which end of the connection the peer under test is. */
export type PeerRole = 'client' | 'server';

/** What the peer said, once frames are assembled (and inflated). */
export type PeerEvent =
  | { type: 'message'; binary: boolean; data: Buffer; isCompressed: boolean; frameCount: number }
  | { type: 'ping'; data: Buffer }
  | { type: 'pong'; data: Buffer }
  | { type: 'close'; code: number | undefined; reason: string; payload: Buffer };

/** A rule the peer broke, with the section that states it. */
export interface Violation {
  rule: string;
  message: string;
  /** Milliseconds since the case started. */
  at: number;
}

export interface PeerFrameReaderOptions {
  peerRole: PeerRole;
  wireLog: WireLog;
  /** The tester's deflate state when permessage-deflate was agreed; RSV1 is a violation otherwise. */
  deflate: TesterDeflate | undefined;
  /** Messages larger than this are not kept (the tester's own memory bound, not an RFC rule). */
  maxMessageLength: number;
  onEvent(event: PeerEvent): void;
  onViolation(violation: Violation): void;
}

const OPCODE_CONTINUATION = 0x0;
const OPCODE_TEXT = 0x1;
const OPCODE_BINARY = 0x2;
const OPCODE_CLOSE = 0x8;
const OPCODE_PING = 0x9;
const OPCODE_PONG = 0xa;

/** Close codes a peer may put on the wire: RFC 6455 §7.4.1 and §7.4.2 plus the IANA registry (1012-1014). */
export function isSendableCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

/** The fields of a header the reader keeps while the payload arrives (the parser reuses its header). */
interface FrameInProgress {
  opcode: number;
  isFinal: boolean;
  rsv: number;
  hasMask: boolean;
  payloadLength: number;
  chunks: Buffer[];
}

/**
 * Reads what the peer sends, in any chunking, with hybi's FrameParser in its permissive `'either'` masking
 * mode: a server that masks (or a client that does not) is observed and reported, not refused, so the
 * verdict can say exactly what the peer did.
 */
export class PeerFrameReader implements FrameSink {
  private readonly options: PeerFrameReaderOptions;
  private readonly parser: FrameParser;
  private frame: FrameInProgress | undefined;
  /** The data message being assembled from fragments. */
  private message:
    | { opcode: number; isCompressed: boolean; chunks: Buffer[]; length: number; frames: number }
    | undefined;
  private hasReceivedClose = false;
  private hasStopped = false;
  private isOversized = false;
  /** Events wait here so that an inflated message is never overtaken by a control frame behind it. */
  private delivery: Promise<void> = Promise.resolve();

  constructor(options: PeerFrameReaderOptions) {
    this.options = options;
    this.parser = new FrameParser(this, 'either');
  }

  /** Whether the peer's close frame has arrived. */
  get hasPeerClosed(): boolean {
    return this.hasReceivedClose;
  }

  /** Resolves when every event read so far was delivered (inflation included). */
  settled(): Promise<void> {
    return this.delivery;
  }

  push(chunk: Buffer): void {
    if (this.hasStopped) return;
    this.options.wireLog.octets('rx', chunk);
    this.parser.push(chunk);
    try {
      this.parser.parse();
    } catch (error) {
      // The only ProtocolError the permissive parser raises: a 64-bit length with its top bit set. There is
      // no way to find the next frame after it, so reading stops.
      this.hasStopped = true;
      const message = error instanceof ProtocolError ? error.message : String(error);
      this.violate('RFC 6455 §5.2', `unreadable frame header: ${message}`);
    }
  }

  onFrameHeader(header: FrameHeader): void {
    this.frame = {
      opcode: header.opcode,
      isFinal: header.isFinal,
      rsv: (header.rsv1 ? 4 : 0) | (header.rsv2 ? 2 : 0) | (header.rsv3 ? 1 : 0),
      hasMask: header.hasMask,
      payloadLength: header.payloadLength,
      chunks: [],
    };
    // The tester's memory bound, checked on each header before any payload arrives: a message that would
    // grow past it is still read, but its data is dropped.
    const opcode = header.opcode;
    if (opcode === OPCODE_TEXT || opcode === OPCODE_BINARY) this.isOversized = false;
    if (opcode === OPCODE_TEXT || opcode === OPCODE_BINARY || opcode === OPCODE_CONTINUATION) {
      const earlier = opcode === OPCODE_CONTINUATION ? (this.message?.length ?? 0) : 0;
      if (!this.isOversized && earlier + header.payloadLength > this.options.maxMessageLength) {
        this.isOversized = true;
        this.options.wireLog.note(
          `a message from the peer grew past the tester's ${this.options.maxMessageLength}-byte limit; its data is no longer kept`,
        );
      }
    }
  }

  onFramePayload(payload: Buffer): void {
    const frame = this.frame;
    if (frame === undefined) return;
    if (this.isOversized && frame.opcode < OPCODE_CLOSE) return;
    frame.chunks.push(payload);
  }

  onFrameEnd(): boolean {
    const frame = this.frame;
    this.frame = undefined;
    if (frame === undefined) return false;
    const payload = frame.chunks.length === 1 ? frame.chunks[0]! : Buffer.concat(frame.chunks);
    this.options.wireLog.frame({
      direction: 'rx',
      opcode: frame.opcode,
      isFinal: frame.isFinal,
      rsv: frame.rsv,
      isMasked: frame.hasMask,
      payloadLength: frame.payloadLength,
      payload,
    });
    this.checkFrame(frame);
    if (frame.opcode >= OPCODE_CLOSE) this.readControlFrame(frame, payload);
    else this.readDataFrame(frame, payload);
    return false;
  }

  /** Rules that hold for every frame, whatever it carries. */
  private checkFrame(frame: FrameInProgress): void {
    const { peerRole } = this.options;
    // RFC 6455 §5.1: a client masks every frame; a server masks none.
    if (peerRole === 'client' && !frame.hasMask)
      this.violate('RFC 6455 §5.1', 'the client sent an unmasked frame');
    if (peerRole === 'server' && frame.hasMask)
      this.violate('RFC 6455 §5.1', 'the server sent a masked frame');
    const isKnown =
      frame.opcode <= OPCODE_BINARY || (frame.opcode >= OPCODE_CLOSE && frame.opcode <= OPCODE_PONG);
    if (!isKnown) this.violate('RFC 6455 §5.2', `frame with reserved opcode ${frame.opcode}`);
    // RFC 6455 §5.2: RSV2 and RSV3 mean nothing without an extension that defines them, and the tester
    // never negotiates one.
    if ((frame.rsv & 3) !== 0) this.violate('RFC 6455 §5.2', `frame with RSV bits ${frame.rsv} set`);
    if ((frame.rsv & 4) !== 0) {
      const isFirstDataFrame =
        (frame.opcode === OPCODE_TEXT || frame.opcode === OPCODE_BINARY) && this.message === undefined;
      if (this.options.deflate === undefined) {
        this.violate('RFC 6455 §5.2', 'frame with RSV1 set, but no extension was negotiated');
      } else if (!isFirstDataFrame) {
        // RFC 7692 §6.1: the "Per-Message Compressed" bit belongs to the first frame of a data message only.
        this.violate(
          'RFC 7692 §6.1',
          `RSV1 set on a ${frame.opcode >= OPCODE_CLOSE ? 'control' : 'continuation'} frame`,
        );
      }
    }
    if (this.hasReceivedClose && frame.opcode < OPCODE_CLOSE) {
      this.violate('RFC 6455 §5.5.1', 'data frame after the peer sent its close frame');
    }
  }

  private readControlFrame(frame: FrameInProgress, payload: Buffer): void {
    // RFC 6455 §5.5: control frames are never fragmented and carry at most 125 bytes.
    if (!frame.isFinal) this.violate('RFC 6455 §5.5', `fragmented control frame (opcode ${frame.opcode})`);
    if (frame.payloadLength > 125) {
      this.violate('RFC 6455 §5.5', `control frame with a ${frame.payloadLength}-byte payload (at most 125)`);
    }
    if (frame.opcode === OPCODE_PING) this.deliver({ type: 'ping', data: payload });
    else if (frame.opcode === OPCODE_PONG) this.deliver({ type: 'pong', data: payload });
    else if (frame.opcode === OPCODE_CLOSE) this.readCloseFrame(payload);
  }

  private readCloseFrame(payload: Buffer): void {
    if (this.hasReceivedClose) {
      this.options.wireLog.note('a second close frame from the peer, ignored');
      return;
    }
    this.hasReceivedClose = true;
    let code: number | undefined;
    let reason = '';
    if (payload.length === 1) {
      this.violate('RFC 6455 §5.5.1', 'close frame with a 1-byte body (a code takes 2)');
    } else if (payload.length >= 2) {
      code = payload.readUInt16BE(0);
      if (!isSendableCloseCode(code))
        this.violate('RFC 6455 §7.4', `close frame with code ${code}, which may not be sent`);
      const reasonBytes = payload.subarray(2);
      if (!isUtf8(reasonBytes)) this.violate('RFC 6455 §5.5.1', 'close reason is not valid UTF-8');
      reason = reasonBytes.toString('utf8');
    }
    this.deliver({ type: 'close', code, reason, payload });
  }

  private readDataFrame(frame: FrameInProgress, payload: Buffer): void {
    let message = this.message;
    if (frame.opcode === OPCODE_CONTINUATION) {
      if (message === undefined) {
        this.violate('RFC 6455 §5.4', 'continuation frame with no message to continue');
        return;
      }
    } else if (frame.opcode === OPCODE_TEXT || frame.opcode === OPCODE_BINARY) {
      if (message !== undefined) {
        this.violate('RFC 6455 §5.4', 'new data message before the previous one was finished');
      }
      message = {
        opcode: frame.opcode,
        isCompressed: (frame.rsv & 4) !== 0,
        chunks: [],
        length: 0,
        frames: 0,
      };
      this.message = message;
    } else {
      return; // a reserved data opcode: already reported, and its meaning is unknown
    }
    message.frames++;
    if (!this.isOversized) {
      message.chunks.push(payload);
      message.length += payload.length;
    }
    if (!frame.isFinal) return;
    this.message = undefined;
    const data =
      message.chunks.length === 1 ? message.chunks[0]! : Buffer.concat(message.chunks, message.length);
    const binary = message.opcode === OPCODE_BINARY;
    const { isCompressed, frames } = message;
    const deflate = this.options.deflate;
    if (isCompressed && deflate !== undefined) {
      const inflated = deflate.decompress(data);
      inflated.catch(() => undefined);
      // Inside the queue, so that frames read after this message wait for its inflation.
      this.enqueue(async () => {
        let inflatedData: Buffer;
        try {
          inflatedData = await inflated;
        } catch (error) {
          this.options.onViolation(
            this.describe(
              'RFC 7692 §7.2.2',
              `compressed message does not inflate: ${(error as Error).message}`,
            ),
          );
          return;
        }
        this.completeMessage(binary, inflatedData, true, frames, (event) => this.options.onEvent(event));
      });
      return;
    }
    this.completeMessage(binary, data, false, frames, (event) => this.deliver(event));
  }

  private completeMessage(
    binary: boolean,
    data: Buffer,
    isCompressed: boolean,
    frameCount: number,
    emit: (event: PeerEvent) => void,
  ): void {
    // RFC 6455 §8.1: text messages are UTF-8.
    if (!binary && !isUtf8(data)) {
      this.options.onViolation(this.describe('RFC 6455 §8.1', 'text message that is not valid UTF-8'));
    }
    emit({ type: 'message', binary, data, isCompressed, frameCount });
  }

  private deliver(event: PeerEvent): void {
    this.enqueue(() => this.options.onEvent(event));
  }

  private enqueue(step: () => void | Promise<void>): void {
    this.delivery = this.delivery.then(step);
  }

  private describe(rule: string, message: string): Violation {
    this.options.wireLog.note(`peer violation (${rule}): ${message}`);
    return { rule, message, at: this.options.wireLog.now() };
  }

  private violate(rule: string, message: string): void {
    const violation = this.describe(rule, message);
    this.enqueue(() => this.options.onViolation(violation));
  }
}
