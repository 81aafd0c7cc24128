// Measures UTF-8 validation of text payloads: hybi's incremental Utf8Validator (as the parser uses it),
// ws's isValidUTF8 and websocket-driver's regular expression, against node's buffer.isUtf8.

import { isUtf8 } from 'node:buffer';
import { createRequire } from 'node:module';
import { Utf8Validator } from './support/hybi.js';
import type { Variant } from './support/measurement.js';
import { MESSAGE_SIZES, textPayload } from './support/payloads.js';
import { loadWsKernels } from './support/peers.js';
import { type BenchCase, runIfMain, type Suite, wsLabel } from './support/suite.js';

const BATCH_BYTES = 64 * 1024;

function asciiPayload(size: number): Buffer {
  const sample = Buffer.from('{"type":"update","id":12345,"text":"plain ASCII"}');
  const bytes = Buffer.allocUnsafe(size);
  for (let offset = 0; offset < size; offset += sample.length)
    sample.copy(bytes, offset, 0, Math.min(sample.length, size - offset));
  return bytes;
}

/** One variant's validator: true when `bytes` are valid UTF-8. */
function validatorOf(variant: Variant): { isValid(bytes: Buffer): boolean; label?: string } {
  switch (variant) {
    case 'hybi':
    case 'hybi-driver': {
      const validator = new Utf8Validator();
      return {
        isValid(bytes) {
          validator.reset();
          return validator.update(bytes) && validator.isComplete();
        },
      };
    }
    case 'ws':
    case 'ws-no-addons': {
      const { isValidUTF8 } = loadWsKernels();
      return { isValid: isValidUTF8, label: wsLabel() };
    }
    case 'websocket-driver': {
      // websocket-driver's check: the bytes as a latin1 string against one regular expression.
      const require = createRequire(import.meta.url);
      const hybi = require('websocket-driver/lib/websocket/driver/hybi') as {
        prototype: { UTF8_MATCH: RegExp };
      };
      const pattern = hybi.prototype.UTF8_MATCH;
      return { isValid: (bytes) => pattern.test(bytes.toString('latin1')) };
    }
    case 'reference':
      return { isValid: isUtf8, label: 'buffer.isUtf8' };
  }
}

function cases(variant: Variant): BenchCase[] {
  const validator = validatorOf(variant);
  const result: BenchCase[] = [];
  for (const [kind, payloadOf] of [
    ['ASCII', asciiPayload],
    ['mixed', textPayload],
  ] as const) {
    for (const size of MESSAGE_SIZES) {
      const bytes = payloadOf(size.bytes);
      if (!validator.isValid(bytes)) throw new Error(`${variant} rejected valid ${kind} ${size.label}`);
      const batch = Math.max(1, Math.floor(BATCH_BYTES / size.bytes));
      const benchCase: BenchCase = {
        name: `${kind} ${size.label}`,
        fn: () => {
          for (let index = 0; index < batch; index++) {
            if (!validator.isValid(bytes)) throw new Error('rejected valid input');
          }
        },
        unit: 'B/s',
        messagesPerOp: batch,
        bytesPerOp: batch * size.bytes,
      };
      if (validator.label !== undefined) benchCase.label = validator.label;
      result.push(benchCase);
    }
  }
  return result;
}

export const suite: Suite = {
  name: 'utf8',
  variants: ['hybi', 'ws', 'ws-no-addons', 'websocket-driver', 'reference'],
  cases,
};

await runIfMain(new URL(import.meta.url), suite);
