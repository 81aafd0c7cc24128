// Owns messages framed once for many connections: a broadcast writes the same bytes to every socket.

import { encodeUnmaskedFrame } from './frame.js';
import { Opcode } from './opcodes.js';

/**
 * A whole message framed once, as a server sends it. RFC 6455 §5.1: servers never mask, so the frame
 * is the same bytes on every connection, and sending it to thousands of clients costs one encoding,
 * not one per client. Connections that must transform the message (a client, which masks each frame
 * with its own key; a connection with permessage-deflate, whose compressed bytes depend on its own
 * LZ77 context) frame `data` themselves, as for any send.
 *
 * Immutable once made: its buffers are written to many sockets and must not change meanwhile.
 *
 * @example
 * ```ts
 * const message = prepareMessage(JSON.stringify(update));
 * for (const socket of room) socket.send(message);
 * ```
 */
export class PreparedMessage {
  /** Opcode.Text or Opcode.Binary. */
  readonly opcode: number;
  /** The payload: the UTF-8 bytes of a text message. */
  readonly data: Buffer;
  /** The unmasked final frame: header and payload in one buffer up to 1 KiB, else the two. */
  readonly frame: readonly Buffer[];

  constructor(opcode: number, data: Buffer) {
    if (opcode !== Opcode.Text && opcode !== Opcode.Binary) {
      throw new TypeError('A prepared message has opcode 1 (text) or 2 (binary)');
    }
    this.opcode = opcode;
    this.data = data;
    this.frame = encodeUnmaskedFrame(opcode, data, true, 0);
  }
}

/**
 * Frames a text (string) or binary message once, for sending to many connections. A Uint8Array is not
 * copied: do not change it while the message may still be written.
 */
export function prepareMessage(data: string | Uint8Array): PreparedMessage {
  if (typeof data === 'string') return new PreparedMessage(Opcode.Text, Buffer.from(data, 'utf8'));
  if (!(data instanceof Uint8Array)) {
    throw new TypeError('prepareMessage takes a string (text) or a Uint8Array/Buffer (binary)');
  }
  const bytes = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return new PreparedMessage(Opcode.Binary, bytes);
}
