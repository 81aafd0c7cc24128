// Owns the options of permessage-deflate: their documentation, defaults and validation.

import type { ExtensionSessionOptions } from './extension.js';
import { MAX_WINDOW_BITS, MIN_WINDOW_BITS } from './permessage-deflate-negotiation.js';
import { sharedZlibLimiter, type ZlibLimiter } from './zlib-limiter.js';

/** Options of {@link permessageDeflate}. Every field is optional; see each for its default. */
export interface PerMessageDeflateOptions {
  /**
   * zlib compression level, -1 (zlib's default, 6) to 9. Default 1: on JSON-like traffic level 1 deflates
   * 2-3x faster than 6 for 10-25% more bytes, and deflate is the largest per-message CPU cost a
   * compressing server has. Choose 6 to match `ws` and browsers when bandwidth matters more.
   */
  level?: number;
  /** zlib memLevel, 1 to 9: memory for the deflater's hash chains. Default 8 (zlib's default). */
  memLevel?: number;
  /** Messages shorter than this many bytes are sent uncompressed. Default 1024. */
  threshold?: number;
  /**
   * Server: always use and announce `server_no_context_takeover`. Client: request it in the offer
   * (and reject a response without it).
   */
  serverNoContextTakeover?: boolean;
  /**
   * Server: always ask the client for `client_no_context_takeover`. Client: announce it in the offer
   * and compress every message on its own.
   */
  clientNoContextTakeover?: boolean;
  /**
   * 8 to 15. Server: the largest window it compresses with. Client: request `server_max_window_bits`
   * with this value (and reject a response with a larger one).
   */
  serverMaxWindowBits?: number;
  /**
   * 8 to 15, or `true`. Server: the window the client is asked to stay within, when the client offered
   * `client_max_window_bits`. Client: offer `client_max_window_bits` with this value; `true` or absent
   * offers it without a value (as browsers do), letting the server choose.
   */
  clientMaxWindowBits?: number | true;
  /**
   * Cap on zlib jobs (one message's deflate or inflate) running at once, shared process-wide by every
   * extension using the same cap. Default 10: a little more than libuv's 4 pool threads, so the pool
   * never idles while callbacks run, and small enough that a burst of messages waits as cheap closures
   * instead of pinned buffers and zlib contexts (see zlib-limiter.ts).
   */
  concurrency?: number;
}

/** websocket-driver's default maxLength (2^26 - 1), so a driver that passes none keeps its usual bound. */
const DEFAULT_MAX_LENGTH = 0x3ffffff;
const DEFAULT_LEVEL = 1;
const DEFAULT_MEM_LEVEL = 8;
const DEFAULT_THRESHOLD = 1024;
const DEFAULT_CONCURRENCY = 10;

const OPTION_NAMES: ReadonlySet<string> = new Set([
  'level',
  'memLevel',
  'threshold',
  'serverNoContextTakeover',
  'clientNoContextTakeover',
  'serverMaxWindowBits',
  'clientMaxWindowBits',
  'concurrency',
]);

/** The validated options, with defaults filled in. */
export interface DeflateConfig {
  readonly level: number;
  readonly memLevel: number;
  readonly threshold: number;
  readonly serverNoContextTakeover: boolean;
  readonly clientNoContextTakeover: boolean;
  readonly serverMaxWindowBits: number | undefined;
  readonly clientMaxWindowBits: number | true | undefined;
  readonly limiter: ZlibLimiter;
}

export function resolveMaxLength(sessionOptions: ExtensionSessionOptions | undefined): number {
  const maxLength = sessionOptions?.maxLength;
  if (maxLength === undefined) return DEFAULT_MAX_LENGTH;
  if (typeof maxLength !== 'number') {
    throw new TypeError(`permessage-deflate: maxLength must be a number of bytes, got ${typeof maxLength}`);
  }
  if (!(maxLength >= 0) || (!Number.isInteger(maxLength) && maxLength !== Number.POSITIVE_INFINITY)) {
    throw new RangeError(
      `permessage-deflate: maxLength must be a non-negative integer or Infinity, got ${maxLength}`,
    );
  }
  return maxLength;
}

export function validateOptions(options: unknown): DeflateConfig {
  if (options === undefined) options = {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(
      'permessageDeflate: options must be an object such as { threshold: 1024 }, or omitted',
    );
  }
  for (const name of Object.keys(options)) {
    if (!OPTION_NAMES.has(name)) {
      throw new TypeError(
        `permessageDeflate: unknown option "${name}"; the options are ${[...OPTION_NAMES].join(', ')}`,
      );
    }
  }
  const given = options as Record<string, unknown>;
  const clientMaxWindowBits = given.clientMaxWindowBits;
  const concurrency = readInteger(given, 'concurrency', 1, Number.MAX_SAFE_INTEGER, DEFAULT_CONCURRENCY);
  return {
    level: readInteger(given, 'level', -1, 9, DEFAULT_LEVEL),
    memLevel: readInteger(given, 'memLevel', 1, 9, DEFAULT_MEM_LEVEL),
    threshold: readInteger(given, 'threshold', 0, Number.MAX_SAFE_INTEGER, DEFAULT_THRESHOLD),
    serverNoContextTakeover: readBoolean(given, 'serverNoContextTakeover'),
    clientNoContextTakeover: readBoolean(given, 'clientNoContextTakeover'),
    serverMaxWindowBits:
      given.serverMaxWindowBits === undefined
        ? undefined
        : readInteger(given, 'serverMaxWindowBits', MIN_WINDOW_BITS, MAX_WINDOW_BITS, MAX_WINDOW_BITS),
    clientMaxWindowBits:
      clientMaxWindowBits === undefined || clientMaxWindowBits === true
        ? clientMaxWindowBits
        : readInteger(
            given,
            'clientMaxWindowBits',
            MIN_WINDOW_BITS,
            MAX_WINDOW_BITS,
            MAX_WINDOW_BITS,
            ' or true',
          ),
    limiter: sharedZlibLimiter(concurrency),
  };
}

function readInteger(
  options: Record<string, unknown>,
  name: string,
  minimum: number,
  maximum: number,
  fallback: number,
  alternative = '',
): number {
  const value = options[name];
  if (value === undefined) return fallback;
  const range =
    maximum === Number.MAX_SAFE_INTEGER
      ? `an integer >= ${minimum}`
      : `an integer from ${minimum} to ${maximum}`;
  if (typeof value !== 'number') {
    throw new TypeError(`permessageDeflate: ${name} must be ${range}${alternative}, got ${describe(value)}`);
  }
  if (!Number.isInteger(value) || value < minimum || value > maximum) {
    throw new RangeError(`permessageDeflate: ${name} must be ${range}${alternative}, got ${value}`);
  }
  return value;
}

function readBoolean(options: Record<string, unknown>, name: string): boolean {
  const value = options[name];
  if (value === undefined) return false;
  if (typeof value !== 'boolean') {
    throw new TypeError(`permessageDeflate: ${name} must be true or false, got ${describe(value)}`);
  }
  return value;
}

function describe(value: unknown): string {
  return typeof value === 'string' ? `the string "${value}"` : String(value);
}
