// Owns loading the libraries hybi is measured against (ws, websocket-driver, faye's permessage-deflate),
// typed as narrowly as the benchmarks use them, and which of ws's optional native addons are active.

import type { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Stream } from 'node:stream';

const require = createRequire(import.meta.url);

/** ws's Receiver: a Writable that parses frames and emits 'message' (data, isBinary). */
export interface WsReceiver {
  write(chunk: Buffer): boolean;
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
}

/** What ws's Sender writes to: node:net's socket, of which it uses these three methods. */
export interface WsSocketLike {
  cork(): void;
  uncork(): void;
  write(chunk: Buffer | string, callback?: () => void): boolean;
}

export interface WsSender {
  send(
    data: Buffer | string,
    options: { binary: boolean; fin: boolean; mask: boolean; compress?: boolean },
  ): void;
}

export interface WsPerMessageDeflate {
  accept(configurations: Record<string, unknown>[]): unknown;
  compress(data: Buffer, fin: boolean, callback: (error: Error | null, result?: Buffer) => void): void;
  decompress(data: Buffer, fin: boolean, callback: (error: Error | null, result?: Buffer) => void): void;
  cleanup(): void;
}

export interface WsModule {
  Receiver: new (options: {
    isServer: boolean;
    maxPayload?: number;
    extensions?: Record<string, unknown>;
  }) => WsReceiver;
  Sender: new (socket: WsSocketLike, extensions?: Record<string, unknown>) => WsSender;
  PerMessageDeflate: new (options: Record<string, unknown>) => WsPerMessageDeflate;
}

/** ws's internal kernels, read from its lib/ by file path (its package exports do not list them). */
export interface WsKernels {
  unmask(buffer: Buffer, mask: Buffer): void;
  mask(source: Buffer, mask: Buffer, output: Buffer, offset: number, length: number): void;
  isValidUTF8(buffer: Buffer): boolean;
}

/** A websocket-driver driver, as its README documents it. */
export interface WebSocketDriverDriver extends EventEmitter {
  readonly io: Stream & { write(chunk: Buffer): boolean };
  readonly messages: Stream;
  readyState: number;
  start(): boolean;
  parse(chunk: Buffer): void;
  text(message: string): boolean;
  binary(message: Buffer): boolean;
  close(reason?: string, code?: number): boolean;
  addExtension(extension: unknown): boolean;
}

export interface WebSocketDriverModule {
  http(request: unknown, options?: Record<string, unknown>): WebSocketDriverDriver;
  client(url: string, options?: Record<string, unknown>): WebSocketDriverDriver;
}

export interface FayeMessage {
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  opcode: number;
  data: Buffer;
}

export interface FayeSession {
  processIncomingMessage(
    message: FayeMessage,
    callback: (error: Error | null, message: FayeMessage) => void,
  ): void;
  processOutgoingMessage(
    message: FayeMessage,
    callback: (error: Error | null, message: FayeMessage) => void,
  ): void;
  close(): void;
}

export interface FayeDeflate {
  configure(options: Record<string, unknown>): FayeDeflate;
  createServerSession(
    offers: Record<string, unknown>[],
  ): (FayeSession & { generateResponse(): unknown }) | null;
  createClientSession(): FayeSession & { generateOffer(): unknown; activate(params: unknown): boolean };
}

export function loadWs(): WsModule {
  return require('ws') as WsModule;
}

export function loadWsKernels(): WsKernels {
  const libraryDirectory = path.join(path.dirname(require.resolve('ws')), 'lib');
  const bufferUtil = require(path.join(libraryDirectory, 'buffer-util.js')) as Pick<
    WsKernels,
    'mask' | 'unmask'
  >;
  const validation = require(path.join(libraryDirectory, 'validation.js')) as Pick<WsKernels, 'isValidUTF8'>;
  return { mask: bufferUtil.mask, unmask: bufferUtil.unmask, isValidUTF8: validation.isValidUTF8 };
}

export function loadWebSocketDriver(): WebSocketDriverModule {
  return require('websocket-driver') as WebSocketDriverModule;
}

export function loadFayeDeflate(): FayeDeflate {
  return require('permessage-deflate') as FayeDeflate;
}

/**
 * Which of ws's optional native addons this process would load: ws requires them from its own
 * directory unless WS_NO_BUFFER_UTIL / WS_NO_UTF_8_VALIDATE are set. On Node ≥ 18.14 ws validates
 * UTF-8 with buffer.isUtf8 and never loads utf-8-validate, so only bufferutil changes anything here.
 */
export function wsAddons(): { bufferutil: boolean; utf8Validate: boolean } {
  const wsRequire = createRequire(require.resolve('ws'));
  const isResolvable = (name: string): boolean => {
    try {
      wsRequire.resolve(name);
      return true;
    } catch {
      return false;
    }
  };
  return {
    bufferutil: process.env.WS_NO_BUFFER_UTIL === undefined && isResolvable('bufferutil'),
    utf8Validate: process.env.WS_NO_UTF_8_VALIDATE === undefined && isResolvable('utf-8-validate'),
  };
}

/** Environment that makes ws skip its native addons; it must be set before ws is first required. */
export const WS_WITHOUT_ADDONS_ENV: Readonly<Record<string, string>> = {
  WS_NO_BUFFER_UTIL: '1',
  WS_NO_UTF_8_VALIDATE: '1',
};
