// Owns serving WebSockets from a node:http2 server (RFC 8441): one stream accepted as a WebSocket
// (`acceptHttp2Stream`) and a server's extended CONNECT streams claimed for an application (`attachHttp2`).

import { EventEmitter } from 'node:events';
import http2, {
  type Http2SecureServer,
  type Http2Server,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import type { Socket } from 'node:net';
import { Http2ServerDriver } from '../driver/http2-server.js';
import { validateOptions } from '../driver/index.js';
import { HandshakeError } from '../protocol/errors.js';
import {
  buildExtendedConnectRejection,
  type Http2HeaderMap,
  isExtendedConnect,
  validateExtendedConnect,
  WEBSOCKET_PROTOCOL,
} from '../protocol/extended-connect.js';
import { CloseCode } from '../protocol/opcodes.js';
import { type HttpProtocol, WebSocket } from '../websocket.js';
import type { AcceptOptions, UpgradeRequestInfo } from './accept-options.js';
import { ACCEPT_OPTION_KEYS, admit, prepareOptions, VerifyHookError } from './admission.js';
import { Http2StreamLink, resetStream } from './http2-stream-link.js';
import { openServerSocket } from './open-server-socket.js';

export type { HttpProtocol } from '../websocket.js';
// Where they were first exported from, so that importing them from here keeps working.
export { Http2StreamLink, resetStream } from './http2-stream-link.js';

/**
 * Which HTTP a WebSocket came over: `'h2'` (HTTP/2 over TLS) or `'h2c'` (cleartext HTTP/2) for one opened
 * with RFC 8441's extended CONNECT, `'http/1.1'` for an upgraded connection. The same as
 * `socket.httpProtocol`.
 *
 * @example
 * ```ts
 * wss.on('connection', (socket) => console.log('over', httpProtocolOf(socket))); // 'h2'
 * ```
 */
export function httpProtocolOf(socket: WebSocket): HttpProtocol {
  return socket.httpProtocol;
}

/**
 * The request of a WebSocket that came over HTTP/2: what `verifyRequest` and 'connection' listeners see.
 * Shaped like node:http's IncomingMessage where an application reads it (`method`, `url`, `headers`,
 * `socket`, `httpVersion`), plus the stream and the pseudo-headers.
 */
export interface Http2WebSocketRequest extends UpgradeRequestInfo {
  /** 'CONNECT'. */
  readonly method: string;
  /** The :path: path and query. */
  readonly url: string;
  readonly httpVersion: '2.0';
  readonly httpVersionMajor: 2;
  readonly httpVersionMinor: 0;
  /** By lowercase name, pseudo-headers included. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The TLS or TCP socket of the session. */
  readonly socket: Socket;
  readonly stream: ServerHttp2Stream;
  /** The :authority (what Host is to HTTP/1.1). */
  readonly authority: string;
  /** The :scheme, 'https' or 'http'. */
  readonly scheme: string;
}

/** Options of {@link acceptHttp2Stream}: those of `acceptUpgrade`, save the raw-socket `maxHeadSize`. */
export type Http2AcceptOptions = Omit<AcceptOptions, 'maxHeadSize'>;

const HTTP2_ACCEPT_OPTION_KEYS = ACCEPT_OPTION_KEYS.filter((key) => key !== 'maxHeadSize');

/**
 * Completes the RFC 8441 handshake of a stream that a node:http2 server received (its 'stream' event) and
 * resolves with the open WebSocket: the same class, events and methods as a WebSocket from an HTTP/1.1
 * upgrade. A request that is not a valid extended CONNECT is answered with its status (400, 405, 426, 501)
 * and a plain reason, and the promise rejects with the `HandshakeError`; so does a refusal by
 * `verifyRequest`. Only the stream is answered; the session and its other streams go on. The server must
 * send SETTINGS_ENABLE_CONNECT_PROTOCOL (`settings: { enableConnectProtocol: true }`, RFC 8441 §3).
 *
 * @example
 * ```ts
 * const server = http2.createSecureServer({ key, cert, settings: { enableConnectProtocol: true } });
 * server.on('stream', async (stream, headers) => {
 *   const socket = await acceptHttp2Stream(stream, headers, { protocols: ['chat'] }).catch(() => undefined);
 *   socket?.addEventListener('message', (event) => socket.send(event.data));
 * });
 * ```
 */
export async function acceptHttp2Stream(
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  options: Http2AcceptOptions = {},
): Promise<WebSocket> {
  validateOptions(options, HTTP2_ACCEPT_OPTION_KEYS);
  return acceptStream(stream, headers, options);
}

/** acceptHttp2Stream without the check of option names: a host hands it its own (`path`, ...) too. */
async function acceptStream(
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  options: Http2AcceptOptions,
): Promise<WebSocket> {
  const prepared = prepareOptions(options);
  // Until a link listens, a reset of the stream (or its session failing) must not become an uncaught
  // 'error'; a stream refused before any link keeps this listener to its end.
  const ignore = (): void => {};
  stream.on('error', ignore);
  let isLinked = false;
  try {
    const request = http2RequestOf(stream, headers);
    const driver = new Http2ServerDriver(
      headers as Http2HeaderMap,
      respondOn(stream),
      prepared.driverOptions,
    );
    for (const [name, value] of prepared.headers) driver.setHeader(name, value);
    // Invalid handshakes skip admission: the driver answers them with the right status below.
    if (validateExtendedConnect(headers as Http2HeaderMap).ok) {
      await admit(prepared, {
        request,
        closable: stream,
        verifyTimeout: prepared.handshakeTimeout,
        closedMessage: 'The client reset the stream during verifyRequest',
        // Only the stream is answered; headers HTTP/2 cannot carry are dropped, the status kept.
        refuse: (error) => driver.refuse(safeRejection(error)),
      });
    }
    if (stream.closed || stream.destroyed)
      throw new Error('The client reset the stream during verifyRequest');
    // The link is made as the 200 goes out: the handshake is over, and admission had its own bound.
    const link = new Http2StreamLink(driver, stream, { ...prepared.linkOptions, handshakeTimeout: 0 });
    isLinked = true;
    return openHttp2Socket(driver, link);
  } finally {
    if (isLinked) stream.off('error', ignore);
  }
}

/** Options of {@link attachHttp2}. */
export interface AttachHttp2Options extends Http2AcceptOptions {
  /** Accept WebSockets at this path only (`/chat`); other paths are left to other listeners, or get 404. */
  path?: string;
  /**
   * Emit each WebSocket as this server's 'connection' (and hook errors as its 'error'), the event its
   * HTTP/1.1 WebSockets come from, so that one handler serves both; the WebSockets join its `clients`.
   * Otherwise the returned host emits them. (`new WebSocketServer({ server: http2Server })` does this.)
   */
  webSocketServer?: Http2ConnectionOwner;
}

/**
 * What {@link attachHttp2} reports to on behalf of a `WebSocketServer` (which is one): its set of clients,
 * and its 'connection' and 'error' events. Declared here so that this file does not import server.ts,
 * which imports it.
 */
export interface Http2ConnectionOwner {
  readonly clients: Set<WebSocket>;
  emit(event: 'connection', socket: WebSocket, request: Http2WebSocketRequest): boolean;
  emit(event: 'error', error: Error): boolean;
}

export interface Http2WebSocketHostEvents {
  connection: [socket: WebSocket, request: Http2WebSocketRequest];
  error: [error: Error];
  close: [];
}

/**
 * The WebSocket side of a node:http2 server, made by {@link attachHttp2}: it claims the server's extended
 * CONNECT streams for WebSockets before node's request/response compatibility layer sees them (which would
 * answer a CONNECT with 405), accepts them, and tracks the open ones until `close()`.
 */
export class Http2WebSocketHost extends EventEmitter<Http2WebSocketHostEvents> {
  /** The open (and closing) WebSockets that came over this server's HTTP/2 sessions. */
  readonly clients = new Set<WebSocket>();
  private readonly server: Http2Server | Http2SecureServer;
  private readonly options: AttachHttp2Options;
  private readonly originalEmit: Http2Server['emit'];
  private readonly interceptingEmit: Http2Server['emit'];
  private state: 'running' | 'closing' | 'closed' = 'running';
  private closing: Promise<void> | undefined;

  constructor(server: Http2Server | Http2SecureServer, options: AttachHttp2Options = {}) {
    super();
    this.server = server;
    this.options = options;
    // RFC 8441 §3: a client may use the extended CONNECT only once the server advertised it. This applies to
    // sessions that start from now on: attach before the server listens.
    server.updateSettings({ enableConnectProtocol: true });
    const originalEmit = server.emit as Http2Server['emit'];
    this.originalEmit = originalEmit;
    const claim = (stream: unknown, headers: unknown): boolean => this.claim(stream, headers);
    // node:http2 has no event of its own for extended CONNECT (HTTP/1.1 has 'upgrade'): the 'stream' event is
    // where the compatibility layer turns every stream into 'request' or 'connect'. Claiming WebSocket
    // streams before it is the one way to keep an application's request handler from answering them too.
    this.interceptingEmit = function (this: unknown, event: string | symbol, ...args: unknown[]): boolean {
      if (event === 'stream' && claim(args[0], args[1])) return true;
      return Reflect.apply(originalEmit, this, [event, ...args]) as boolean;
    } as Http2Server['emit'];
    server.emit = this.interceptingEmit;
  }

  /**
   * Stops accepting (new WebSocket streams get 503), closes every WebSocket with 1001 (Going Away) and waits
   * for them, each at most its close timeout; then hands the 'stream' event back to the server. The
   * http2 server itself stays up: it is the application's.
   */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    this.state = 'closing';
    const closed = [...this.clients].map(
      (client) =>
        new Promise<void>((resolve) => {
          if (client.readyState === WebSocket.CLOSED) resolve();
          else client.addEventListener('close', () => resolve(), { once: true });
        }),
    );
    // RFC 6455 §7.4.1: 1001, an endpoint going away.
    for (const client of this.clients) linksOf.get(client)?.driver.close('', CloseCode.GoingAway);
    await Promise.all(closed);
    if (this.server.emit === this.interceptingEmit) this.server.emit = this.originalEmit;
    this.state = 'closed';
    this.emit('close');
  }

  /** Whether the stream is ours: a WebSocket at our path, or an extended CONNECT nobody else would answer. */
  private claim(streamValue: unknown, headersValue: unknown): boolean {
    if (this.state === 'closed' || typeof headersValue !== 'object' || headersValue === null) return false;
    const headers = headersValue as IncomingHttpHeaders;
    if (!isExtendedConnect(headers as Http2HeaderMap)) return false;
    const stream = streamValue as ServerHttp2Stream;
    const isWebSocket = String(headers[':protocol']).toLowerCase() === WEBSOCKET_PROTOCOL;
    const path = this.options.path;
    const isOnPath = path === undefined || pathOf(headers[':path']) === path;
    const hasOtherListeners = this.isServedByOthers();
    if (!isWebSocket || !isOnPath) {
      // Someone else may serve this; with nobody, say so: 501 for an unknown :protocol (the driver's
      // answer, RFC 9220 §3), 404 for another path.
      if (hasOtherListeners) return false;
      if (!isWebSocket) this.accept(stream, headers);
      else
        refuseStream(stream, new HandshakeError(404, `No WebSocket endpoint at ${pathOf(headers[':path'])}`));
      return true;
    }
    if (this.state !== 'running') {
      refuseStream(stream, new HandshakeError(503, 'The server is shutting down'));
      return true;
    }
    this.accept(stream, headers);
    return true;
  }

  /**
   * Whether a CONNECT we do not take would reach someone: an application 'stream' listener, or node's
   * request/response compatibility layer (the 'stream' listener a 'request' listener brings) with a
   * 'connect' listener behind it. The layer alone answers every CONNECT with 405, which would hide the
   * 501 (unknown :protocol) and 404 (another path) this host gives.
   */
  private isServedByOthers(): boolean {
    const server = this.server;
    let hasCompatibilityLayer = false;
    for (const listener of server.listeners('stream')) {
      if (!COMPATIBILITY_LISTENER_NAME.test(listener.name)) return true;
      hasCompatibilityLayer = true;
    }
    return hasCompatibilityLayer && server.listenerCount('connect') > 0;
  }

  private accept(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    acceptStream(stream, headers, this.options).then(
      (socket) => {
        if (this.state !== 'running') {
          linksOf.get(socket)?.driver.close('', CloseCode.GoingAway);
          return;
        }
        const target = this.options.webSocketServer;
        this.clients.add(socket);
        // One server, one set of clients: its HTTP/1.1 WebSockets and these are counted and closed together.
        target?.clients.add(socket);
        socket.addEventListener(
          'close',
          () => {
            this.clients.delete(socket);
            target?.clients.delete(socket);
          },
          { once: true },
        );
        const request = http2RequestOf(stream, headers);
        if (target === undefined) this.emit('connection', socket, request);
        else target.emit('connection', socket, request);
      },
      (error: unknown) => {
        if (error instanceof HandshakeError) return; // answered with its status already
        const target: Http2ConnectionOwner = this.options.webSocketServer ?? this;
        if (error instanceof VerifyHookError) {
          target.emit('error', error.hookError); // the client got a 500
          return;
        }
        if (stream.closed || stream.destroyed) return; // the client went away while its request was checked
        // Anything else is a bug of ours: do not leave the client hanging, and tell the owner.
        resetStream(stream);
        target.emit('error', asError(error));
      },
    );
  }
}

/**
 * Serves WebSockets over HTTP/2 from `server` (`node:http2` `createSecureServer` with ALPN h2, or
 * `createServer` for cleartext h2c): advertises SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3) to sessions
 * that start after the call, accepts extended CONNECT streams with `:protocol websocket`, and emits each
 * open WebSocket as 'connection', on the returned host or on `options.webSocketServer`. Other streams reach
 * the server's own 'stream' and 'request' listeners as before.
 *
 * @example
 * ```ts
 * // A host of its own; `new WebSocketServer({ server })` attaches one for you and serves HTTP/1.1 too.
 * const server = http2.createSecureServer({ key, cert });
 * const host = attachHttp2(server, { path: '/chat' });
 * host.on('connection', (socket) => socket.send(`hello over ${socket.httpProtocol}`));
 * server.listen(8443);
 * ```
 */
export function attachHttp2(
  server: Http2Server | Http2SecureServer,
  options: AttachHttp2Options = {},
): Http2WebSocketHost {
  validateOptions(options, [...HTTP2_ACCEPT_OPTION_KEYS, 'path', 'webSocketServer']);
  return new Http2WebSocketHost(server, options);
}

// --- helpers -----------------------------------------------------------------------------------

/**
 * node:http2 adds its compatibility layer as `onServerStream` bound to the server ('bound onServerStream')
 * when the first 'request' listener is added; nothing else marks it.
 */
const COMPATIBILITY_LISTENER_NAME = /^(bound )?onServerStream$/;

/** The link of every WebSocket this module opened, so that `close()` can close them with 1001. */
const linksOf = new WeakMap<WebSocket, Http2StreamLink>();

/** Opens the WebSocket and remembers its link, so that `close()` can close it with 1001. */
function openHttp2Socket(driver: Http2ServerDriver, link: Http2StreamLink): WebSocket {
  const socket = openServerSocket(driver, link);
  linksOf.set(socket, link);
  return socket;
}

/** A rejection whose headers cannot go out over HTTP/2 is sent plainly rather than not at all. */
function safeRejection(error: HandshakeError): HandshakeError {
  try {
    buildExtendedConnectRejection(error);
    return error;
  } catch {
    return new HandshakeError(error.status, error.message);
  }
}

/**
 * How a driver answers on a stream. A refusal ends the stream after its body and then, as RFC 9113 §8.1
 * allows a server that answered before the request ended, resets it with NO_ERROR so the client stops.
 */
function respondOn(
  stream: ServerHttp2Stream,
): (headers: Record<string, string | number>, body?: Buffer) => void {
  return (headers, body) => {
    if (stream.closed || stream.destroyed || stream.headersSent) return;
    if (body === undefined) {
      stream.respond(headers, { endStream: false });
      return;
    }
    stream.respond(headers);
    stream.end(body);
    stream.close(http2.constants.NGHTTP2_NO_ERROR);
  };
}

/** Answers a stream hybi refuses without a driver (404 off-path, 503 while closing). */
function refuseStream(stream: ServerHttp2Stream, error: HandshakeError): void {
  stream.on('error', () => {});
  respondOn(stream)(...toRejection(error));
}

function toRejection(error: HandshakeError): [Record<string, string | number>, Buffer] {
  const rejection = buildExtendedConnectRejection(error);
  return [rejection.headers, rejection.body];
}

function http2RequestOf(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): Http2WebSocketRequest {
  const copy: Record<string, string | string[] | undefined> = {};
  for (const [name, value] of Object.entries(headers)) {
    copy[name] = typeof value === 'number' ? String(value) : value;
  }
  return {
    method: stringOf(headers[':method']),
    url: stringOf(headers[':path']) || '/',
    httpVersion: '2.0',
    httpVersionMajor: 2,
    httpVersionMinor: 0,
    headers: copy,
    socket: stream.session?.socket as Socket,
    stream,
    authority: stringOf(headers[':authority']),
    scheme: stringOf(headers[':scheme']),
  };
}

function stringOf(value: string | string[] | number | undefined): string {
  return typeof value === 'string' ? value : '';
}

function pathOf(target: string | string[] | undefined): string {
  const value = typeof target === 'string' ? target : '/';
  const queryStart = value.indexOf('?');
  return queryStart === -1 ? value : value.slice(0, queryStart);
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
