// Owns accepting WebSocket connections on Node: an upgrade node:http parsed (`acceptUpgrade`), a raw
// node:net socket (`acceptSocket`), and `WebSocketServer`, which listens, tracks its clients and shuts down.

import { EventEmitter } from 'node:events';
import http from 'node:http';
import type https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { DriverOptions } from '../driver/driver.js';
import { http as httpDriver, server as rawDriver } from '../driver/index.js';
import type { ServerDriver, ServerRequest } from '../driver/server.js';
import type { PerMessageDeflateOptions } from '../extensions/permessage-deflate.js';
import { HandshakeError } from '../protocol/errors.js';
import { buildRejectionResponse, validateClientRequest } from '../protocol/handshake.js';
import { CloseCode } from '../protocol/opcodes.js';
import { WebSocket } from '../websocket.js';
import { linkSocket, type SocketLink } from './socket-link.js';

/** The request a `verifyRequest` hook sees: node:http's IncomingMessage, or for `acceptSocket` its parsed head. */
export interface UpgradeRequestInfo {
  readonly method?: string | undefined;
  /** The request target: path and query. */
  readonly url?: string | undefined;
  /** By lowercase name. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly socket: Socket;
}

/** How `verifyRequest` refuses with a status of its choosing. */
export interface VerifyRejection {
  /** The HTTP status, 400-599. */
  status: number;
  /** Extra response headers (not Content-Length or Connection, which hybi sets). */
  headers?: Readonly<Record<string, string>>;
  /** The plain-text body; the status's reason phrase when absent. */
  reason?: string;
}

/** `true` accepts; `false` refuses with 403; a {@link VerifyRejection} refuses as it says. */
export type VerifyResult = boolean | VerifyRejection;

/** Options of {@link acceptUpgrade} and {@link acceptSocket}. */
export interface AcceptOptions {
  /** Subprotocols the server supports, in preference order; the first the client offered is chosen. */
  protocols?: string | readonly string[];
  /**
   * Accept permessage-deflate (RFC 7692) when offered: `true`, its options, or `false` (the default).
   * Off by default on servers: each compressing connection holds zlib state and costs CPU per message,
   * which a server multiplies by its connections; turn it on where bandwidth is the scarcer resource.
   */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /** Largest message accepted, in bytes (default 64 MiB); larger ones close the connection with 1009. */
  maxLength?: number;
  /** Milliseconds to wait for the closing handshake and the client's FIN (default 5000). */
  closeTimeout?: number;
  /**
   * Decides whether to accept a valid upgrade request, before anything is answered. Return (or resolve)
   * `true` to accept, `false` to refuse with 403, or `{ status, headers?, reason? }`. A hook that throws
   * refuses with 500.
   */
  verifyRequest?: (request: UpgradeRequestInfo) => VerifyResult | Promise<VerifyResult>;
  /** acceptSocket: the largest request head accepted, in bytes (default 16 KiB; larger gets 431). */
  maxHeadSize?: number;
}

/** Options of {@link WebSocketServer}. */
export interface WebSocketServerOptions extends AcceptOptions {
  /** Listen on this port with a node:http server the WebSocketServer creates (0 picks a free one). */
  port?: number;
  /** With `port`: the address to listen on (Node's default: every interface). */
  host?: string;
  /** Attach to this server's 'upgrade' event instead of creating one. */
  server?: http.Server | https.Server;
  /** Accept upgrades for this path only (`/chat`); other paths are left to other listeners, or get 404. */
  path?: string;
}

export interface WebSocketServerEvents {
  listening: [];
  connection: [socket: WebSocket, request: http.IncomingMessage];
  error: [error: Error];
  close: [];
}

/** The link of every socket this module opened, so that shutdown can close with 1001. */
const linksOf = new WeakMap<WebSocket, SocketLink>();

/**
 * Completes the handshake of an upgrade request node:http parsed ('upgrade' event) and resolves with the
 * open WebSocket. A request that is not a valid WebSocket handshake is answered with its HTTP error (400,
 * 405, 426) and the promise rejects with the `HandshakeError`; so does a refusal by `verifyRequest`.
 * Frames the client sent with its request (`head`) are delivered after the application had the socket.
 *
 * @example
 * ```ts
 * server.on('upgrade', async (request, socket, head) => {
 *   const ws = await acceptUpgrade(request, socket, head, { protocols: ['chat'] }).catch(() => undefined);
 *   ws?.addEventListener('message', (event) => ws.send(event.data));
 * });
 * ```
 */
export async function acceptUpgrade(
  request: http.IncomingMessage,
  socket: Duplex,
  head: Buffer,
  options: AcceptOptions = {},
): Promise<WebSocket> {
  const upgradeRequest = request as ServerRequest;
  const verify = options.verifyRequest;
  // Invalid handshakes skip the hook: the driver answers them with the right status below.
  if (verify !== undefined && validateClientRequest(upgradeRequest).ok) {
    const release = guardWhileWaiting(socket);
    try {
      await verifyOrRefuse(verify, request, socket);
    } finally {
      release();
    }
  }
  if (socket.destroyed) throw new Error('The client closed the connection during verifyRequest');
  const driver = httpDriver(upgradeRequest, driverOptionsOf(options));
  return openServerSocket(driver, linkSocket(driver, socket, linkOptionsOf(options, head)));
}

/**
 * Accepts a WebSocket on a raw socket from a node:net server: parses the request head itself (frames sent
 * in the same write as the request are kept) and resolves once the handshake is done. Rejects with a
 * `HandshakeError` after answering a bad request, or an Error if the socket closes first.
 *
 * @example
 * ```ts
 * net.createServer(async (socket) => {
 *   const ws = await acceptSocket(socket).catch(() => undefined);
 *   if (ws) for await (const message of ws) ws.send(message);
 * }).listen(8080);
 * ```
 */
export function acceptSocket(socket: Socket, options: AcceptOptions = {}): Promise<WebSocket> {
  const driver = rawDriver({
    ...driverOptionsOf(options),
    ...(options.maxHeadSize === undefined ? {} : { maxHeadSize: options.maxHeadSize }),
  });
  const link = linkSocket(driver, socket, linkOptionsOf(options, undefined));
  return new Promise((resolve, reject) => {
    let failure: Error | undefined;
    const onError = (error: Error): void => {
      failure ??= error;
    };
    const onClose = (): void => {
      driver.off('error', onError);
      driver.off('connect', onConnect);
      reject(failure ?? new Error('The connection closed before its WebSocket handshake'));
    };
    const accept = (): void => {
      driver.off('error', onError);
      driver.off('close', onClose);
      try {
        resolve(openServerSocket(driver, link));
      } catch (error) {
        reject(error);
      }
    };
    const onConnect = (): void => {
      const verify = options.verifyRequest;
      if (verify === undefined) {
        accept();
        return;
      }
      // The head is parsed; frames behind it wait in the driver. Stop reading until the hook decides.
      driver.messages.pause();
      verifyOrRefuse(verify, rawRequestInfo(driver, socket), socket).then(
        () => {
          driver.messages.resume();
          if (driver.readyState !== 0) return; // closed meanwhile: onClose rejected
          accept();
        },
        (error: unknown) => {
          failure = error instanceof Error ? error : new Error(String(error));
          // Nothing more to say on this connection: the refusal was written and the socket ended.
          driver.close();
        },
      );
    };
    driver.on('error', onError);
    driver.once('close', onClose);
    driver.once('connect', onConnect);
  });
}

/**
 * A WebSocket server: listens on `port` with its own node:http server (answering other requests with 426),
 * or attaches to `server`'s upgrades; emits 'connection' with each open WebSocket and its request.
 *
 * @example
 * ```ts
 * const wss = new WebSocketServer({ port: 8080, path: '/chat', perMessageDeflate: true });
 * wss.on('connection', (socket, request) => {
 *   socket.onmessage = (event) => socket.send(event.data);
 * });
 * ```
 */
export class WebSocketServer extends EventEmitter<WebSocketServerEvents> {
  /** The open (and closing) connections. */
  readonly clients = new Set<WebSocket>();
  private readonly options: WebSocketServerOptions;
  private readonly httpServer: http.Server | https.Server | undefined;
  private readonly isOwnServer: boolean;
  private state: 'running' | 'closing' | 'closed' = 'running';
  private closing: Promise<void> | undefined;

  constructor(options: WebSocketServerOptions = {}) {
    super();
    if (options.port !== undefined && options.server !== undefined) {
      throw new TypeError('Give WebSocketServer a port to listen on or a server to attach to, not both');
    }
    this.options = options;
    if (options.server !== undefined) {
      this.httpServer = options.server;
      this.isOwnServer = false;
      this.httpServer.on('listening', this.onListening);
    } else if (options.port !== undefined) {
      const server = http.createServer(respondUpgradeRequired);
      this.httpServer = server;
      this.isOwnServer = true;
      server.on('listening', this.onListening);
      server.on('error', this.onServerError);
      server.listen(options.port, options.host);
    } else {
      // No server: the application routes upgrades to handleUpgrade itself.
      this.httpServer = undefined;
      this.isOwnServer = false;
    }
    this.httpServer?.on('upgrade', this.onUpgrade);
  }

  /** The listening address of the underlying server (null before 'listening' or without one). */
  address(): AddressInfo | string | null {
    return this.httpServer?.address() ?? null;
  }

  /**
   * Completes an upgrade the application routed here; calls `callback` (default: emit 'connection') with
   * the open WebSocket. A bad or refused handshake is answered with its HTTP status and never reaches
   * the callback; a `verifyRequest` that throws is reported as 'error'.
   */
  handleUpgrade(
    request: http.IncomingMessage,
    socket: Duplex,
    head: Buffer,
    callback?: (socket: WebSocket, request: http.IncomingMessage) => void,
  ): void {
    if (this.state !== 'running') {
      refuse(socket, new HandshakeError(503, 'The server is shutting down'));
      return;
    }
    acceptUpgrade(request, socket, head, this.options).then(
      (webSocket) => {
        if (this.state !== 'running') {
          linksOf.get(webSocket)?.driver.close('', CloseCode.GoingAway);
          return;
        }
        this.clients.add(webSocket);
        webSocket.addEventListener('close', () => this.clients.delete(webSocket), { once: true });
        if (callback === undefined) this.emit('connection', webSocket, request);
        else callback(webSocket, request);
      },
      (error: unknown) => {
        if (error instanceof HandshakeError) return; // answered with its status already
        if (error instanceof VerifyHookError) {
          this.emit('error', error.hookError);
          return;
        }
        if (socket.destroyed) return; // the client went away while its request was checked
        // Anything else is a bug of ours: do not leave the client hanging, and tell the owner.
        socket.destroy();
        this.emit('error', error instanceof Error ? error : new Error(String(error)));
      },
    );
  }

  /**
   * Stops accepting, closes every client with 1001 (Going Away) and waits for them (each at most its
   * close timeout), then closes the http server if this WebSocketServer created it.
   */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    this.state = 'closing';
    const server = this.httpServer;
    if (server !== undefined && !this.isOwnServer) {
      server.off('upgrade', this.onUpgrade);
      server.off('listening', this.onListening);
    }
    const closed = [...this.clients].map(
      (client) =>
        new Promise<void>((resolve) => {
          if (client.readyState === WebSocket.CLOSED) resolve();
          else client.addEventListener('close', () => resolve(), { once: true });
        }),
    );
    // RFC 6455 §7.4.1: 1001, an endpoint going away (a server going down).
    for (const client of this.clients) linksOf.get(client)?.driver.close('', CloseCode.GoingAway);
    await Promise.all(closed);
    if (server !== undefined && this.isOwnServer) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      server.off('listening', this.onListening);
      server.off('error', this.onServerError);
      server.off('upgrade', this.onUpgrade);
    }
    this.state = 'closed';
    this.emit('close');
  }

  private readonly onListening = (): void => {
    this.emit('listening');
  };

  private readonly onServerError = (error: Error): void => {
    this.emit('error', error);
  };

  private readonly onUpgrade = (request: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
    const path = this.options.path;
    if (path !== undefined && pathOf(request.url) !== path) {
      // Another listener may serve this path; with none, nobody will: say so.
      if (this.httpServer !== undefined && this.httpServer.listenerCount('upgrade') > 1) return;
      refuse(socket, new HandshakeError(404, `No WebSocket endpoint at ${pathOf(request.url)}`));
      return;
    }
    this.handleUpgrade(request, socket, head);
  };
}

// --- helpers -----------------------------------------------------------------------------------

/** A verifyRequest hook threw: the client got a 500, the server's owner gets the error. */
class VerifyHookError extends Error {
  override readonly name = 'VerifyHookError';
  /** What the hook threw, as an Error. */
  readonly hookError: Error;

  constructor(thrown: unknown) {
    const hookError = thrown instanceof Error ? thrown : new Error(String(thrown));
    super(`verifyRequest threw: ${hookError.message}`, { cause: hookError });
    this.hookError = hookError;
  }
}

/** Wraps a freshly linked server driver in a WebSocket, then starts it: throws if the handshake fails. */
function openServerSocket(driver: ServerDriver, link: SocketLink): WebSocket {
  let failure: Error | undefined;
  let hasOpened = false;
  const onError = (error: Error): void => {
    failure ??= error;
  };
  const onOpen = (): void => {
    hasOpened = true;
  };
  driver.on('error', onError);
  driver.once('open', onOpen);
  // Listening before start(): frames the client sent with its request are parsed during start().
  const webSocket = new WebSocket(link);
  driver.start();
  driver.off('error', onError);
  driver.off('open', onOpen);
  if (!hasOpened) throw failure ?? new HandshakeError(400, 'The WebSocket handshake failed');
  linksOf.set(webSocket, link);
  return webSocket;
}

async function verifyOrRefuse(
  verify: NonNullable<AcceptOptions['verifyRequest']>,
  request: UpgradeRequestInfo,
  socket: Duplex,
): Promise<void> {
  let verdict: VerifyResult;
  try {
    verdict = await verify(request);
  } catch (error) {
    refuse(socket, new HandshakeError(500, 'Internal Server Error'));
    throw new VerifyHookError(error);
  }
  if (verdict === true) return;
  const rejection: HandshakeError =
    verdict === false || typeof verdict !== 'object'
      ? new HandshakeError(403, 'Forbidden')
      : rejectionOf(verdict);
  refuse(socket, rejection);
  throw rejection;
}

function rejectionOf(verdict: VerifyRejection): HandshakeError {
  const status = verdict.status;
  if (!Number.isInteger(status) || status < 400 || status > 599) {
    return new HandshakeError(500, 'Internal Server Error');
  }
  return new HandshakeError(status, verdict.reason ?? http.STATUS_CODES[status] ?? '', verdict.headers ?? {});
}

/** Answers with an HTTP error and closes the connection once the answer is out. */
function refuse(socket: Duplex, error: HandshakeError): void {
  if (socket.destroyed) return;
  let response: Buffer;
  try {
    response = buildRejectionResponse(error);
  } catch {
    // Headers from the hook that a rejection cannot carry: answer plainly rather than not at all.
    response = buildRejectionResponse(new HandshakeError(error.status, error.message));
  }
  socket.once('finish', () => socket.destroy());
  socket.end(response);
}

/** While the hook runs, nobody else may be listening: a reset must not become an uncaught error. */
function guardWhileWaiting(socket: Duplex): () => void {
  const ignore = (): void => {};
  socket.on('error', ignore);
  return () => socket.off('error', ignore);
}

function rawRequestInfo(driver: ServerDriver, socket: Socket): UpgradeRequestInfo {
  return { method: driver.method, url: targetOf(driver.url), headers: driver.headers, socket };
}

function targetOf(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.pathname}${parsed.search}`;
  } catch {
    return '/';
  }
}

function pathOf(target: string | undefined): string {
  const value = target ?? '/';
  const queryStart = value.indexOf('?');
  return queryStart === -1 ? value : value.slice(0, queryStart);
}

function driverOptionsOf(options: AcceptOptions): DriverOptions {
  return {
    ...(options.protocols === undefined ? {} : { protocols: options.protocols }),
    ...(options.perMessageDeflate === undefined ? {} : { perMessageDeflate: options.perMessageDeflate }),
    ...(options.maxLength === undefined ? {} : { maxLength: options.maxLength }),
  };
}

function linkOptionsOf(
  options: AcceptOptions,
  head: Buffer | undefined,
): { closeTimeout?: number; head?: Buffer } {
  return {
    ...(options.closeTimeout === undefined ? {} : { closeTimeout: options.closeTimeout }),
    ...(head === undefined ? {} : { head }),
  };
}

/** RFC 9110 §15.5.22: a 426 names the protocol to upgrade to. */
function respondUpgradeRequired(_request: http.IncomingMessage, response: http.ServerResponse): void {
  const body = 'Upgrade Required';
  response.writeHead(426, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    Upgrade: 'websocket',
    Connection: 'Upgrade',
  });
  response.end(body);
}
