// Owns loading faye's websocket-driver 0.8 (a dev dependency, shipped without types) with the part of its
// driver API that tests and the differential harness call, so that the same script can run on both.

import { createRequire } from 'node:module';
import type { Stream } from 'node:stream';

/** A websocket-driver driver as the tests use it (its `io` and `messages` are classic streams). */
export interface FayeDriver {
  readyState: number;
  protocol: string | null | undefined;
  url: string | undefined;
  body?: Buffer;
  headers: Record<string, string | string[] | undefined> | undefined;
  statusCode?: number;
  version: string;
  readonly io: Stream & { write(chunk: Buffer): boolean; end(): void };
  readonly messages: Stream & { write(message: string | Buffer): boolean; pause(): void; resume(): void };
  getState(): string | null;
  start(): boolean;
  text(message: string): boolean;
  binary(message: Buffer | string): boolean;
  ping(message?: string, callback?: () => void): boolean;
  pong(message?: string): boolean;
  close(reason?: string, code?: number): boolean;
  setHeader(name: string, value: string): boolean;
  on(event: string, listener: (event: never) => void): this;
}

export interface FayeModule {
  client(url: string, options?: object): FayeDriver;
  server(options?: object): FayeDriver;
  http(request: object, options?: object): FayeDriver;
}

const require = createRequire(import.meta.url);

/** websocket-driver itself. */
export const faye = require('websocket-driver') as FayeModule;
