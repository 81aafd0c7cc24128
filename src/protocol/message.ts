// Owns message assembly: fragmentation rules, control frames between fragments, RSV rules, size limits,
// and UTF-8 validated per fragment as it arrives.

import { ProtocolError } from './errors.js';
import { type FrameHeader, RSV1, RSV2, RSV3 } from './frame.js';
import type { FrameSink } from './frame-parser.js';
import { CloseCode, isControlOpcode, isKnownOpcode, MAX_CONTROL_PAYLOAD, Opcode } from './opcodes.js';
import { PayloadBuffer } from './payload-buffer.js';
import { Utf8Validator } from './utf8.js';

/** Where complete messages and control frames go. */
export interface MessageHandler {
  /**
   * A complete data message. `rsvBits` are those of its first frame (claimed by extensions).
   * `isUtf8Checked` is false for text the assembler left to be validated while it is decoded: a whole
   * message in one slice, or one transformed by an extension (RSV bits). Throwing ProtocolError here
   * fails the connection as the assembler's own checks do.
   */
  onMessage(opcode: number, data: Buffer, rsvBits: number, isUtf8Checked: boolean): void;
  /** A complete control frame (close, ping or pong), payload at most 125 bytes. */
  onControlFrame(opcode: number, payload: Buffer): void;
}

export interface MessageAssemblerOptions {
  /** Largest message, summed over its fragments, in bytes. Checked on each header, before payload arrives. */
  maxLength: number;
  /** Most frames one message may have (a guard against floods of tiny fragments). */
  maxFragments: number;
  /** RSV bits negotiated extensions claim (RSV1 = 0x40, RSV2 = 0x20, RSV3 = 0x10). */
  allowedRsvBits: number;
}

const EMPTY = Buffer.alloc(0);

/**
 * Assembles frames into messages. A frame sink for FrameParser; reports to a MessageHandler.
 * Text is validated as each payload slice arrives, so invalid UTF-8 fails the connection on the frame
 * (and the chunk) where it becomes invalid, not when the message ends (RFC 6455 §8.1, Autobahn 6.4).
 */
export class MessageAssembler implements FrameSink {
  private readonly handler: MessageHandler;
  maxLength: number;
  maxFragments: number;
  allowedRsvBits: number;

  /** Opcode of the data message in progress (text or binary), or 0 when none is. */
  private messageOpcode = 0;
  private messageRsvBits = 0;
  private messageLength = 0;
  private fragmentCount = 0;
  // Made on first use (a data frame with a payload, a text message, a control frame with a body): an
  // idle connection, or one that only ever gets empty pongs, holds none of them.
  private payload: PayloadBuffer | undefined;
  /** Validate while receiving: text messages without RSV bits (extension-transformed data is checked later). */
  private isValidatingUtf8 = false;
  /** The data frame in progress is a whole message (final, not a continuation). */
  private isWholeMessageFrame = false;
  private utf8: Utf8Validator | undefined;

  /** The frame in progress is a control frame; its payload collects here. */
  private isControlFrame = false;
  private controlChunks: Buffer[] | undefined;

  constructor(handler: MessageHandler, options: MessageAssemblerOptions) {
    this.handler = handler;
    this.maxLength = options.maxLength;
    this.maxFragments = options.maxFragments;
    this.allowedRsvBits = options.allowedRsvBits;
  }

  onFrameHeader(header: FrameHeader): void {
    const opcode = header.opcode;
    // RFC 6455 §5.2: reserved opcodes MUST fail the connection.
    if (!isKnownOpcode(opcode)) {
      throw new ProtocolError(CloseCode.ProtocolError, `Reserved opcode 0x${opcode.toString(16)}`);
    }
    const rsvBits = (header.rsv1 ? RSV1 : 0) | (header.rsv2 ? RSV2 : 0) | (header.rsv3 ? RSV3 : 0);

    if (isControlOpcode(opcode)) {
      // RFC 6455 §5.5: control frames are never fragmented and carry at most 125 bytes.
      if (!header.isFinal) throw new ProtocolError(CloseCode.ProtocolError, 'Fragmented control frame');
      if (header.payloadLength > MAX_CONTROL_PAYLOAD) {
        throw new ProtocolError(CloseCode.ProtocolError, 'Control frame payload over 125 bytes');
      }
      // RFC 7692 §6.1 and RFC 6455 §5.2: extensions here are per-message, so RSV bits never belong on control frames.
      if (rsvBits !== 0) throw new ProtocolError(CloseCode.ProtocolError, 'RSV bit set on a control frame');
      this.isControlFrame = true;
      return;
    }

    this.isControlFrame = false;
    this.isWholeMessageFrame = header.isFinal && opcode !== Opcode.Continuation;
    if (opcode === Opcode.Continuation) {
      // RFC 6455 §5.4: a continuation must follow a non-final data frame.
      if (this.messageOpcode === 0) {
        throw new ProtocolError(CloseCode.ProtocolError, 'Continuation frame without a message to continue');
      }
      // RFC 7692 §6.1: RSV bits of a per-message extension are set on the first frame only.
      if (rsvBits !== 0)
        throw new ProtocolError(CloseCode.ProtocolError, 'RSV bit set on a continuation frame');
    } else {
      // RFC 6455 §5.4: fragments of one message are not interleaved with another message.
      if (this.messageOpcode !== 0) {
        throw new ProtocolError(
          CloseCode.ProtocolError,
          'New data frame while a fragmented message is in progress',
        );
      }
      if ((rsvBits & ~this.allowedRsvBits) !== 0) {
        throw new ProtocolError(CloseCode.ProtocolError, 'RSV bit set that no negotiated extension claims');
      }
      this.messageOpcode = opcode;
      this.messageRsvBits = rsvBits;
      this.messageLength = 0;
      this.fragmentCount = 0;
      this.isValidatingUtf8 = opcode === Opcode.Text && rsvBits === 0;
      if (this.isValidatingUtf8) {
        this.utf8 ??= new Utf8Validator();
        this.utf8.reset();
      }
    }

    // RFC 6455 §10.4: refuse what is too big before buffering any of it.
    if (header.payloadLength > this.maxLength - this.messageLength) {
      throw new ProtocolError(
        CloseCode.MessageTooBig,
        `Message exceeds the maximum of ${this.maxLength} bytes`,
      );
    }
    this.messageLength += header.payloadLength;
    if (++this.fragmentCount > this.maxFragments) {
      throw new ProtocolError(
        CloseCode.MessageTooBig,
        `Message exceeds the maximum of ${this.maxFragments} fragments`,
      );
    }
  }

  onFramePayload(payload: Buffer): void {
    if (this.isControlFrame) {
      this.controlChunks ??= [];
      this.controlChunks.push(payload);
      return;
    }
    if (this.isValidatingUtf8) {
      if (this.isWholeMessageFrame && payload.length === this.messageLength) {
        // The whole message in one slice: the handler validates it while decoding it, one pass instead
        // of two, and still on this chunk, so failing fast (RFC 6455 §8.1) is kept.
        this.isValidatingUtf8 = false;
      } else if (!this.utf8!.update(payload)) {
        throw new ProtocolError(CloseCode.InvalidPayload, 'Invalid UTF-8 in a text message');
      }
    }
    this.payload ??= new PayloadBuffer();
    this.payload.append(payload);
  }

  onFrameEnd(header: FrameHeader): boolean {
    if (this.isControlFrame) {
      const chunks = this.controlChunks;
      const payload =
        chunks === undefined || chunks.length === 0
          ? EMPTY
          : chunks.length === 1
            ? chunks[0]!
            : Buffer.concat(chunks);
      if (chunks !== undefined) chunks.length = 0;
      this.isControlFrame = false;
      this.handler.onControlFrame(header.opcode, payload);
      return true;
    }
    if (!header.isFinal) return false;

    if (this.isValidatingUtf8 && !this.utf8!.isComplete()) {
      throw new ProtocolError(CloseCode.InvalidPayload, 'Text message ends inside a UTF-8 sequence');
    }
    const data = this.payload === undefined ? EMPTY : this.payload.take();
    const opcode = this.messageOpcode;
    const rsvBits = this.messageRsvBits;
    const isUtf8Checked = this.isValidatingUtf8;
    this.messageOpcode = 0;
    this.messageRsvBits = 0;
    this.isValidatingUtf8 = false;
    this.handler.onMessage(opcode, data, rsvBits, isUtf8Checked);
    return true;
  }
}
