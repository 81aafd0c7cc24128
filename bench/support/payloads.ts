// Owns the bytes the benchmarks send: sizes, valid UTF-8 text with multi-byte characters, binary, JSON-like messages.

import { isUtf8 } from 'node:buffer';

/** The message sizes the issue names, in bytes, with the labels the tables use. */
export const MESSAGE_SIZES: readonly { label: string; bytes: number }[] = [
  { label: '16 B', bytes: 16 },
  { label: '125 B', bytes: 125 },
  { label: '1 KiB', bytes: 1024 },
  { label: '64 KiB', bytes: 64 * 1024 },
  { label: '1 MiB', bytes: 1024 * 1024 },
];

/** Mostly ASCII with two-, three- and four-byte sequences, as chat and JSON with names look. */
const MIXED_SAMPLE = '{"user":"zoë","text":"héllo wörld — κόσμε, 世界 👋🏽 ok"}; ';

/**
 * `size` bytes of valid UTF-8 repeating a mixed sample, cut at a sequence boundary and padded with
 * ASCII, so that every size (even 16 B) holds some multi-byte characters.
 */
export function textPayload(size: number): Buffer {
  const repeated = Buffer.from(MIXED_SAMPLE.repeat(Math.ceil(size / Buffer.byteLength(MIXED_SAMPLE)) + 1));
  // Start inside the sample's multi-byte part so that short payloads still hold some.
  const start = repeated.indexOf('ö');
  let end = start + size;
  // RFC 3629: continuation bytes are 10xxxxxx; back up to the start of a sequence.
  while (((repeated[end] ?? 0) & 0xc0) === 0x80) end--;
  const text = Buffer.alloc(size, 'a');
  repeated.copy(text, 0, start, end);
  if (!isUtf8(text)) throw new Error('bench input is not valid UTF-8');
  return text;
}

/** `size` bytes that do not repeat with a short period (a counter through a multiplicative hash). */
export function binaryPayload(size: number): Buffer {
  const bytes = Buffer.allocUnsafe(size);
  let state = 0x9e3779b9;
  for (let index = 0; index < size; index++) {
    state = Math.imul(state ^ (state >>> 15), 0x2c1b3c6d) >>> 0;
    bytes[index] = state >>> 24;
  }
  return bytes;
}

/**
 * `count` distinct JSON messages of about `size` bytes each (padded to exactly `size`), the kind of
 * traffic permessage-deflate is switched on for: repeated keys, varying values.
 */
export function jsonMessages(count: number, size: number): Buffer[] {
  const messages: Buffer[] = [];
  for (let index = 0; index < count; index++) {
    const items = [];
    for (let item = 0; items.length < 64; item++) {
      items.push({
        id: index * 1000 + item,
        name: `user${(index * 7 + item * 13) % 997}`,
        score: (index * 37 + item * 101) % 10007,
        online: (index + item) % 3 === 0,
      });
      if (JSON.stringify({ type: 'update', sequence: index, items }).length > size) {
        items.pop();
        break;
      }
    }
    const text = JSON.stringify({ type: 'update', sequence: index, items });
    messages.push(Buffer.from(text.padEnd(size, ' ').slice(0, size)));
  }
  return messages;
}
