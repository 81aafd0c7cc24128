// Owns the demo behind `npm start`: a chat page at /, its broadcast WebSocket at /chat, an echo at /echo.

import { realpathSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { http as acceptWebSocket, type ServerDriver, type ServerRequest } from '../src/index.js';

export interface DemoServerOptions {
  /** TCP port; 0 picks a free one (tests do). Default 8080. */
  port?: number;
  /** Interface to listen on. Default 127.0.0.1: the demo is not meant to face a network. */
  host?: string;
}

export interface DemoServer {
  /** The page's address, e.g. `http://127.0.0.1:8080/`. */
  url: string;
  /** Stops listening, closes every WebSocket with 1001 (going away), and resolves once all are gone. */
  close(): Promise<void>;
}

/** How long a peer gets to answer our close frame during shutdown before its socket is destroyed. */
const CLOSE_GRACE_MILLISECONDS = 2_000;
/** Chat messages are small JSON objects; anything bigger is a misbehaving client, closed with 1009. */
const CHAT_MAX_MESSAGE_BYTES = 64 * 1024;
const MAX_NAME_LENGTH = 32;
const MAX_TEXT_LENGTH = 2_000;

/**
 * Starts the demo: GET / serves the chat page, /chat broadcasts to every open tab, /echo echoes.
 * @example
 * ```ts
 * const demo = await startDemoServer({ port: 0 });
 * console.log(demo.url);
 * await demo.close();
 * ```
 */
export async function startDemoServer(options: DemoServerOptions = {}): Promise<DemoServer> {
  const port = options.port ?? 8080;
  const host = options.host ?? '127.0.0.1';
  /** Every upgraded connection, so that shutdown can close each one. */
  const sockets = new Map<ServerDriver, Duplex>();
  const chatMembers = new Set<ServerDriver>();

  const server = createServer(serveHttp);

  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    // A tab closing mid-write resets the connection (ECONNRESET, EPIPE); that must not crash the demo.
    // The driver learns of it from 'close' below and reports code 1006.
    socket.on('error', () => {});
    const pathname = pathnameOf(request);
    if (pathname !== '/chat' && pathname !== '/echo') {
      socket.end(
        'HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\nNot found\n',
      );
      return;
    }
    // The cast: node's IncomingMessage has everything the handshake reads, but its `socket: Socket`
    // shares no property with ServerRequest's `{ encrypted?: boolean }`, which strict TS rejects.
    const driver = acceptWebSocket(request as ServerRequest, {
      perMessageDeflate: true,
      ...(pathname === '/chat' ? { maxLength: CHAT_MAX_MESSAGE_BYTES } : {}),
    });
    sockets.set(driver, socket);
    // The driver never touches the socket: we carry bytes both ways and end the socket after 'close'.
    // `driver.io.pipe(socket)` also pauses senders while the socket is full.
    driver.io.pipe(socket);
    socket.on('data', (chunk: Buffer) => driver.io.write(chunk));
    // node:http sockets allow half-open connections, so a peer's FIN alone never fires 'close': listen
    // for 'end' too, or a tab that vanished without a close frame would stay a member forever.
    socket.on('end', () => driver.io.end());
    socket.on('close', () => driver.io.end());
    // A protocol error is followed by 'close', where the socket is ended; nothing more to do here.
    driver.on('error', () => {});
    driver.on('close', () => {
      sockets.delete(driver);
      if (chatMembers.delete(driver)) broadcastPresence();
      socket.end();
    });
    if (pathname === '/chat') {
      driver.on('open', () => {
        chatMembers.add(driver);
        broadcastPresence();
      });
      driver.on('message', ({ data }) => {
        const message = typeof data === 'string' ? parseChatMessage(data) : undefined;
        // Malformed input is ignored rather than closing: a chat page may be an older version.
        if (message !== undefined) broadcast({ type: 'message', ...message, time: Date.now() });
      });
    } else {
      driver.on('message', ({ data }) => {
        if (typeof data === 'string') driver.text(data);
        else driver.binary(data);
      });
    }
    driver.io.write(head);
    driver.start();
  });

  function broadcast(event: ChatEvent): void {
    const text = JSON.stringify(event);
    for (const member of chatMembers) member.text(text);
  }

  function broadcastPresence(): void {
    broadcast({ type: 'presence', online: chatMembers.size });
  }

  await new Promise<void>((resolveListen, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(port, host, () => {
      server.off('error', rejectListen);
      resolveListen();
    });
  });
  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  let closing: Promise<void> | undefined;
  function close(): Promise<void> {
    closing ??= (async () => {
      // Stop accepting first, so no WebSocket opens while the others are being closed.
      const serverClosed = new Promise<void>((resolveClose) => server.close(() => resolveClose()));
      server.closeAllConnections();
      await Promise.all([...sockets].map(([driver, socket]) => closeWebSocket(driver, socket)));
      await serverClosed;
    })();
    return closing;
  }

  return { url: `http://${urlHost}:${address.port}/`, close };
}

/** Sends 1001 (RFC 6455 §7.4.1: going away) and waits for the socket to close, for a while. */
function closeWebSocket(driver: ServerDriver, socket: Duplex): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  return new Promise((resolveClosed) => {
    const timer = setTimeout(() => socket.destroy(), CLOSE_GRACE_MILLISECONDS);
    socket.once('close', () => {
      clearTimeout(timer);
      resolveClosed();
    });
    driver.close('server shutting down', 1001);
  });
}

type ChatEvent =
  | { type: 'message'; name: string; text: string; time: number }
  | { type: 'presence'; online: number };

/** A chat message from a page: `{"name": "...", "text": "..."}`, or undefined when it is not one. */
function parseChatMessage(data: string): { name: string; text: string } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { name, text } = value as { name?: unknown; text?: unknown };
  if (typeof text !== 'string' || text.trim() === '') return undefined;
  const cleanName = typeof name === 'string' ? name.trim().slice(0, MAX_NAME_LENGTH) : '';
  return { name: cleanName === '' ? 'anonymous' : cleanName, text: text.slice(0, MAX_TEXT_LENGTH) };
}

function pathnameOf(request: IncomingMessage): string {
  // The base only makes a relative request target parseable; its host is never used.
  return new URL(request.url ?? '/', 'http://localhost').pathname;
}

function serveHttp(request: IncomingMessage, response: ServerResponse): void {
  const pathname = pathnameOf(request);
  if (pathname === '/chat' || pathname === '/echo') {
    response.writeHead(426, { 'Content-Type': 'text/plain', Upgrade: 'websocket' });
    response.end('This endpoint speaks WebSocket only.\n');
    return;
  }
  if (pathname !== '/') {
    response.writeHead(404, { 'Content-Type': 'text/plain' });
    response.end('Not found\n');
    return;
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { 'Content-Type': 'text/plain', Allow: 'GET, HEAD' });
    response.end('Method not allowed\n');
    return;
  }
  response.writeHead(200, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': Buffer.byteLength(CHAT_PAGE),
    'Cache-Control': 'no-store',
  });
  response.end(request.method === 'HEAD' ? undefined : CHAT_PAGE);
}

/**
 * The tab's icon, inline so that the browser does not ask for /favicon.ico (a 404 in the console): a
 * speech bubble in SVG.
 */
const FAVICON_DATA_URL = `data:image/svg+xml,${encodeURIComponent(
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><path fill="#2a8" d="M4 4h24a2 2 0 0 1 2 2v15a2 2 0 0 1-2 2H13l-7 6v-6H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"/></svg>',
)}`;

/** The whole page: no external assets, the browser's own WebSocket, text only ever set as textContent. */
const CHAT_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>hybi chat</title>
<link rel="icon" href="${FAVICON_DATA_URL}">
<style>
  :root { font-family: system-ui, sans-serif; color-scheme: light dark; }
  *, *::before, *::after { box-sizing: border-box; }
  body { max-width: 40rem; margin: 2rem auto; padding: 0 1rem; }
  header { display: flex; flex-wrap: wrap; align-items: baseline; justify-content: space-between; gap: 0 0.5rem; }
  #status { font-size: 0.9rem; padding: 0.2rem 0.6rem; border-radius: 1rem; background: #8884; }
  #status[data-state="open"] { background: #2a84; }
  #status[data-state="closed"] { background: #c334; }
  #messages { list-style: none; padding: 0.5rem; height: 50vh; overflow-y: auto; border: 1px solid #8886; border-radius: 0.4rem; }
  #messages li { margin: 0.25rem 0; overflow-wrap: anywhere; }
  #messages .name { font-weight: 600; margin-right: 0.4rem; }
  #messages .time { color: #888; font-size: 0.8rem; margin-right: 0.4rem; }
  form { display: flex; gap: 0.5rem; }
  /* An input's intrinsic width (about 20 characters) is its flex minimum unless min-width says 0: without
     it the row is wider than a 375 px phone and Send is pushed off the screen. */
  #name { flex: 0 1 8rem; min-width: 0; }
  #text { flex: 1 1 0; min-width: 0; }
  #send { flex: none; }
</style>
</head>
<body>
<header><h1>hybi chat</h1><span id="status" data-state="connecting">connecting…</span></header>
<ul id="messages" aria-live="polite"></ul>
<form id="form">
  <input id="name" maxlength="${MAX_NAME_LENGTH}" placeholder="name" aria-label="name">
  <input id="text" maxlength="${MAX_TEXT_LENGTH}" placeholder="message" aria-label="message" autocomplete="off">
  <button id="send" disabled>Send</button>
</form>
<script>
  const statusLabel = document.getElementById('status');
  const messageList = document.getElementById('messages');
  const nameInput = document.getElementById('name');
  const textInput = document.getElementById('text');
  const sendButton = document.getElementById('send');
  nameInput.value = localStorage.getItem('hybi-name') || 'guest-' + Math.floor(Math.random() * 1000);
  nameInput.addEventListener('change', () => localStorage.setItem('hybi-name', nameInput.value));

  const chatUrl = new URL('/chat', location.href);
  chatUrl.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  let socket;
  let retryDelay = 500;
  let online = 0;

  function setStatus(state, label) {
    statusLabel.dataset.state = state;
    statusLabel.textContent = label;
  }

  function show(name, text, time) {
    const item = document.createElement('li');
    const stamp = document.createElement('span');
    stamp.className = 'time';
    stamp.textContent = new Date(time).toLocaleTimeString();
    const who = document.createElement('span');
    who.className = 'name';
    who.textContent = name;
    item.append(stamp, who, document.createTextNode(text));
    const atBottom = messageList.scrollTop + messageList.clientHeight >= messageList.scrollHeight - 4;
    messageList.append(item);
    if (atBottom) messageList.scrollTop = messageList.scrollHeight;
  }

  function connect() {
    setStatus('connecting', 'connecting…');
    socket = new WebSocket(chatUrl);
    socket.addEventListener('open', () => {
      retryDelay = 500;
      sendButton.disabled = false;
    });
    socket.addEventListener('message', (event) => {
      const data = JSON.parse(event.data);
      if (data.type === 'presence') {
        online = data.online;
        setStatus('open', 'connected · ' + online + ' online');
      } else if (data.type === 'message') {
        show(data.name, data.text, data.time);
      }
    });
    socket.addEventListener('close', (event) => {
      sendButton.disabled = true;
      setStatus('closed', 'disconnected (' + event.code + '), retrying in ' + retryDelay / 1000 + ' s');
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 10000);
    });
  }

  document.getElementById('form').addEventListener('submit', (event) => {
    event.preventDefault();
    const text = textInput.value.trim();
    if (text === '' || socket.readyState !== WebSocket.OPEN) return;
    socket.send(JSON.stringify({ name: nameInput.value, text }));
    textInput.value = '';
    textInput.focus();
  });

  connect();
</script>
</body>
</html>
`;

/** True when this file is the program (`tsx examples/demo-server.ts`), false when a test imports it. */
function isRunDirectly(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    // Both sides through realpath: a symlinked checkout or a relative argv must still match.
    return realpathSync(resolve(script)) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isRunDirectly()) {
  const port = Number(process.env.PORT ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`hybi demo: PORT must be a port number, not ${process.env.PORT}`);
    process.exit(1);
  }
  const demo = await startDemoServer({ port, host: '127.0.0.1' }).catch((error: unknown) => {
    // The mistakes a newcomer makes first get a sentence that says what to do, not a stack.
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'EADDRINUSE') {
      console.error(`hybi demo: port ${port} is in use; set PORT to another one (PORT=8081 npm start)`);
    } else if (code === 'EACCES') {
      console.error(`hybi demo: no permission to listen on port ${port}; set PORT above 1023`);
    } else {
      console.error('hybi demo: could not start:', error);
    }
    process.exit(1);
  });
  const echoUrl = `${demo.url.replace(/^http:/, 'ws:')}echo`;
  console.log(`hybi demo: open ${demo.url} in a few tabs; echo at ${echoUrl}`);
  const shutdown = (signal: NodeJS.Signals): void => {
    console.log(`hybi demo: ${signal}, closing`);
    demo.close().then(
      () => console.log('hybi demo: closed'),
      (error: unknown) => {
        console.error('hybi demo: shutdown failed', error);
        process.exitCode = 1;
      },
    );
  };
  // `once`: a second Ctrl-C falls through to the default handler and kills a shutdown that hangs.
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}
