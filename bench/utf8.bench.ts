// Measures UTF-8 validation of text payloads: Utf8Validator (whole and in 64 KiB chunks) against node's buffer.isUtf8.

import { isUtf8 } from 'node:buffer';
import { Bench } from 'tinybench';
import { isValidUtf8, Utf8Validator } from '../src/protocol/utf8.js';

const CHUNK_SIZE = 64 * 1024;

/** `size` bytes of valid UTF-8 repeating `sample`, cut at a sequence boundary and padded with ASCII. */
function textOf(sample: string, size: number): Buffer {
  const repeated = Buffer.from(sample.repeat(Math.ceil(size / Buffer.byteLength(sample)) + 1));
  let end = size;
  // RFC 3629: continuation bytes are 10xxxxxx; back up to the start of a sequence.
  while (((repeated[end] ?? 0) & 0xc0) === 0x80) end--;
  const text = Buffer.alloc(size, 'a');
  repeated.copy(text, 0, 0, end);
  if (!isUtf8(text)) throw new Error('bench input is not valid UTF-8');
  return text;
}

const inputs: Array<[string, Buffer]> = [
  ['ASCII 1 KiB', textOf('{"type":"update","id":12345,"text":"plain ASCII"}', 1024)],
  ['mixed 1 KiB', textOf('héllo wörld — κόσμε, 世界 👋🏽 ok; ', 1024)],
  ['ASCII 1 MiB', textOf('{"type":"update","id":12345,"text":"plain ASCII"}', 1024 * 1024)],
  ['mixed 1 MiB', textOf('héllo wörld — κόσμε, 世界 👋🏽 ok; ', 1024 * 1024)],
];

const validator = new Utf8Validator();
const bench = new Bench({ name: 'UTF-8 validation', time: 500, warmupTime: 100 });

for (const [name, bytes] of inputs) {
  bench
    .add(`${name}: Utf8Validator.update, whole`, () => {
      validator.reset();
      if (!validator.update(bytes) || !validator.isComplete()) throw new Error('rejected valid input');
    })
    .add(`${name}: Utf8Validator.update, 64 KiB chunks`, () => {
      validator.reset();
      for (let start = 0; start < bytes.length; start += CHUNK_SIZE) {
        if (!validator.update(bytes, start, Math.min(start + CHUNK_SIZE, bytes.length))) {
          throw new Error('rejected valid input');
        }
      }
      if (!validator.isComplete()) throw new Error('rejected valid input');
    })
    .add(`${name}: isValidUtf8`, () => {
      if (!isValidUtf8(bytes)) throw new Error('rejected valid input');
    })
    .add(`${name}: buffer.isUtf8`, () => {
      if (!isUtf8(bytes)) throw new Error('rejected valid input');
    });
}

await bench.run();
console.log(`${bench.name} (Node ${process.version}, ${process.arch})`);
console.table(bench.table());
