// Owns the scripted WebSocket server of the WebSocket-class differential: a raw node:net server that answers
// one handshake as told, replays a script of frames, garbage and TCP ends, and records what the client wrote.

import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { type ChunkSplitter, splitChunks } from '../arbitraries/chunks.js';
import { encodeFrame, FrameOpcode, RsvBit } from '../arbitraries/frames.js';
import { tokenizeFrames } from './frame-tokenizer.js';

/** How the server answers the opening handshake (RFC 6455 §4.2.2), right or wrong on purpose. */
export type HandshakeReply =
  /** 101 with the right Sec-WebSocket-Accept, and this Sec-WebSocket-Protocol if given. */
  | { kind: 'accept'; protocol?: string | undefined }
  /** A refusal: this status, no upgrade, then the server ends the connection. */
  | { kind: 'refuse'; status: 403 | 404 | 500 }
  /** 101 whose Sec-WebSocket-Accept is that of another key (§4.1: the client must fail). */
  | { kind: 'wrong-accept' }
  /** 101 without an Upgrade header (§4.1: the client must fail). */
  | { kind: 'missing-upgrade' }
  /** 101 naming an extension the client did not offer (§9.1: the client must fail). */
  | { kind: 'unoffered-extension' };

/** A frame the server writes, as data; some break RFC 6455 on purpose. */
export type ServerFrame =
  | { kind: 'text'; text: string }
  | { kind: 'binary'; bytes: number[] }
  /** A text message in two fragments, cut at this byte (a control frame may sit between them). */
  | { kind: 'fragmented-text'; text: string; cut: number; pingBetween: boolean }
  | { kind: 'ping'; bytes: number[] }
  | { kind: 'pong'; bytes: number[] }
  /** A close frame: with a code (and reason), or with an empty body (§5.5.1). */
  | { kind: 'close'; code?: number | undefined; reason?: string | undefined }
  /** A text frame with RSV2 set, no extension having defined it (§5.2: fail). */
  | { kind: 'bad-rsv' }
  /** A frame with a reserved opcode (§5.2: fail). */
  | { kind: 'bad-opcode'; opcode: 3 | 4 | 5 | 6 | 7 | 11 | 12 | 13 | 14 | 15 }
  /** A text frame whose payload is not UTF-8 (§8.1: fail with 1007). */
  | { kind: 'invalid-utf8' }
  /** A close frame whose code may not be sent (§7.4.1: fail with 1002). */
  | { kind: 'close-invalid-code'; code: number }
  /** A masked frame: servers must not mask (§5.1: the client must fail). */
  | { kind: 'masked-text'; text: string };

/** One step of the server's script, after its handshake. */
export type ServerStep =
  /** Writes these frames as one buffer, cut into chunks by the script's splitter, a turn apart. */
  | { kind: 'write'; frames: ServerFrame[] }
  /** Waits until the client has written this many frames in all (or ended). */
  | { kind: 'await-client-frames'; count: number }
  /** Ends the TCP connection (FIN) without a closing handshake. */
  | { kind: 'end' };

export interface ServerScript {
  handshake: HandshakeReply;
  /** Whether the handshake response and the first `write` step go out as one buffer. */
  isFirstWriteWithHandshake: boolean;
  /**
   * Whether the server ends the connection right after its handshake response: for a response the client
   * must refuse (a real server would not know, but a client that neither closes nor reports must not hang).
   */
  isEndAfterHandshake: boolean;
  steps: ServerStep[];
  splitter: ChunkSplitter;
}

/** A frame the client wrote, unmasked. */
export interface ClientFrameRecord {
  isFinal: boolean;
  rsv: number;
  opcode: number;
  hasMask: boolean;
  /** Text for text frames, close frames as `code reason`, hex otherwise. */
  payload: string;
}

/** What the server saw of one client. */
export interface ServerRecord {
  request: {
    requestLine: string;
    upgrade: string | undefined;
    connection: string | undefined;
    version: string | undefined;
    protocols: string | undefined;
    hasKey: boolean;
  };
  frames: ClientFrameRecord[];
  /** Bytes after the last whole frame (a frame cut short by the connection's end). */
  trailingBytes: number;
}

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** RFC 6455 §4.2.2: the accept value, computed here apart from hybi's handshake code. */
function acceptFor(key: string): string {
  return createHash('sha1')
    .update(key + GUID)
    .digest('base64');
}

/** Every frame of a script encodes to these bytes (servers do not mask, §5.1, except on purpose). */
export function encodeServerFrame(frame: ServerFrame): Buffer {
  const plain = (opcode: number, payload: Uint8Array, rsv = 0, isFinal = true) =>
    encodeFrame({ isFinal, rsv, opcode, payload });
  switch (frame.kind) {
    case 'text':
      return plain(FrameOpcode.Text, Buffer.from(frame.text, 'utf8'));
    case 'binary':
      return plain(FrameOpcode.Binary, Uint8Array.from(frame.bytes));
    case 'fragmented-text': {
      const bytes = Buffer.from(frame.text, 'utf8');
      const cut = Math.min(frame.cut, bytes.length);
      return Buffer.concat([
        plain(FrameOpcode.Text, bytes.subarray(0, cut), 0, false),
        ...(frame.pingBetween ? [plain(FrameOpcode.Ping, Buffer.from('between'))] : []),
        plain(FrameOpcode.Continuation, bytes.subarray(cut)),
      ]);
    }
    case 'ping':
      return plain(FrameOpcode.Ping, Uint8Array.from(frame.bytes));
    case 'pong':
      return plain(FrameOpcode.Pong, Uint8Array.from(frame.bytes));
    case 'close': {
      if (frame.code === undefined) return plain(FrameOpcode.Close, new Uint8Array(0));
      const reason = Buffer.from(frame.reason ?? '', 'utf8');
      const payload = Buffer.alloc(2 + reason.length);
      payload.writeUInt16BE(frame.code, 0);
      payload.set(reason, 2);
      return plain(FrameOpcode.Close, payload);
    }
    case 'bad-rsv':
      return plain(FrameOpcode.Text, Buffer.from('rsv'), RsvBit.Rsv2);
    case 'bad-opcode':
      return plain(frame.opcode, Buffer.from('op'));
    case 'invalid-utf8':
      return plain(FrameOpcode.Text, Uint8Array.from([0x61, 0xff, 0x62]));
    case 'close-invalid-code': {
      const payload = Buffer.alloc(2);
      payload.writeUInt16BE(frame.code, 0);
      return plain(FrameOpcode.Close, payload);
    }
    case 'masked-text':
      return encodeFrame({
        isFinal: true,
        rsv: 0,
        opcode: FrameOpcode.Text,
        payload: Buffer.from(frame.text, 'utf8'),
        maskingKey: Uint8Array.from([1, 2, 3, 4]),
      });
  }
}

/**
 * A server for one client at a time that plays `script` to the next connection; `run()` resolves with what
 * the client wrote once the connection is gone. The server lives as long as the caller keeps it.
 */
export class ScriptedServer {
  private readonly server: Server;
  private nextScript: { script: ServerScript; done: (record: ServerRecord) => void } | undefined;
  private readonly sockets = new Set<Socket>();
  /** Connections accepted so far. */
  connectionCount = 0;

  private constructor(server: Server) {
    this.server = server;
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      this.connectionCount++;
      socket.on('close', () => this.sockets.delete(socket));
      const next = this.nextScript;
      this.nextScript = undefined;
      if (next === undefined) {
        socket.destroy();
        return;
      }
      void play(socket, next.script).then(next.done);
    });
  }

  static async start(): Promise<ScriptedServer> {
    const server = createServer({ noDelay: true });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return new ScriptedServer(server);
  }

  get url(): string {
    const { port } = this.server.address() as AddressInfo;
    return `ws://127.0.0.1:${port}/scripted`;
  }

  /** Plays `script` to the next client that connects; resolves when that connection is gone. */
  expect(script: ServerScript): Promise<ServerRecord> {
    if (this.nextScript !== undefined) throw new Error('One script at a time');
    return new Promise((resolve) => {
      this.nextScript = { script, done: resolve };
    });
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Lets the client's event loop take what was written, so that chunks mostly arrive apart. */
function turn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 1));
}

async function play(socket: Socket, script: ServerScript): Promise<ServerRecord> {
  let input = Buffer.alloc(0);
  let headEnd = -1;
  let isGone = false;
  let wake: (() => void) | undefined;
  const changed = () => {
    const resume = wake;
    wake = undefined;
    resume?.();
  };
  socket.on('data', (chunk: Buffer) => {
    input = Buffer.concat([input, chunk]);
    if (headEnd === -1) headEnd = input.indexOf('\r\n\r\n');
    changed();
  });
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) =>
    socket.on('close', () => {
      isGone = true;
      changed();
      resolve();
    }),
  );
  socket.on('end', () => {
    // The client half-closed: finish our side too, as a server does once the client is done (§7.1.1).
    if (!socket.destroyed) socket.end();
  });
  const waitFor = async (condition: () => boolean) => {
    while (!condition() && !isGone) await new Promise<void>((resolve) => (wake = resolve));
  };
  const clientFrames = () => (headEnd === -1 ? [] : tokenizeFrames(input.subarray(headEnd + 4)));
  const writeChunks = async (bytes: Buffer) => {
    for (const chunk of splitChunks(bytes, script.splitter)) {
      if (isGone || socket.writableEnded) return;
      socket.write(chunk);
      await turn();
    }
  };

  await waitFor(() => headEnd !== -1);
  const head = headEnd === -1 ? '' : input.subarray(0, headEnd).toString('latin1');
  const lines = head.split('\r\n');
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon === -1) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
  }
  const key = headers.get('sec-websocket-key') ?? '';
  const request: ServerRecord['request'] = {
    requestLine: lines[0] ?? '',
    upgrade: headers.get('upgrade')?.toLowerCase(),
    // Header values compare case-insensitively (RFC 6455 §4.1: "Upgrade" is a token).
    connection: headers.get('connection')?.toLowerCase(),
    version: headers.get('sec-websocket-version'),
    protocols: headers.get('sec-websocket-protocol'),
    hasKey: key.length === 24,
  };

  const response = handshakeResponse(script.handshake, key);
  let hasSentClose = false;
  if (script.handshake.kind === 'refuse' || script.isEndAfterHandshake) {
    if (!isGone) socket.end(response);
  } else {
    let pending: Buffer | undefined = response;
    const steps = [...script.steps];
    if (!script.isFirstWriteWithHandshake || steps[0]?.kind !== 'write') {
      await writeChunks(pending);
      pending = undefined;
    }
    for (const step of steps) {
      if (isGone || socket.writableEnded) break;
      if (step.kind === 'write') {
        if (step.frames.some((frame) => frame.kind === 'close' || frame.kind === 'close-invalid-code')) {
          hasSentClose = true;
        }
        const frames = Buffer.concat(step.frames.map(encodeServerFrame));
        await writeChunks(pending === undefined ? frames : Buffer.concat([pending, frames]));
        pending = undefined;
      } else if (step.kind === 'await-client-frames') {
        await waitFor(() => clientFrames().filter((frame) => frame.isComplete).length >= step.count);
      } else {
        socket.end();
      }
    }
    // The script is over: answer the client's close frame, if it sends one, and end (RFC 6455 §7.1.1:
    // the server closes the TCP connection first).
    await waitFor(() => clientFrames().some((frame) => frame.opcode === 0x8 && frame.isComplete));
    if (!isGone && !socket.writableEnded) {
      const close = clientFrames().find((frame) => frame.opcode === 0x8 && frame.isComplete);
      if (close !== undefined && !hasSentClose) {
        // Echo the code only, as most servers do (§5.5.1).
        socket.write(
          encodeFrame({ isFinal: true, rsv: 0, opcode: 0x8, payload: close.payload.subarray(0, 2) }),
        );
      }
      socket.end();
    }
  }
  await closed;

  const frames = clientFrames();
  const complete = frames.filter((frame) => frame.isComplete);
  const lastEnd = complete.length === 0 ? 0 : complete[complete.length - 1]!.end;
  return {
    request,
    frames: complete.map((frame) => ({
      isFinal: frame.isFinal,
      rsv: frame.rsv,
      opcode: frame.opcode,
      hasMask: frame.hasMask,
      payload: describePayload(frame.opcode, frame.payload),
    })),
    trailingBytes: headEnd === -1 ? 0 : input.length - (headEnd + 4) - lastEnd,
  };
}

function describePayload(opcode: number, payload: Buffer): string {
  if (opcode === 0x1) return payload.toString('utf8');
  if (opcode === 0x8) {
    if (payload.length < 2) return payload.toString('hex');
    return `${payload.readUInt16BE(0)} ${payload.subarray(2).toString('utf8')}`;
  }
  return payload.toString('hex');
}

function handshakeResponse(reply: HandshakeReply, key: string): Buffer {
  const lines = ['HTTP/1.1 101 Switching Protocols'];
  switch (reply.kind) {
    case 'refuse': {
      const text = { 403: 'Forbidden', 404: 'Not Found', 500: 'Internal Server Error' }[reply.status];
      return Buffer.from(
        `HTTP/1.1 ${reply.status} ${text}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
      );
    }
    case 'accept':
      lines.push('Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${acceptFor(key)}`);
      if (reply.protocol !== undefined) lines.push(`Sec-WebSocket-Protocol: ${reply.protocol}`);
      break;
    case 'wrong-accept':
      lines.push(
        'Upgrade: websocket',
        'Connection: Upgrade',
        `Sec-WebSocket-Accept: ${acceptFor(`x${key}`)}`,
      );
      break;
    case 'missing-upgrade':
      lines.push('Connection: Upgrade', `Sec-WebSocket-Accept: ${acceptFor(key)}`);
      break;
    case 'unoffered-extension':
      lines.push(
        'Upgrade: websocket',
        'Connection: Upgrade',
        `Sec-WebSocket-Accept: ${acceptFor(key)}`,
        'Sec-WebSocket-Extensions: x-unoffered',
      );
      break;
  }
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}
