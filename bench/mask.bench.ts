// Measures the masking kernel (RFC 6455 §5.3): unmasking in place and masking while copying, by hybi,
// ws (bufferutil when installed, else its JS loop) and websocket-driver, against Buffer.copy of the same bytes.

import { createRequire } from 'node:module';
import { applyMask, copyMasked } from './support/hybi.js';
import type { Variant } from './support/measurement.js';
import { binaryPayload, MESSAGE_SIZES } from './support/payloads.js';
import { loadWsKernels } from './support/peers.js';
import { type BenchCase, runIfMain, type Suite, wsLabel } from './support/suite.js';

const MASKING_KEY = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
/** Bytes per timed call, at least: small sizes repeat the kernel this far. */
const BATCH_BYTES = 64 * 1024;

/** websocket-driver's masking function (a byte loop), from its hybi driver module. */
function websocketDriverMask(): (payload: Buffer, mask: Buffer, offset: number) => Buffer {
  const require = createRequire(import.meta.url);
  return (
    require('websocket-driver/lib/websocket/driver/hybi') as {
      mask: (payload: Buffer, mask: Buffer, offset: number) => Buffer;
    }
  ).mask;
}

/** The two kernels of one variant: unmask `bytes` in place; mask `source` into `target` at `offset`. */
interface Kernels {
  unmask(bytes: Buffer): void;
  maskCopy(source: Buffer, target: Buffer, offset: number): void;
  label?: string;
}

function kernelsOf(variant: Variant): Kernels {
  switch (variant) {
    case 'hybi':
    case 'hybi-driver':
      return {
        unmask: (bytes) => void applyMask(bytes, MASKING_KEY, 0, bytes.length),
        maskCopy: (source, target, offset) => copyMasked(source, target, offset, MASKING_KEY),
      };
    case 'ws':
    case 'ws-no-addons': {
      const ws = loadWsKernels();
      return {
        unmask: (bytes) => ws.unmask(bytes, MASKING_KEY),
        maskCopy: (source, target, offset) => ws.mask(source, MASKING_KEY, target, offset, source.length),
        label: wsLabel(),
      };
    }
    case 'websocket-driver': {
      const mask = websocketDriverMask();
      return {
        unmask: (bytes) => void mask(bytes, MASKING_KEY, 0),
        // websocket-driver copies the payload into the frame, then masks the frame in place.
        maskCopy: (source, target, offset) => {
          source.copy(target, offset);
          mask(target, MASKING_KEY, offset);
        },
      };
    }
    case 'reference':
      return {
        unmask: (bytes) => void bytes.copy(bytes, 0, 0, 0),
        maskCopy: (source, target, offset) => void source.copy(target, offset),
        label: 'Buffer.copy',
      };
  }
}

function cases(variant: Variant): BenchCase[] {
  const kernels = kernelsOf(variant);
  const result: BenchCase[] = [];
  for (const size of MESSAGE_SIZES) {
    const batch = Math.max(1, Math.floor(BATCH_BYTES / size.bytes));
    // A frame as it sits in a read buffer: the payload 6 bytes in (2-byte header + masking key), so
    // not word-aligned, as most payloads are not.
    const frame = Buffer.concat([Buffer.alloc(6), binaryPayload(size.bytes)]);
    const payload = frame.subarray(6);
    const copyTarget = Buffer.allocUnsafe(size.bytes + 6);
    const copySource = binaryPayload(size.bytes);
    const unmask: BenchCase = {
      name: `unmask in place ${size.label}`,
      // The reference for unmasking in place is copying the same bytes elsewhere: a memcpy's speed.
      fn:
        variant === 'reference'
          ? () => {
              for (let index = 0; index < batch; index++) payload.copy(copyTarget, 6);
            }
          : () => {
              for (let index = 0; index < batch; index++) kernels.unmask(payload);
            },
      unit: 'B/s',
      messagesPerOp: batch,
      bytesPerOp: batch * size.bytes,
    };
    const maskCopy: BenchCase = {
      name: `mask while copying ${size.label}`,
      fn: () => {
        for (let index = 0; index < batch; index++) kernels.maskCopy(copySource, copyTarget, 6);
      },
      unit: 'B/s',
      messagesPerOp: batch,
      bytesPerOp: batch * size.bytes,
    };
    if (kernels.label !== undefined) {
      unmask.label = kernels.label;
      maskCopy.label = kernels.label;
    }
    result.push(unmask, maskCopy);
  }
  return result;
}

export const suite: Suite = {
  name: 'mask',
  variants: ['hybi', 'ws', 'ws-no-addons', 'websocket-driver', 'reference'],
  cases,
};

await runIfMain(new URL(import.meta.url), suite);
