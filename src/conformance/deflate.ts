// Owns the tester's own permessage-deflate (RFC 7692) on node:zlib: negotiating the four parameters from
// either side and compressing and inflating messages, independent of hybi's extension.

import {
  createDeflateRaw,
  type DeflateRaw,
  deflateRawSync,
  inflateRawSync,
  constants as zlib,
} from 'node:zlib';
import type { ExtensionElement } from './extension-offer.js';

export const PERMESSAGE_DEFLATE = 'permessage-deflate';

/** RFC 7692 §7.2.1: a sync flush ends with an empty stored block; senders strip it, receivers add it back. */
const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const MAX_WINDOW_BITS = 15;
/** zlib refuses a raw deflate window of 8 (madler/zlib#171); 9 never reaches back further than 250 bytes. */
const MIN_RAW_DEFLATE_WINDOW_BITS = 9;
/**
 * zlib checks a distance against its window only for bytes that already left the output buffer: inflating
 * a whole message into one buffer accepts any distance within the message. A 64-byte output buffer (the
 * smallest node allows) moves everything else into the window, so a peer that reaches further back than
 * the agreed window fails with "invalid distance too far back". Only needed below the 15-bit maximum, and
 * cheap with the synchronous API (under 2 ms for 128 KiB).
 */
const WINDOW_CHECKING_CHUNK_SIZE = 64;
/** The compression level does not matter to a peer's inflater; the fastest keeps the tester's CPU for the peer. */
const TESTER_LEVEL = 1;

/** The parameters of RFC 7692 §7.1 read from one offer or response. `true` is the valueless form. */
export interface DeflateParameters {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | true | undefined;
  clientMaxWindowBits: number | true | undefined;
}

/** What both ends agreed, from the tester's side: "own" is what the tester sends, "peer" what it receives. */
export interface DeflateAgreement {
  ownNoContextTakeover: boolean;
  ownMaxWindowBits: number;
  peerNoContextTakeover: boolean;
  peerMaxWindowBits: number;
  /** The response header as sent or received, for the report. */
  header: string;
}

type ParametersResult = { ok: true; parameters: DeflateParameters } | { ok: false; reason: string };

/**
 * Reads the parameters of one permessage-deflate element, applying the rules RFC 7692 §7 gives for
 * declining an offer and failing on a response: only the four known names, each at most once, the
 * takeover flags without a value, window bits an integer 8..15 without leading zeros (§7.1.2.1), and
 * a valueless client_max_window_bits only in an offer (§7.1.2.2).
 */
export function readDeflateParameters(element: ExtensionElement, isOffer: boolean): ParametersResult {
  const parameters: DeflateParameters = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
  };
  const seen = new Set<string>();
  for (const [name, value] of element.parameters) {
    const key = name.toLowerCase();
    if (seen.has(key)) return { ok: false, reason: `parameter ${name} appears more than once` };
    seen.add(key);
    if (key === 'server_no_context_takeover' || key === 'client_no_context_takeover') {
      if (value !== true)
        return { ok: false, reason: `${name} takes no value, got ${JSON.stringify(value)}` };
      if (key === 'server_no_context_takeover') parameters.serverNoContextTakeover = true;
      else parameters.clientNoContextTakeover = true;
    } else if (key === 'server_max_window_bits') {
      const bits = readWindowBits(value);
      if (bits === undefined)
        return { ok: false, reason: `${name} needs a value from 8 to 15 without leading zeros` };
      parameters.serverMaxWindowBits = bits;
    } else if (key === 'client_max_window_bits') {
      if (value === true) {
        if (!isOffer) return { ok: false, reason: `${name} needs a value in a response` };
        parameters.clientMaxWindowBits = true;
      } else {
        const bits = readWindowBits(value);
        if (bits === undefined) {
          return { ok: false, reason: `${name} needs a value from 8 to 15 without leading zeros` };
        }
        parameters.clientMaxWindowBits = bits;
      }
    } else {
      return { ok: false, reason: `unknown parameter ${name}` };
    }
  }
  return { ok: true, parameters };
}

function readWindowBits(value: string | true): number | undefined {
  if (value === true || !/^[1-9][0-9]*$/.test(value)) return undefined;
  const bits = Number(value);
  return bits >= 8 && bits <= 15 ? bits : undefined;
}

/** Writes an offer or response element from parameters. */
export function deflateElement(parameters: Partial<DeflateParameters>): ExtensionElement {
  const element: ExtensionElement = { name: PERMESSAGE_DEFLATE, parameters: [] };
  if (parameters.serverNoContextTakeover) element.parameters.push(['server_no_context_takeover', true]);
  if (parameters.clientNoContextTakeover) element.parameters.push(['client_no_context_takeover', true]);
  const serverBits = parameters.serverMaxWindowBits;
  if (serverBits !== undefined) {
    element.parameters.push(['server_max_window_bits', serverBits === true ? true : String(serverBits)]);
  }
  const clientBits = parameters.clientMaxWindowBits;
  if (clientBits !== undefined) {
    element.parameters.push(['client_max_window_bits', clientBits === true ? true : String(clientBits)]);
  }
  return element;
}

export type AgreementResult = { ok: true; agreement: DeflateAgreement } | { ok: false; reason: string };

/**
 * The tester is the client: checks a server's response against the offer it answers (RFC 7692 §7.1).
 * An offered server_no_context_takeover must come back (§7.1.1.1); an offered server_max_window_bits must
 * come back with the same or a smaller value (§7.1.2.1); client_max_window_bits may come back only if
 * offered (§7.1.2.2).
 */
export function agreeAsClient(
  offer: DeflateParameters,
  response: ExtensionElement,
  header: string,
): AgreementResult {
  const read = readDeflateParameters(response, false);
  if (!read.ok) return read;
  const answer = read.parameters;
  if (offer.serverNoContextTakeover && !answer.serverNoContextTakeover) {
    return { ok: false, reason: 'the offer had server_no_context_takeover and the response left it out' };
  }
  if (typeof offer.serverMaxWindowBits === 'number') {
    if (typeof answer.serverMaxWindowBits !== 'number') {
      return { ok: false, reason: 'the offer had server_max_window_bits and the response left it out' };
    }
    if (answer.serverMaxWindowBits > offer.serverMaxWindowBits) {
      return {
        ok: false,
        reason: `server_max_window_bits=${answer.serverMaxWindowBits} is larger than the offered ${offer.serverMaxWindowBits}`,
      };
    }
  }
  if (answer.clientMaxWindowBits !== undefined && offer.clientMaxWindowBits === undefined) {
    return { ok: false, reason: 'client_max_window_bits in the response, but the offer did not have it' };
  }
  const ownBits =
    typeof answer.clientMaxWindowBits === 'number'
      ? answer.clientMaxWindowBits
      : typeof offer.clientMaxWindowBits === 'number'
        ? offer.clientMaxWindowBits
        : MAX_WINDOW_BITS;
  return {
    ok: true,
    agreement: {
      ownNoContextTakeover: answer.clientNoContextTakeover || offer.clientNoContextTakeover,
      ownMaxWindowBits: ownBits,
      peerNoContextTakeover: answer.serverNoContextTakeover,
      peerMaxWindowBits:
        typeof answer.serverMaxWindowBits === 'number' ? answer.serverMaxWindowBits : MAX_WINDOW_BITS,
      header,
    },
  };
}

/** How the tester, as the server, answers an offer: Autobahn's "server accept" settings. */
export interface AcceptPolicy {
  /** Ask the client for client_no_context_takeover (a server may always, RFC 7692 §7.1.1.2). */
  requestNoContextTakeover: boolean;
  /** Ask the client for client_max_window_bits=N (only if it offered the parameter, §7.1.2.2); 0 for no. */
  requestMaxWindowBits: number;
}

export interface ServerAcceptance {
  response: ExtensionElement;
  agreement: DeflateAgreement;
}

/**
 * The tester is the server: picks the first policy that one of the client's valid offers allows, and
 * answers it honouring what the offer demands of the server (server_no_context_takeover and
 * server_max_window_bits, §7.1.1.1 and §7.1.2.1). Undefined when no offer fits any policy.
 */
export function acceptAsServer(
  offers: readonly DeflateParameters[],
  policies: readonly AcceptPolicy[],
  serialize: (element: ExtensionElement) => string,
): ServerAcceptance | undefined {
  for (const policy of policies) {
    for (const offer of offers) {
      if (policy.requestMaxWindowBits !== 0 && offer.clientMaxWindowBits === undefined) continue;
      const clientBits =
        policy.requestMaxWindowBits === 0
          ? undefined
          : typeof offer.clientMaxWindowBits === 'number'
            ? Math.min(offer.clientMaxWindowBits, policy.requestMaxWindowBits)
            : policy.requestMaxWindowBits;
      const serverBits =
        typeof offer.serverMaxWindowBits === 'number' ? offer.serverMaxWindowBits : undefined;
      const response = deflateElement({
        serverNoContextTakeover: offer.serverNoContextTakeover,
        clientNoContextTakeover: policy.requestNoContextTakeover,
        serverMaxWindowBits: serverBits,
        clientMaxWindowBits: clientBits,
      });
      return {
        response,
        agreement: {
          ownNoContextTakeover: offer.serverNoContextTakeover,
          ownMaxWindowBits: serverBits ?? MAX_WINDOW_BITS,
          peerNoContextTakeover: policy.requestNoContextTakeover,
          peerMaxWindowBits: clientBits ?? MAX_WINDOW_BITS,
          header: serialize(response),
        },
      };
    }
  }
  return undefined;
}

/** How the tester ends a compressed message (RFC 7692 §7.2.1 and the variants of §7.2.3). */
export type CompressionForm = 'sync-flush' | 'final-block' | 'stored-block';

/**
 * The tester's compressor and decompressor for one connection. Inflating uses exactly the window the
 * peer agreed to and, when the peer agreed to no context takeover, a fresh inflater per message: a peer
 * that reaches past either limit makes inflation fail, which is how the suite catches it.
 */
export class TesterDeflate {
  readonly agreement: DeflateAgreement;
  private readonly maxMessageLength: number;
  private deflater: DeflateRaw | undefined;
  /** The tail of the peer's inflated messages, as far back as its agreed window reaches. */
  private history: Buffer = Buffer.alloc(0);
  private compressQueue: Promise<unknown> = Promise.resolve();
  private decompressQueue: Promise<unknown> = Promise.resolve();

  constructor(agreement: DeflateAgreement, maxMessageLength: number) {
    this.agreement = agreement;
    this.maxMessageLength = maxMessageLength;
  }

  /** Compresses one message payload, ready to send with RSV1 set. */
  compress(data: Buffer, form: CompressionForm = 'sync-flush'): Promise<Buffer> {
    const task = this.compressQueue.then(() => this.compressNow(data, form));
    this.compressQueue = task.catch(() => undefined);
    return task;
  }

  /** Inflates one received message payload; rejects when the data is not valid for the agreement. */
  decompress(payload: Buffer): Promise<Buffer> {
    const task = this.decompressQueue.then(() => this.decompressNow(payload));
    this.decompressQueue = task.catch(() => undefined);
    return task;
  }

  close(): void {
    this.deflater?.close();
    this.deflater = undefined;
    this.history = Buffer.alloc(0);
  }

  private async compressNow(data: Buffer, form: CompressionForm): Promise<Buffer> {
    const windowBits = Math.max(MIN_RAW_DEFLATE_WINDOW_BITS, this.agreement.ownMaxWindowBits);
    if (form === 'final-block') {
      // RFC 7692 §7.2.3.4: a block with BFINAL set, then the one 0x00 octet that remains of the appended
      // empty stored block once its 4-octet tail is removed (§7.2.1 steps 2 and 3).
      return Buffer.concat([deflateRawSync(data, { windowBits }), Buffer.from([0x00])]);
    }
    if (form === 'stored-block') {
      // RFC 7692 §7.2.3.3: level 0 emits stored (BTYPE 00) blocks.
      return stripTrailer(deflateRawSync(data, { windowBits, level: 0, finishFlush: zlib.Z_SYNC_FLUSH }));
    }
    if (this.agreement.ownNoContextTakeover) {
      return stripTrailer(
        deflateRawSync(data, { windowBits, level: TESTER_LEVEL, finishFlush: zlib.Z_SYNC_FLUSH }),
      );
    }
    this.deflater ??= createDeflateRaw({ windowBits, level: TESTER_LEVEL });
    return stripTrailer((await flushThrough(this.deflater, [data], Number.POSITIVE_INFINITY)).data);
  }

  private async decompressNow(payload: Buffer): Promise<Buffer> {
    const windowBits = this.agreement.peerMaxWindowBits;
    const useHistory = !this.agreement.peerNoContextTakeover && this.history.length > 0;
    // Each message is inflated on its own; context takeover is the last window's worth of earlier output
    // handed to zlib as the dictionary. A peer that agreed to no context takeover gets an empty window, so
    // any reference to an earlier message fails.
    const output = inflateRawSync(Buffer.concat([payload, TRAILER]), {
      windowBits,
      finishFlush: zlib.Z_SYNC_FLUSH,
      maxOutputLength: this.maxMessageLength,
      ...(windowBits < MAX_WINDOW_BITS ? { chunkSize: WINDOW_CHECKING_CHUNK_SIZE } : {}),
      ...(useHistory ? { dictionary: this.history } : {}),
    });
    if (!this.agreement.peerNoContextTakeover) this.remember(output, 1 << windowBits);
    return output;
  }

  /** Keeps the last `windowSize` bytes of everything inflated: the sliding window the peer may refer to. */
  private remember(output: Buffer, windowSize: number): void {
    if (output.length >= windowSize) {
      this.history = Buffer.from(output.subarray(output.length - windowSize));
      return;
    }
    const joined = Buffer.concat([this.history, output]);
    this.history = joined.length > windowSize ? joined.subarray(joined.length - windowSize) : joined;
  }
}

function stripTrailer(data: Buffer): Buffer {
  const length = data.length;
  if (length >= 4 && data.subarray(length - 4).equals(TRAILER)) return data.subarray(0, length - 4);
  return data;
}

/**
 * Writes chunks through a zlib stream and resolves with what one sync flush produces. `hasEnded` tells
 * that the stream reached its end (a final block): zlib then ignores further input, and node never
 * calls a later flush back, so the stream must not be used again.
 */
function flushThrough(
  stream: DeflateRaw,
  chunks: readonly Buffer[],
  maxLength: number,
): Promise<{ data: Buffer; hasEnded: boolean }> {
  return new Promise((resolve, reject) => {
    const outputs: Buffer[] = [];
    let total = 0;
    let isSettled = false;
    let hasEnded = false;
    const finish = (error: Error | undefined): void => {
      if (isSettled) return;
      isSettled = true;
      stream.off('data', onData);
      stream.off('error', onError);
      stream.off('end', onEnd);
      if (error === undefined) resolve({ data: Buffer.concat(outputs, total), hasEnded });
      else reject(error);
    };
    const onEnd = (): void => {
      hasEnded = true;
      // The flush callback may still come; if it does not, the end itself completes the message.
      setImmediate(() => finish(undefined));
    };
    const onData = (chunk: Buffer): void => {
      outputs.push(chunk);
      total += chunk.length;
      if (total > maxLength) finish(new Error(`inflated data is larger than the ${maxLength}-byte limit`));
    };
    const onError = (error: Error): void => finish(error);
    stream.on('data', onData);
    stream.on('error', onError);
    stream.on('end', onEnd);
    for (const chunk of chunks) stream.write(chunk);
    stream.flush(zlib.Z_SYNC_FLUSH, () => finish(undefined));
  });
}
