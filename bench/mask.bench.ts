// Measures payload masking (RFC 6455 §5.3): applyMask and copyMasked against Buffer.copy and a naive byte loop.

import { Bench } from 'tinybench';
import { applyMask, copyMasked } from '../src/protocol/mask.js';

const MASKING_KEY = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

/** The reference: one byte and one key lookup per step. */
function naiveMask(bytes: Uint8Array, maskingKey: Uint8Array): void {
  for (let index = 0; index < bytes.length; index++) bytes[index] = bytes[index]! ^ maskingKey[index & 3]!;
}

const sizes: Array<[string, number]> = [
  ['125 B', 125],
  ['1 KiB', 1024],
  ['64 KiB', 64 * 1024],
  ['1 MiB', 1024 * 1024],
];

const bench = new Bench({ name: 'masking', time: 500, warmupTime: 100 });

for (const [name, size] of sizes) {
  const payload = Buffer.alloc(size, 0x5a);
  // A frame as the sender builds it: payload after a 6-byte header (2 bytes + masking key), so the
  // payload starts 2 bytes past a word boundary.
  const frame = Buffer.alloc(size + 6);
  const inPlace = frame.subarray(6);
  bench
    .add(`${name}: applyMask (in place)`, () => {
      applyMask(inPlace, MASKING_KEY, 0, inPlace.length);
    })
    .add(`${name}: naive byte loop (in place)`, () => {
      naiveMask(inPlace, MASKING_KEY);
    })
    .add(`${name}: Buffer.copy (no masking)`, () => {
      payload.copy(frame, 6);
    })
    .add(`${name}: copyMasked`, () => {
      copyMasked(payload, frame, 6, MASKING_KEY);
    });
}

await bench.run();
console.log(`${bench.name} (Node ${process.version}, ${process.arch})`);
console.table(bench.table());
