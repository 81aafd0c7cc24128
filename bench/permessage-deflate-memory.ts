// Measures the memory an idle permessage-deflate server session holds after one message each way,
// with and without context takeover, beside ws's PerMessageDeflate doing the same.
// Run: node --expose-gc --import tsx bench/permessage-deflate-memory.ts [sessions]

import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import type { ExtensionMessage, ExtensionParams, ExtensionSession } from '../src/extensions/extension.js';
import { type PerMessageDeflateOptions, permessageDeflate } from '../src/extensions/permessage-deflate.js';
import { Opcode } from '../src/protocol/opcodes.js';

const sessionCount = Number(process.argv[2] ?? 1000);
const collectGarbage = (globalThis as { gc?: () => void }).gc;
if (collectGarbage === undefined) throw new Error('run with node --expose-gc');

interface WsPerMessageDeflate {
  accept(configurations: Record<string, unknown[]>[]): unknown;
  compress(data: Buffer, fin: boolean, callback: (error: Error | null, result?: Buffer) => void): void;
  decompress(data: Buffer, fin: boolean, callback: (error: Error | null, result?: Buffer) => void): void;
  cleanup(): void;
}
const { PerMessageDeflate } = createRequire(import.meta.url)('ws') as {
  PerMessageDeflate: new (options: Record<string, unknown>) => WsPerMessageDeflate;
};

/** 4 KiB of JSON, the kind of message compression is switched on for. */
const payload = Buffer.from(
  JSON.stringify(
    Array.from({ length: 40 }, (_unused, index) => ({ id: index, name: `user${index}`, score: index * 37 })),
  ).padEnd(4096, ' '),
);

function message(data: Buffer, rsv1: boolean): ExtensionMessage {
  return { rsv1, rsv2: false, rsv3: false, opcode: Opcode.Text, data };
}

function run(session: ExtensionSession, direction: 'in' | 'out', data: Buffer): Promise<ExtensionMessage> {
  return new Promise((resolve, reject) => {
    const callback = (error: Error | null, result?: ExtensionMessage) =>
      error ? reject(error) : resolve(result!);
    if (direction === 'in') session.processIncomingMessage(message(data, true), callback);
    else session.processOutgoingMessage(message(data, false), callback);
  });
}

function promised(call: (callback: (error: Error | null, result?: Buffer) => void) => void): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    call((error, result) => (error ? reject(error) : resolve(result!))),
  );
}

function snapshot(): { rss: number; external: number; heap: number } {
  collectGarbage!();
  collectGarbage!();
  const usage = process.memoryUsage();
  // external already includes arrayBuffers (Node Buffers).
  return { rss: usage.rss, external: usage.external, heap: usage.heapUsed };
}

async function measure(label: string, open: () => Promise<() => void>): Promise<void> {
  const closers: (() => void)[] = [];
  const before = snapshot();
  for (let index = 0; index < sessionCount; index++) closers.push(await open());
  await new Promise((resolve) => setImmediate(resolve));
  const after = snapshot();
  const perSession = (bytes: number) => `${(bytes / sessionCount / 1024).toFixed(1).padStart(6)} KiB`;
  console.log(
    `${label.padEnd(58)} rss ${perSession(after.rss - before.rss)}  external ${perSession(after.external - before.external)}  heap ${perSession(after.heap - before.heap)}`,
  );
  for (const close of closers) close();
  snapshot();
}

async function hybi(label: string, options: PerMessageDeflateOptions, offer: ExtensionParams): Promise<void> {
  const extension = permessageDeflate(options);
  // What the peer sends: the first message of a fresh deflater, readable by any fresh inflater.
  const peer = permessageDeflate({}).createServerSession([{}])!;
  const incoming = (await run(peer, 'out', payload)).data;
  peer.close();
  await measure(label, async () => {
    const session = extension.createServerSession([offer])!;
    await run(session, 'in', incoming);
    await run(session, 'out', payload);
    return () => session.close();
  });
}

async function ws(label: string, options: Record<string, unknown>): Promise<void> {
  const peer = new PerMessageDeflate({ isServer: true });
  peer.accept([{}]);
  const incoming = await promised((callback) => peer.compress(payload, true, callback));
  peer.cleanup();
  await measure(label, async () => {
    const session = new PerMessageDeflate({ isServer: true, ...options });
    // accept() normalizes the offer in place, so each session gets a fresh (empty) one.
    session.accept([{}]);
    await promised((callback) => session.decompress(incoming, true, callback));
    await promised((callback) => session.compress(payload, true, callback));
    return () => session.cleanup();
  });
}

/** Each configuration runs in a fresh process: freed zlib memory stays in the allocator and would hide the next one's. */
const configurations: Record<string, () => Promise<void>> = {
  'hybi, context takeover': () => hybi('hybi, context takeover', {}, {}),
  'hybi, no_context_takeover both ways': () =>
    hybi(
      'hybi, no_context_takeover both ways',
      { serverNoContextTakeover: true, clientNoContextTakeover: true },
      {},
    ),
  'hybi, context takeover, 10 window bits both ways': () =>
    hybi(
      'hybi, context takeover, 10 window bits both ways',
      { serverMaxWindowBits: 10, clientMaxWindowBits: 10 },
      { client_max_window_bits: true },
    ),
  'ws, context takeover': () => ws('ws, context takeover', {}),
  'ws, no_context_takeover both ways (reset, kept)': () =>
    ws('ws, no_context_takeover both ways (reset, kept)', {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
    }),
};

const only = process.argv[3];
if (only !== undefined) {
  await configurations[only]?.();
} else {
  console.log(
    `${sessionCount} idle server sessions, each after one 4 KiB message in and one out (Node ${process.version})`,
  );
  for (const name of Object.keys(configurations)) {
    execFileSync(process.execPath, [...process.execArgv, process.argv[1]!, String(sessionCount), name], {
      stdio: 'inherit',
    });
  }
}
