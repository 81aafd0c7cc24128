// Owns how the hybi command prints: one line per event with a time and a direction mark, colours only on
// a terminal without NO_COLOR, or one JSON object per line for machines (--json).

import type { WebSocketData } from '../websocket.js';

/** One thing to print: a message in or out, or an event of the connection or server. */
export interface OutputEvent {
  /** `in` (received), `out` (sent), `info` (the connection's own events). */
  direction: 'in' | 'out' | 'info';
  type: 'text' | 'binary' | 'ping' | 'pong' | 'open' | 'close' | 'error' | 'listening' | 'connection';
  /** Which connection, for a server with several (1, 2, ...). */
  connection?: number;
  text?: string;
  /** Binary payloads: their length, and their bytes in hex (all of them in JSON, the first 64 otherwise). */
  length?: number;
  hex?: string;
  code?: number;
  reason?: string;
  [extra: string]: unknown;
}

/** Whether to colour: a terminal, NO_COLOR unset (https://no-color.org), and not --json. */
export function shouldUseColor(
  isTerminal: boolean,
  environment: NodeJS.ProcessEnv,
  isJson: boolean,
): boolean {
  return isTerminal && !isJson && (environment.NO_COLOR === undefined || environment.NO_COLOR === '');
}

const MARKS = { in: '<', out: '>', info: '*' } as const;
const COLORS = { in: '\u001b[32m', out: '\u001b[36m', info: '\u001b[33m' } as const;
const RESET = '\u001b[0m';
/** Bytes of a binary message shown in a terminal line: enough to recognise it, never a screenful. */
const HEX_PREVIEW_BYTES = 64;

export class Printer {
  private readonly write: (line: string) => void;
  private readonly isJson: boolean;
  private readonly isColored: boolean;
  private readonly now: () => Date;

  constructor(options: {
    write: (line: string) => void;
    isJson: boolean;
    isColored: boolean;
    now?: () => Date;
  }) {
    this.write = options.write;
    this.isJson = options.isJson;
    this.isColored = options.isColored;
    this.now = options.now ?? (() => new Date());
  }

  print(event: OutputEvent): void {
    const time = this.now().toISOString();
    if (this.isJson) {
      this.write(`${JSON.stringify({ time, ...event })}\n`);
      return;
    }
    const mark = MARKS[event.direction];
    const prefix = `${time.slice(11, 23)} ${this.isColored ? `${COLORS[event.direction]}${mark}${RESET}` : mark}`;
    const who = event.connection === undefined ? '' : ` #${event.connection}`;
    this.write(`${prefix}${who} ${describe(event)}\n`);
  }
}

/** A message as an OutputEvent: text as is, binary as its length and hex. */
export function messageEvent(
  direction: 'in' | 'out',
  data: WebSocketData | Uint8Array,
  isJson: boolean,
): OutputEvent {
  if (typeof data === 'string') return { direction, type: 'text', text: data };
  const bytes = data instanceof ArrayBuffer ? Buffer.from(data) : Buffer.from(data as Uint8Array);
  const shown = isJson ? bytes : bytes.subarray(0, HEX_PREVIEW_BYTES);
  return { direction, type: 'binary', length: bytes.length, hex: shown.toString('hex') };
}

function describe(event: OutputEvent): string {
  switch (event.type) {
    case 'text':
      return event.text ?? '';
    case 'binary': {
      const isCut =
        event.hex !== undefined && event.length !== undefined && event.hex.length / 2 < event.length;
      return `[binary ${event.length} bytes] ${event.hex ?? ''}${isCut ? '…' : ''}`;
    }
    case 'ping':
    case 'pong':
      return `[${event.type}]${event.text === undefined || event.text === '' ? '' : ` ${event.text}`}`;
    case 'close':
      return `[close ${event.code}${event.reason === undefined || event.reason === '' ? '' : ` ${event.reason}`}]`;
    default: {
      const { direction: _d, type, connection: _c, text, ...details } = event;
      const fields = Object.entries(details)
        .filter(([, value]) => value !== undefined && value !== '')
        .map(([name, value]) => `${name}=${String(value)}`);
      return `[${type}]${text === undefined ? '' : ` ${text}`}${fields.length === 0 ? '' : ` ${fields.join(' ')}`}`;
    }
  }
}
