// Owns accepting WebSocket connections on Node: an upgrade node:http parsed (`acceptUpgrade`), a raw
// node:net socket (`acceptSocket`), and `WebSocketServer`, which listens (or attaches to an HTTP/1.1 or
// HTTP/2 server), tracks its clients and shuts down.

import { EventEmitter } from 'node:events';
import http from 'node:http';
import type { Http2SecureServer, Http2Server } from 'node:http2';
import type https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { server as rawDriver, validateOptions } from '../driver/index.js';
import type { ServerDriver, ServerRequest } from '../driver/server.js';
import { HandshakeError } from '../protocol/errors.js';
import { buildRejectionResponse, requestTargetParts, validateClientRequest } from '../protocol/handshake.js';
import { PreparedMessage, prepareMessage } from '../protocol/prepared-message.js';
import type { WebSocket } from '../websocket.js';
import type { AcceptOptions, UpgradeRequestInfo } from './accept-options.js';
import {
  ACCEPT_OPTION_KEYS,
  admit,
  needsAdmission,
  type PreparedOptions,
  prepareOptions,
  VerifyHookError,
} from './admission.js';
import type { Backplane } from './backplane.js';
import { attachHttp2, type Http2WebSocketHost, type Http2WebSocketRequest } from './http2-server.js';
import { openServerSocket } from './open-server-socket.js';
import { openUpgradedSocket } from './session-upgrade.js';
import { shutdown } from './shutdown.js';
import { DEFAULT_CLOSE_TIMEOUT, linkSocket } from './socket-link.js';
import { TopicClients, TopicRegistry } from './topics.js';

// The options of accepting one connection live in accept-options.ts; exported here too, as they always were.
export type { AcceptOptions, UpgradeRequestInfo, VerifyRejection, VerifyResult } from './accept-options.js';

/** Options of {@link WebSocketServer}. */
export interface WebSocketServerOptions extends AcceptOptions {
  /**
   * Listen on this port with a node:http server the WebSocketServer creates (0 picks a free one). That
   * server gets `headersTimeout` and `requestTimeout` = `handshakeTimeout` and `maxHeaderSize` =
   * `maxHeadSize` (16 KiB), so node:http itself answers a slow request head with 408 and a large one
   * with 431.
   */
  port?: number;
  /** With `port`: the address to listen on (Node's default: every interface). */
  host?: string;
  /**
   * Attach to this server's 'upgrade' event instead of creating one. Its request heads are node:http's
   * to bound: create it with `headersTimeout` and `requestTimeout` (10 s is plenty for a handshake),
   * `connectionsCheckingInterval` (1 s) and `maxHeaderSize` (16 KiB), as docs/security.md shows.
   *
   * A node:http2 server (`createSecureServer`, or `createServer` for cleartext h2c) serves WebSockets over
   * HTTP/2 (RFC 8441, through {@link attachHttp2}) and, with `allowHTTP1`, HTTP/1.1 upgrades too: both
   * reach 'connection' and `clients`. Attach before it listens: the extended CONNECT setting (RFC 8441
   * §3) goes to sessions that start afterwards.
   */
  server?: http.Server | https.Server | Http2Server | Http2SecureServer;
  /** Accept upgrades for this path only (`/chat`); other paths are left to other listeners, or get 404. */
  path?: string;
  /**
   * Neither listen nor attach: the application routes upgrades to `handleUpgrade()` itself. One of `port`,
   * `server` or `noServer: true` is required, so that a forgotten port is an error, not a silent server.
   */
  noServer?: boolean;
  /**
   * Most topics one socket may subscribe to (default 1024); `subscribe()` beyond it returns `false`.
   * Bounds the topic registry per connection, whatever a peer asks the application to join.
   */
  maxTopicsPerSocket?: number;
  /**
   * Carries publishes to the servers of the other processes of a fleet and theirs to this one's
   * subscribers: `clusterBackplane()` in node:cluster workers. See README, Topics across processes.
   */
  backplane?: Backplane;
}

/** The names WebSocketServer takes: AcceptOptions and its own. */
const SERVER_OPTION_KEYS: readonly string[] = [
  ...ACCEPT_OPTION_KEYS,
  'port',
  'host',
  'server',
  'path',
  'noServer',
  'maxTopicsPerSocket',
  'backplane',
];

export interface WebSocketServerEvents {
  listening: [];
  /** `request` is an `Http2WebSocketRequest` for a WebSocket over HTTP/2 (`socket.httpProtocol` says). */
  connection: [socket: WebSocket, request: http.IncomingMessage | Http2WebSocketRequest];
  error: [error: Error];
  close: [];
}

/** Node's own default for maxHeaderSize, and hybi's for request heads on raw sockets. */
const DEFAULT_MAX_HEAD_SIZE = 16 * 1024;

/**
 * Completes the handshake of an upgrade request node:http parsed ('upgrade' event) and resolves with the
 * open WebSocket. A request that is not a valid WebSocket handshake is answered with its HTTP error (400,
 * 405, 426) and the promise rejects with the `HandshakeError`; so does a refusal by `origins` or
 * `verifyRequest`. Frames the client sent with its request (`head`) are delivered after the application
 * had the socket. Throws TypeError or RangeError at once for a bad option.
 *
 * @example
 * ```ts
 * server.on('upgrade', async (request, socket, head) => {
 *   const ws = await acceptUpgrade(request, socket, head, { protocols: ['chat'] }).catch(() => undefined);
 *   ws?.addEventListener('message', (event) => ws.send(event.data));
 * });
 * ```
 */
export function acceptUpgrade(
  request: http.IncomingMessage,
  socket: Duplex,
  head: Buffer,
  options: AcceptOptions = {},
): Promise<WebSocket> {
  validateOptions(options, ACCEPT_OPTION_KEYS);
  return acceptPreparedUpgrade(request, socket, head, prepareOptions(options), alwaysAccepting);
}

/**
 * Accepts a WebSocket on a raw socket from a node:net server: parses the request head itself (frames sent
 * in the same write as the request are kept) and resolves once the handshake is done. Rejects with a
 * `HandshakeError` after answering a bad or refused request, or an Error if the socket closes first or
 * the handshake takes longer than `handshakeTimeout`. Throws at once for a bad option.
 *
 * @example
 * ```ts
 * net.createServer(async (socket) => {
 *   const ws = await acceptSocket(socket, { handshakeTimeout: 5000 }).catch(() => undefined);
 *   if (ws) for await (const message of ws) ws.send(message);
 * }).listen(8080);
 * ```
 */
export function acceptSocket(socket: Socket, options: AcceptOptions = {}): Promise<WebSocket> {
  validateOptions(options, ACCEPT_OPTION_KEYS);
  const prepared = prepareOptions(options);
  const driver = rawDriver({
    ...prepared.driverOptions,
    ...(prepared.maxHeadSize === undefined ? {} : { maxHeadSize: prepared.maxHeadSize }),
  });
  for (const [name, value] of prepared.headers) driver.setHeader(name, value);
  // The link's handshake timer bounds the whole handshake here: head, admission and start.
  const link = linkSocket(driver, socket, {
    ...prepared.linkOptions,
    handshakeTimeout: prepared.handshakeTimeout,
  });
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
      if (!needsAdmission(prepared)) {
        accept();
        return;
      }
      // The head is parsed; frames behind it wait in the driver. Stop reading until admission decides.
      driver.pauseInput();
      // The link's handshake timer bounds the hook here, with the rest of the handshake.
      admitOnSocket(prepared, rawRequestInfo(driver, socket), socket, 0).then(
        () => {
          driver.resumeInput();
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
 * or attaches to `server`'s upgrades (and, for a node:http2 server, to its RFC 8441 extended CONNECT
 * streams); emits 'connection' with each open WebSocket and its request.
 * Options are checked at construction: a bad one throws TypeError or RangeError.
 *
 * @example
 * ```ts
 * const wss = new WebSocketServer({ port: 8080, path: '/chat', origins: ['https://chat.example.com'] });
 * wss.on('connection', (socket, request) => {
 *   socket.onmessage = (event) => socket.send(event.data);
 * });
 * process.once('SIGTERM', () => wss.close());
 * ```
 */
export class WebSocketServer extends EventEmitter<WebSocketServerEvents> {
  /** The open (and closing) connections. */
  readonly clients: Set<WebSocket>;
  /** Who subscribes to what (src/node/topics.ts); sockets join it as they join `clients`. */
  private readonly topics: TopicRegistry;
  private readonly options: WebSocketServerOptions;
  private readonly prepared: PreparedOptions;
  private readonly httpServer: http.Server | https.Server | Http2Server | Http2SecureServer | undefined;
  /** The HTTP/2 side of an http2 `server`: its extended CONNECT streams, accepted as WebSockets. */
  private readonly http2Host: Http2WebSocketHost | undefined;
  /** The node:http server this WebSocketServer created for `port`, and closes. */
  private readonly ownServer: http.Server | undefined;
  private state: 'running' | 'closing' | 'closed' = 'running';
  private closing: Promise<void> | undefined;
  /** Upgrades whose admission (origins, verifyRequest) is under way, not yet linked. */
  private readonly admitting = new Set<Duplex>();
  /** Every handshake in progress, settled once its socket joined `clients` or was turned away. */
  private readonly handshakes = new Set<Promise<void>>();

  constructor(options: WebSocketServerOptions = {}) {
    super();
    validateOptions(options, SERVER_OPTION_KEYS);
    this.prepared = prepareOptions(options);
    this.topics = new TopicRegistry(options.maxTopicsPerSocket, options.backplane, this.onServerError);
    this.clients = new TopicClients(this.topics);
    const modes = [options.port, options.server, options.noServer === true ? true : undefined];
    const modeCount = modes.filter((mode) => mode !== undefined).length;
    if (modeCount !== 1) {
      throw new TypeError(
        `WebSocketServer takes ${modeCount === 0 ? 'one' : 'only one'} of port (to listen on), server (to attach ` +
          'to its upgrades) or noServer: true (to call handleUpgrade() yourself)',
      );
    }
    if (options.host !== undefined && options.port === undefined) {
      throw new TypeError(
        'WebSocketServer: host goes with port; a server you give listens where you tell it',
      );
    }
    this.options = options;
    const server = options.server;
    this.http2Host = undefined;
    if (server !== undefined) {
      this.httpServer = server;
      this.ownServer = undefined;
      server.on('listening', this.onListening);
      if (isHttp2Server(server)) {
        const {
          port: _port,
          host: _host,
          server: _server,
          maxHeadSize: _maxHeadSize,
          noServer: _noServer,
          maxTopicsPerSocket: _maxTopicsPerSocket,
          backplane: _backplane,
          ...attach
        } = options;
        this.http2Host = attachHttp2(server, { ...attach, webSocketServer: this });
      }
    } else if (options.port !== undefined) {
      const server = http.createServer(
        httpServerOptions(this.prepared.handshakeTimeout, options.maxHeadSize),
        respondUpgradeRequired,
      );
      this.httpServer = server;
      this.ownServer = server;
      server.on('listening', this.onListening);
      server.on('error', this.onServerError);
      server.listen(options.port, options.host);
    } else {
      // No server: the application routes upgrades to handleUpgrade itself.
      this.httpServer = undefined;
      this.ownServer = undefined;
    }
    this.httpServer?.on('upgrade', this.onUpgrade);
  }

  /**
   * Sends one message to every open client, or to those `filter` accepts, framed once for all of them
   * (see `prepareMessage`); clients with permessage-deflate negotiated compress it each for itself.
   * Returns how many clients it was sent to. Like `send()`, it never waits: a client whose buffer is
   * past its high-water mark still gets the message queued (watch `bufferedAmount` for slow readers).
   *
   * @example
   * ```ts
   * wss.broadcast(JSON.stringify(update), { filter: (socket) => socket !== sender });
   * ```
   */
  broadcast(
    data: string | Uint8Array | PreparedMessage,
    options: { compress?: boolean; filter?: (socket: WebSocket) => boolean } = {},
  ): number {
    const message = data instanceof PreparedMessage ? data : prepareMessage(data);
    const sendOptions = { compress: options.compress !== false };
    const filter = options.filter;
    let count = 0;
    for (const client of this.clients) {
      if (client.readyState !== 1 || (filter !== undefined && !filter(client))) continue;
      client.send(message, sendOptions);
      count++;
    }
    return count;
  }

  /**
   * Sends one message to every open socket subscribed to `topic` (`socket.subscribe(topic)`), framed
   * once for all of them, as `broadcast` does; returns how many sockets it was sent to. Like `send()`
   * it never waits: a slow subscriber gets the message queued (its `bufferedAmount` grows) and the
   * others do not wait for it.
   *
   * @example
   * ```ts
   * wss.publish('room:lobby', JSON.stringify({ from: 'server', text: 'hello' }));
   * ```
   */
  publish(
    topic: string,
    data: string | Uint8Array | PreparedMessage,
    options: { compress?: boolean } = {},
  ): number {
    return this.topics.publish(topic, data, options, undefined);
  }

  /** How many sockets are subscribed to `topic`. */
  subscriberCount(topic: string): number {
    return this.topics.subscriberCount(topic);
  }

  /** The listening address of the underlying server (null before 'listening' or without one). */
  address(): AddressInfo | string | null {
    return this.httpServer?.address() ?? null;
  }

  /**
   * Completes an upgrade the application routed here; calls `callback` (default: emit 'connection') with
   * the open WebSocket. A bad or refused handshake is answered with its HTTP status and never reaches
   * the callback; a `verifyRequest` that throws, times out or returns unsafe headers is reported as 'error'.
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
    this.admitting.add(socket);
    const isAccepting = (): boolean => {
      // Called once admission is over, right before the socket is linked.
      this.admitting.delete(socket);
      return this.state === 'running';
    };
    const handshake = acceptPreparedUpgrade(request, socket, head, this.prepared, isAccepting).then(
      (webSocket) => {
        this.clients.add(webSocket);
        webSocket.addEventListener('close', this.forgetClient, { once: true });
        // Opened as close() began: it joins the clients that close() is closing with 1001.
        if (this.state !== 'running') return;
        if (callback === undefined) this.emit('connection', webSocket, request);
        else callback(webSocket, request);
      },
      (error: unknown) => {
        this.admitting.delete(socket);
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
    this.handshakes.add(handshake);
    // `finally` passes a rejection on: an 'error' nobody listens for still surfaces, as from any emitter.
    void handshake.finally(() => this.handshakes.delete(handshake));
  }

  /**
   * Stops accepting, refuses handshakes still being verified with 503, closes every client with 1001
   * (Going Away) and waits for their closing handshakes, at most `closeTimeout` (then the rest are
   * destroyed); then closes the http server if this WebSocketServer created it.
   */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    this.state = 'closing';
    this.topics.close();
    const server = this.httpServer;
    const ownServer = this.ownServer;
    let serverClosed: Promise<void> | undefined;
    if (ownServer !== undefined) {
      // Stop listening now; the callback comes once every connection, upgraded ones included, is gone.
      serverClosed = new Promise<void>((resolve) => ownServer.close(() => resolve()));
    } else if (server !== undefined) {
      server.off('upgrade', this.onUpgrade);
      server.off('listening', this.onListening);
    }
    // The HTTP/2 side answers new streams 503 from now on and closes its WebSockets (also in `clients`)
    // with 1001; its promise settles once they closed and the server's 'stream' event is handed back.
    const http2Closed = this.http2Host?.close();
    for (const socket of this.admitting)
      refuse(socket, new HandshakeError(503, 'The server is shutting down'));
    this.admitting.clear();
    // Refused handshakes settle as their sockets close; admitted ones join `clients`.
    await Promise.allSettled([...this.handshakes]);
    await Promise.all([
      shutdown(this.clients, { timeout: this.options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT }),
      http2Closed,
    ]);
    if (ownServer !== undefined && serverClosed !== undefined) {
      // Keep-alive HTTP connections and heads still arriving: nothing to wait for.
      ownServer.closeAllConnections();
      await serverClosed;
      ownServer.off('listening', this.onListening);
      ownServer.off('error', this.onServerError);
      ownServer.off('upgrade', this.onUpgrade);
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

  /**
   * One 'close' listener for every client. A closure made per socket inside handleUpgrade kept that
   * scope alive, and with it the upgrade request (its headers and raw headers) for the socket's life.
   */
  private readonly forgetClient = (event: Event): void => {
    this.clients.delete(event.target as WebSocket);
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

function alwaysAccepting(): boolean {
  return true;
}

async function acceptPreparedUpgrade(
  request: http.IncomingMessage,
  socket: Duplex,
  head: Buffer,
  prepared: PreparedOptions,
  isAccepting: () => boolean,
): Promise<WebSocket> {
  const upgradeRequest = request as ServerRequest;
  // Invalid handshakes skip admission: the driver answers them with the right status below.
  if (needsAdmission(prepared) && validateClientRequest(upgradeRequest).ok) {
    const release = guardWhileWaiting(socket);
    try {
      await admitOnSocket(prepared, request, socket, prepared.handshakeTimeout);
    } finally {
      release();
    }
  }
  const isWanted = isAccepting();
  if (socket.destroyed) throw new Error('The connection closed while its request was being verified');
  // Refused meanwhile (a shutdown answers 503 to handshakes still being verified), or refused now.
  if (socket.writableEnded || !isWanted) {
    const refusal = new HandshakeError(503, 'The server is shutting down');
    refuse(socket, refusal);
    throw refusal;
  }
  // node:http read the whole head and admission is over: the 101 (or the error) goes out now.
  return openUpgradedSocket(upgradeRequest, socket, head, prepared);
}

/**
 * Whether `server` is a node:http2 server: node exports no class to test against, and only those servers
 * have `updateSettings` (the way to advertise extended CONNECT, RFC 8441 §3).
 */
function isHttp2Server(
  server: http.Server | https.Server | Http2Server | Http2SecureServer,
): server is Http2Server | Http2SecureServer {
  return typeof (server as Partial<Http2Server>).updateSettings === 'function';
}

/** The timeouts and head limit of the node:http server a WebSocketServer creates. */
function httpServerOptions(handshakeTimeout: number, maxHeadSize: number | undefined): http.ServerOptions {
  const limits: http.ServerOptions = { maxHeaderSize: maxHeadSize ?? DEFAULT_MAX_HEAD_SIZE };
  if (handshakeTimeout === 0) return limits;
  return {
    ...limits,
    // node:http answers 408 to a head not complete by then: a slowloris peer is cut off.
    headersTimeout: handshakeTimeout,
    requestTimeout: handshakeTimeout,
    // Node checks those timeouts every connectionsCheckingInterval (30 s by default), which would let a
    // slow head live three times longer than asked: check four times per timeout, at most every second.
    connectionsCheckingInterval: Math.max(1, Math.min(1000, Math.floor(handshakeTimeout / 4))),
  };
}

/**
 * Admission (origins, verifyRequest) for a request on an HTTP/1.1 connection: a refusal is written as raw
 * HTTP/1.1 bytes. `verifyTimeout` bounds the hook (0: the caller bounds it).
 */
function admitOnSocket(
  prepared: PreparedOptions,
  request: UpgradeRequestInfo,
  socket: Duplex,
  verifyTimeout: number,
): Promise<void> {
  return admit(prepared, {
    request,
    closable: socket,
    verifyTimeout,
    closedMessage: 'The connection closed while verifyRequest ran',
    refuse: (error) => refuse(socket, error),
    // A VerifyRejection whose headers cannot go into an HTTP/1.1 response is reported as a mistake.
    checkRejection: buildRejectionResponse,
  });
}

/** Answers with an HTTP error and closes the connection once the answer is out. */
function refuse(socket: Duplex, error: HandshakeError): void {
  if (socket.destroyed || socket.writableEnded) return;
  let response: Buffer;
  try {
    response = buildRejectionResponse(error);
  } catch {
    // Headers a rejection cannot carry: answer plainly rather than not at all.
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

/** The origin-form target (`/path?query`): a raw server driver's `url` is the request target itself. */
function targetOf(url: string): string {
  if (url.startsWith('/')) return url;
  try {
    const parsed = new URL(url);
    return `${parsed.pathname}${parsed.search}`;
  } catch {
    return '/';
  }
}

/** The path of an origin-form or absolute-form target (RFC 9112 §3.2.2), without its query. */
function pathOf(target: string | undefined): string {
  return requestTargetParts(target ?? '/').path;
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
