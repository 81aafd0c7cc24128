// Owns `hybi connect <url>`: open a WebSocket, send each line typed as text (and /ping, /close, /binary),
// print what comes back, and exit with a status a script can test.

import { createInterface } from 'node:readline';
import { connect } from '../node/connect.js';
import { HandshakeError } from '../protocol/errors.js';
import type { WebSocket } from '../websocket.js';
import type { CloseEvent } from '../websocket-events.js';
import { messageEvent, type Printer } from './output.js';

/** Exit statuses of `hybi connect` (and `hybi listen` for the first two). */
export const EXIT = {
  /** Closed cleanly: 1000 (or 1001, 1005: going away, no code) from either side. */
  closedNormally: 0,
  /** Could not open: network, TLS, or the handshake was refused. */
  couldNotConnect: 1,
  usage: 2,
  /** Was open, then closed abnormally (1006) or with an error code. */
  closedAbnormally: 3,
} as const;

export interface ConnectCommandOptions {
  url: string;
  headers: Record<string, string>;
  protocols: string[];
  isInsecure: boolean;
  hasDeflate: boolean;
  printer: Printer;
  isJson: boolean;
  input: NodeJS.ReadableStream;
  /** Milliseconds to stay open after the end of input, for replies (`-w`). */
  waitAfterInput: number;
  error: (line: string) => void;
}

/** Runs the command; resolves with its exit status once the connection has closed. */
export async function runConnect(options: ConnectCommandOptions): Promise<number> {
  const { printer, isJson } = options;
  let socket: WebSocket;
  try {
    socket = await connect(options.url, {
      headers: options.headers,
      protocols: options.protocols,
      // wscat's default: no compression unless asked, so that what is printed is what went over the wire.
      perMessageDeflate: options.hasDeflate,
      ...(options.isInsecure ? { rejectUnauthorized: false } : {}),
    });
  } catch (error) {
    const message =
      error instanceof HandshakeError
        ? `the server answered ${error.status}: ${error.message}`
        : (error as Error).message;
    options.error(
      `hybi connect: ${message}${isCertificateMessage(message) ? ' (--insecure skips the check)' : ''}`,
    );
    return EXIT.couldNotConnect;
  }
  printer.print({
    direction: 'info',
    type: 'open',
    text: socket.url,
    protocol: socket.protocol,
    extensions: socket.extensions,
  });
  socket.addEventListener('message', (event) => printer.print(messageEvent('in', event.data, isJson)));
  socket.addEventListener('ping', (event) =>
    printer.print({ direction: 'in', type: 'ping', text: event.data.toString() }),
  );
  socket.addEventListener('pong', (event) =>
    printer.print({ direction: 'in', type: 'pong', text: event.data.toString() }),
  );
  socket.addEventListener('error', (event) =>
    printer.print({
      direction: 'info',
      type: 'error',
      text: String((event.error as Error | undefined)?.message ?? event.message),
    }),
  );
  const lines = createInterface({ input: options.input, terminal: false });
  lines.on('line', (line) => {
    try {
      handleLine(socket, line, printer, isJson);
    } catch (error) {
      options.error(`hybi connect: ${(error as Error).message}`);
    }
  });
  // End of input (Ctrl-D, or the end of a piped file): close normally once what was sent has gone out.
  let waitTimer: NodeJS.Timeout | undefined;
  lines.on('close', () => {
    // A script's input ends before the replies come: -w keeps listening that long first.
    waitTimer = setTimeout(() => {
      if (socket.readyState === 1) socket.close(1000);
    }, options.waitAfterInput);
  });
  const [closeEvent] = await new Promise<[CloseEvent]>((resolve) =>
    socket.addEventListener('close', (event) => resolve([event]), { once: true }),
  );
  lines.close();
  clearTimeout(waitTimer);
  printer.print({ direction: 'info', type: 'close', code: closeEvent.code, reason: closeEvent.reason });
  return [1000, 1001, 1005].includes(closeEvent.code) ? EXIT.closedNormally : EXIT.closedAbnormally;
}

function handleLine(socket: WebSocket, line: string, printer: Printer, isJson: boolean): void {
  if (line.startsWith('/ping')) {
    const payload = line.slice('/ping'.length).trim();
    void socket.ping(payload);
    printer.print({ direction: 'out', type: 'ping', text: payload });
    return;
  }
  if (line.startsWith('/close')) {
    const [, codeText, ...reasonWords] = line.trim().split(/\s+/);
    const code = codeText === undefined ? 1000 : Number(codeText);
    socket.close(code, reasonWords.join(' '));
    return;
  }
  if (line.startsWith('/binary ')) {
    const hex = line.slice('/binary '.length).replace(/\s+/g, '');
    if (!/^([0-9a-fA-F]{2})*$/.test(hex)) throw new TypeError('/binary takes hex bytes, e.g. /binary 01ff');
    const bytes = Buffer.from(hex, 'hex');
    socket.send(bytes);
    printer.print(messageEvent('out', bytes, isJson));
    return;
  }
  // `//text` sends "/text": a way to send a line that starts with a slash.
  const text = line.startsWith('//') ? line.slice(1) : line;
  socket.send(text);
  printer.print(messageEvent('out', text, isJson));
}

function isCertificateMessage(message: string): boolean {
  return /certificate|self.signed/i.test(message);
}
