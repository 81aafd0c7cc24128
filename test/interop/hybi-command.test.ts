// The `hybi` command, spawned as a user runs it: connect against listen (echo and broadcast), the exit
// statuses a script reads, --json lines, no colours off a terminal, and the conformance subcommand.

import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { shouldUseColor } from '../../src/cli/output.js';
import { connect } from '../../src/index.js';

const TSX = fileURLToPath(new URL('../../node_modules/tsx/dist/cli.mjs', import.meta.url));
const ENTRY = fileURLToPath(new URL('../../src/cli/hybi.ts', import.meta.url));

const children: ChildProcessWithoutNullStreams[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT');
      await once(child, 'exit');
    }
  }
});

/** A running `hybi ...`, its output read line by line. */
function hybi(args: string[]) {
  const child = spawn(process.execPath, [TSX, ENTRY, ...args], { env: { ...process.env, NO_COLOR: '' } });
  children.push(child);
  let stdout = '';
  let stderr = '';
  const waiters: { test: (line: string) => boolean; resolve: (line: string) => void }[] = [];
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    for (const line of chunk.split('\n')) {
      for (const waiter of [...waiters]) {
        if (waiter.test(line)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  return {
    child,
    /** The first line from now on that `test` accepts (lines already printed count too). */
    line(test: (line: string) => boolean): Promise<string> {
      const seen = stdout.split('\n').find(test);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve) => waiters.push({ test, resolve }));
    },
    async exit(): Promise<{ status: number | null; stdout: string; stderr: string }> {
      const [status] = (child.exitCode === null ? await once(child, 'exit') : [child.exitCode]) as [
        number | null,
      ];
      return { status, stdout, stderr };
    },
  };
}

function json(line: string): Record<string, unknown> {
  return JSON.parse(line) as Record<string, unknown>;
}

async function startListen(extra: string[] = []) {
  const server = hybi(['listen', '0', '--json', ...extra]);
  const listening = json(await server.line((line) => line.includes('"listening"')));
  return { server, port: listening.port as number };
}

describe('hybi connect against hybi listen', () => {
  it('sends typed lines as text, shows the echo, pings, sends binary as hex, and exits 0 on /close', async () => {
    const { server, port } = await startListen(['-s', 'chat']);
    const client = hybi(['connect', `ws://127.0.0.1:${port}/`, '--json', '-s', 'chat', '-H', 'X-Trace: 7']);
    const opened = json(await client.line((line) => line.includes('"open"')));
    expect(opened).toMatchObject({ direction: 'info', type: 'open', protocol: 'chat', extensions: '' });
    client.child.stdin.write('hello\n');
    expect(json(await client.line((line) => line.includes('"in"') && line.includes('"text"')))).toMatchObject(
      {
        direction: 'in',
        type: 'text',
        text: 'hello',
      },
    );
    client.child.stdin.write('/ping beat\n');
    expect(json(await client.line((line) => line.includes('"pong"')))).toMatchObject({
      direction: 'in',
      text: 'beat',
    });
    client.child.stdin.write('/binary 00ff10\n');
    expect(
      json(await client.line((line) => line.includes('"in"') && line.includes('"binary"'))),
    ).toMatchObject({
      length: 3,
      hex: '00ff10',
    });
    client.child.stdin.write('/close 1000 bye\n');
    const { status, stdout } = await client.exit();
    expect(status).toBe(0);
    expect(json(stdout.trim().split('\n').at(-1)!)).toMatchObject({
      type: 'close',
      code: 1000,
      reason: 'bye',
    });
    // The server printed the connection with its subprotocol, and the message.
    expect(json(await server.line((line) => line.includes('"connection"')))).toMatchObject({
      connection: 1,
      protocol: 'chat',
    });
    expect(json(await server.line((line) => line.includes('"in"')))).toMatchObject({
      connection: 1,
      text: 'hello',
    });
  });

  it('--broadcast sends each message to the other clients, and --deflate negotiates permessage-deflate', async () => {
    const { port } = await startListen(['--broadcast', '--deflate']);
    const first = await connect(`ws://127.0.0.1:${port}/`);
    const second = await connect(`ws://127.0.0.1:${port}/`);
    expect(first.extensions).toBe('permessage-deflate');
    const received = once(second, 'message') as Promise<[MessageEvent]>;
    first.send('to everyone else');
    expect((await received)[0].data).toBe('to everyone else');
    first.close();
    second.close();
    await Promise.all([once(first, 'close'), once(second, 'close')]);
  });

  it('prints plain lines with a time and a direction mark, and no colour codes off a terminal', async () => {
    const { port } = await startListen();
    const client = hybi(['connect', `ws://127.0.0.1:${port}/`]);
    await client.line((line) => line.includes('[open]'));
    client.child.stdin.write('plain\n');
    const echoed = await client.line((line) => / < plain$/.test(line));
    expect(echoed).toMatch(/^\d\d:\d\d:\d\d\.\d{3} < plain$/);
    client.child.stdin.end(); // end of input closes with 1000
    const { status, stdout } = await client.exit();
    expect(status).toBe(0);
    expect(stdout).toContain(' > plain\n');
    expect(stdout).not.toContain('\u001b[');
  });
});

describe('hybi connect in a script', () => {
  it('-w waits for the reply after the end of piped input, then closes with 1000', async () => {
    const { port } = await startListen();
    // The command itself waits the 2 s after its input ends (what -w is for); the reply takes milliseconds.
    const client = hybi(['connect', `ws://127.0.0.1:${port}/`, '-w', '2']);
    client.child.stdin.end('from a pipe\n');
    const { status, stdout } = await client.exit();
    expect(status).toBe(0);
    expect(stdout).toMatch(/ < from a pipe\n.* \* \[close 1000\]\n$/s);
  });
});

describe('exit statuses', () => {
  it('1 when nothing listens, with the reason on stderr', async () => {
    const probe = net.createServer().listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const { status, stderr } = await hybi(['connect', `ws://127.0.0.1:${port}/`]).exit();
    expect(status).toBe(1);
    expect(stderr).toContain(`ECONNREFUSED 127.0.0.1:${port}`);
  });

  it('1 when dropped before the handshake completes, 3 when an open connection closes with an error code', async () => {
    const sockets = new Set<net.Socket>();
    const dropping = net.createServer((socket) => {
      sockets.add(socket);
      socket.once('data', () => socket.destroy());
    });
    dropping.listen(0, '127.0.0.1');
    await once(dropping, 'listening');
    try {
      const { port } = dropping.address() as AddressInfo;
      // Dropped during the handshake: it never opened, so "could not connect".
      expect((await hybi(['connect', `ws://127.0.0.1:${port}/`]).exit()).status).toBe(1);
    } finally {
      await new Promise<void>((resolve) => dropping.close(() => resolve()));
    }
    const { port } = await startListen();
    const client = hybi(['connect', `ws://127.0.0.1:${port}/`, '--json']);
    await client.line((line) => line.includes('"open"'));
    client.child.stdin.write('/close 4000 custom\n');
    const { status } = await client.exit();
    expect(status).toBe(3);
  });

  it('2 for a usage error, naming it', async () => {
    const { status, stderr } = await hybi(['connect']).exit();
    expect(status).toBe(2);
    expect(stderr).toContain('connect needs a URL');
    expect((await hybi(['listen', 'eighty']).exit()).status).toBe(2);
    expect((await hybi(['connect', 'not a url']).exit()).stderr).toContain(
      'Invalid WebSocket URL: "not a url"',
    );
  });
});

describe('hybi conformance', () => {
  it('runs the conformance command as a subcommand', async () => {
    const { status, stdout } = await hybi(['conformance', 'list', '--cases', '1.1.1']).exit();
    expect(status).toBe(0);
    expect(stdout).toContain('1.1.1');
    expect(stdout).toContain('\n1 cases\n');
  });
});

describe('colours', () => {
  it('only on a terminal, never with NO_COLOR, never with --json', () => {
    expect(shouldUseColor(true, {}, false)).toBe(true);
    expect(shouldUseColor(false, {}, false)).toBe(false);
    expect(shouldUseColor(true, { NO_COLOR: '1' }, false)).toBe(false);
    expect(shouldUseColor(true, {}, true)).toBe(false);
  });
});
