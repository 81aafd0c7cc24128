// Owns the HTTP CONNECT tunnel a client opens through a proxy before its WebSocket handshake.

import { Stream } from 'node:stream';
import { assertSafeHeader } from '../protocol/handshake.js';
import { HttpHeadParser } from '../protocol/http-head.js';

export interface ProxyOptions {
  /** Extra headers for the CONNECT request (e.g. Proxy-Authorization). */
  headers?: Readonly<Record<string, string>>;
}

const DEFAULT_PORTS: Readonly<Record<string, string>> = { 'ws:': '80', 'wss:': '443' };

/**
 * A classic stream speaking the CONNECT exchange (RFC 9110 §9.3.6): `start()` emits the request as
 * 'data'; write the proxy's bytes into it; 'connect' fires on a 2xx answer, 'error' otherwise. Bytes the
 * proxy sent after its head are emitted with 'connect' as `rest` (the tunnel's first bytes).
 *
 * @example
 * ```ts
 * const proxy = driver.proxy('http://proxy.local:3128');
 * proxy.on('connect', () => { proxy.unpipe(socket); socket.pipe(driver.io).pipe(socket); driver.start(); });
 * socket.pipe(proxy).pipe(socket);
 * proxy.start();
 * ```
 */
export class HttpProxy extends Stream {
  readable = true;
  writable = true;
  statusCode = 0;
  headers: Record<string, string | string[]> = {};
  private readonly target: URL;
  private readonly requestHeaders: Record<string, string> = {};
  private readonly parser = new HttpHeadParser('response');
  private state: 'idle' | 'waiting' | 'done' = 'idle';

  constructor(target: URL, origin: string, options: ProxyOptions = {}) {
    super();
    this.target = target;
    const proxyUrl = new URL(origin);
    this.requestHeaders.Host = target.host;
    this.requestHeaders.Connection = 'keep-alive';
    this.requestHeaders['Proxy-Connection'] = 'keep-alive';
    if (proxyUrl.username !== '') {
      const credentials = `${decodeURIComponent(proxyUrl.username)}:${decodeURIComponent(proxyUrl.password)}`;
      this.requestHeaders['Proxy-Authorization'] =
        `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`;
    }
    for (const [name, value] of Object.entries(options.headers ?? {})) this.setHeader(name, value);
  }

  setHeader(name: string, value: string): boolean {
    if (this.state !== 'idle') return false;
    assertSafeHeader(name, value);
    this.requestHeaders[name] = value;
    return true;
  }

  start(): boolean {
    if (this.state !== 'idle') return false;
    this.state = 'waiting';
    const port = this.target.port === '' ? DEFAULT_PORTS[this.target.protocol] : this.target.port;
    const lines = [`CONNECT ${this.target.hostname}:${port} HTTP/1.1`];
    for (const [name, value] of Object.entries(this.requestHeaders)) lines.push(`${name}: ${value}`);
    this.emit('data', Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'));
    return true;
  }

  write(chunk: Buffer): boolean {
    if (this.state !== 'waiting') return false;
    const result = this.parser.push(chunk);
    if (result.state === 'incomplete') return true;
    this.state = 'done';
    if (result.state === 'error') {
      this.emit('error', new Error(`Invalid response from the proxy: ${result.reason}`));
    } else {
      this.statusCode = result.head.statusCode;
      this.headers = result.head.headers;
      if (this.statusCode >= 200 && this.statusCode < 300) {
        this.emit('connect', { rest: result.rest });
      } else {
        this.emit(
          'error',
          new Error(`The proxy refused the tunnel to ${this.target.host}: ${this.statusCode}`),
        );
      }
    }
    this.end();
    return true;
  }

  end(): this {
    if (!this.writable) return this;
    this.readable = false;
    this.writable = false;
    this.emit('close');
    this.emit('end');
    return this;
  }

  pause(): void {}
  resume(): void {}
}
