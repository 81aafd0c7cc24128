// Owns a lenient reading of a byte stream as frames, rules unchecked: where each frame starts, its header
// fields, and which of its bytes arrived. The differential property uses it to say where receivers stand.

/** One frame as it lies in the stream, possibly cut short by the stream's end. */
export interface StreamFrame {
  /** Offset of the first header byte. */
  start: number;
  isFinal: boolean;
  rsv: number;
  opcode: number;
  hasMask: boolean;
  /** The 7-bit length field: 0-125, or 126/127 for an extended length. */
  lengthField: number;
  /** Header length once the second byte is known (2 + extended + mask), else undefined. */
  headerLength: number | undefined;
  /** The declared payload length, once its bytes arrived. */
  payloadLength: bigint | undefined;
  /** Whether the 64-bit length form has its most significant bit set (RFC 6455 §5.2 forbids it). */
  hasLengthMsb: boolean;
  isHeaderComplete: boolean;
  /** The payload bytes that arrived, unmasked (a copy). */
  payload: Buffer;
  /** Whether the whole payload arrived. */
  isComplete: boolean;
  /** Offset just past the frame (or the stream's end, for a frame cut short). */
  end: number;
}

/** Reads `bytes` as consecutive frames. The last one may be partial; a declared length past the end makes it so. */
export function tokenizeFrames(bytes: Uint8Array): StreamFrame[] {
  const frames: StreamFrame[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const frame = readFrame(bytes, offset);
    frames.push(frame);
    if (!frame.isComplete) break;
    offset = frame.end;
  }
  return frames;
}

function readFrame(bytes: Uint8Array, start: number): StreamFrame {
  const available = bytes.length - start;
  const first = bytes[start]!;
  const frame: StreamFrame = {
    start,
    isFinal: (first & 0x80) !== 0,
    rsv: first & 0x70,
    opcode: first & 0x0f,
    hasMask: false,
    lengthField: 0,
    headerLength: undefined,
    payloadLength: undefined,
    hasLengthMsb: false,
    isHeaderComplete: false,
    payload: Buffer.alloc(0),
    isComplete: false,
    end: bytes.length,
  };
  if (available < 2) return frame;
  const second = bytes[start + 1]!;
  frame.hasMask = (second & 0x80) !== 0;
  frame.lengthField = second & 0x7f;
  const extendedBytes = frame.lengthField === 126 ? 2 : frame.lengthField === 127 ? 8 : 0;
  const headerLength = 2 + extendedBytes + (frame.hasMask ? 4 : 0);
  frame.headerLength = headerLength;
  if (available >= 2 + extendedBytes) {
    let length = BigInt(frame.lengthField);
    if (extendedBytes > 0) {
      length = 0n;
      for (let index = 0; index < extendedBytes; index++)
        length = (length << 8n) | BigInt(bytes[start + 2 + index]!);
    }
    frame.payloadLength = length;
    frame.hasLengthMsb = extendedBytes === 8 && (bytes[start + 2]! & 0x80) !== 0;
  }
  if (available < headerLength || frame.payloadLength === undefined) return frame;
  frame.isHeaderComplete = true;
  const payloadStart = start + headerLength;
  const declaredEnd = BigInt(payloadStart) + frame.payloadLength;
  const end = declaredEnd > BigInt(bytes.length) ? bytes.length : Number(declaredEnd);
  const payload = Buffer.from(bytes.subarray(payloadStart, end));
  if (frame.hasMask) {
    const key = bytes.subarray(start + headerLength - 4, start + headerLength);
    for (let index = 0; index < payload.length; index++) payload[index] = payload[index]! ^ key[index % 4]!;
  }
  frame.payload = payload;
  frame.isComplete = declaredEnd <= BigInt(bytes.length);
  frame.end = end;
  return frame;
}

/**
 * Rewrites every complete-header control frame whose length is written in an extended form but fits in 7
 * bits, with the minimal form (RFC 6455 §5.2). Other bytes are copied unchanged.
 */
export function minimizeControlLengths(bytes: Uint8Array): { bytes: Buffer; rewritten: number } {
  const parts: Buffer[] = [];
  let rewritten = 0;
  let copiedUpTo = 0;
  for (const frame of tokenizeFrames(bytes)) {
    const isControl = (frame.opcode & 0x8) !== 0;
    if (
      !isControl ||
      frame.lengthField < 126 ||
      frame.payloadLength === undefined ||
      frame.payloadLength > 125n
    )
      continue;
    const lengthEnd = frame.start + 2 + (frame.lengthField === 126 ? 2 : 8);
    parts.push(Buffer.from(bytes.subarray(copiedUpTo, frame.start)));
    parts.push(Buffer.of(bytes[frame.start]!, (frame.hasMask ? 0x80 : 0) | Number(frame.payloadLength)));
    copiedUpTo = lengthEnd;
    rewritten++;
  }
  parts.push(Buffer.from(bytes.subarray(copiedUpTo)));
  return { bytes: Buffer.concat(parts), rewritten };
}
