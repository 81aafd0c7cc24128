// Owns feeding bytes to ws's Receiver (the reference for the differential property) and reading its verdict.

import { hex, type ReceiverOutcome } from './outcome.js';
import { requireWsModule } from './ws-modules.js';

/** The part of ws's Receiver (ws/lib/receiver.js) the harness uses. */
interface WsReceiver {
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): void;
  on(event: 'ping' | 'pong', listener: (data: Buffer) => void): void;
  on(event: 'conclude', listener: (code: number, reason: Buffer) => void): void;
  on(event: 'error' | 'finish', listener: (...args: unknown[]) => void): void;
  /** Writable's hook, called directly: its callback gets the protocol error synchronously. */
  _write(chunk: Buffer, encoding: string, callback: (error?: Error | null) => void): void;
  /** Bytes written but not yet consumed by the parser. */
  _bufferedBytes: number;
}

type WsReceiverConstructor = new (options: {
  isServer: boolean;
  maxPayload: number;
  maxFragments?: number;
  allowSynchronousEvents?: boolean;
}) => WsReceiver;

const Receiver = requireWsModule('receiver') as WsReceiverConstructor;
const { kStatusCode } = requireWsModule('constants') as { kStatusCode: symbol };

/** ws's outcome, and where it stopped. */
export interface WsRun extends ReceiverOutcome {
  /** On failure: bytes consumed when the error was raised (written minus still buffered). */
  failureOffset: number | undefined;
  /** On failure: ws's error code, e.g. WS_ERR_INVALID_UTF8. */
  errorCode: string | undefined;
}

export interface WsReceiverOptions {
  isServer: boolean;
  maxPayload: number;
  maxFragments?: number;
}

/**
 * Feeds `chunks` to a new ws Receiver through `_write`, the Writable hook, so that an error arrives in
 * the callback at once instead of on a later tick, and stops at the first error or at the close frame
 * ('conclude'), as ws's WebSocket stops reading then.
 */
export function runWs(chunks: readonly Buffer[], options: WsReceiverOptions): WsRun {
  const receiver = new Receiver({
    isServer: options.isServer,
    maxPayload: options.maxPayload,
    ...(options.maxFragments === undefined ? {} : { maxFragments: options.maxFragments }),
    allowSynchronousEvents: true,
  });
  const run: WsRun = {
    events: [],
    verdict: { kind: 'open' },
    failureOffset: undefined,
    errorCode: undefined,
  };
  receiver.on('message', (data, isBinary) => {
    run.events.push(
      isBinary ? { type: 'binary', data: hex(data) } : { type: 'text', data: data.toString('utf8') },
    );
  });
  receiver.on('ping', (data) => run.events.push({ type: 'ping', data: hex(data) }));
  receiver.on('pong', (data) => run.events.push({ type: 'pong', data: hex(data) }));
  receiver.on('conclude', (code, reason) => {
    run.verdict = { kind: 'closed', code, reason: reason.toString('utf8') };
  });
  // ws calls end() on the close frame; nothing else is listened for.
  receiver.on('error', () => {});
  let written = 0;
  for (const chunk of chunks) {
    if (run.verdict.kind !== 'open') break;
    written += chunk.length;
    let failure: Error | null | undefined;
    receiver._write(chunk, 'buffer', (error) => {
      failure = error;
    });
    if (failure) {
      const code = (failure as unknown as Record<symbol, unknown>)[kStatusCode];
      run.verdict = { kind: 'failed', code: typeof code === 'number' ? code : -1 };
      run.failureOffset = written - receiver._bufferedBytes;
      run.errorCode = (failure as { code?: string }).code;
      break;
    }
  }
  return run;
}
