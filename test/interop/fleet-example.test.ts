// Runs examples/fleet briefly, as a newcomer would: a fleet of 2 node:cluster workers where a room's
// message reaches clients on both workers; and, with a redis-server, two fleets sharing rooms through it.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type WebSocket } from '../../src/index.js';
import { freePort, hasRedisServer, REDIS_SERVER, RedisServer } from '../support/redis-server.js';

const EXAMPLE = fileURLToPath(new URL('../../examples/fleet/server.ts', import.meta.url));

interface Fleet {
  process: ChildProcess;
  port: number;
}

/** Starts the example and resolves once its primary says every worker listens. */
async function startFleet(environment: Record<string, string>): Promise<Fleet> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', EXAMPLE], {
    env: { ...process.env, PORT: String(port), ...environment },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      if (!output.includes('listening on')) return;
      child.stdout?.off('data', onData);
      child.stdout?.resume();
      resolve();
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`the fleet exited with ${code}: ${output}`)));
  });
  return { process: child, port };
}

/** SIGTERM, as Ctrl-C or a process manager would: the primary closes its workers and exits 0. */
async function stopFleet(fleet: Fleet): Promise<number | null> {
  if (fleet.process.exitCode !== null) return fleet.process.exitCode;
  const exited = once(fleet.process, 'exit') as Promise<[number | null]>;
  fleet.process.kill('SIGTERM');
  const [code] = await exited;
  return code;
}

interface ChatMessage {
  type: string;
  worker?: string;
  room?: string;
  text?: string;
}

/** A chat client: its messages, and a way to await the next one `accepts` takes. */
class ChatClient {
  readonly received: ChatMessage[] = [];
  private waiter: (() => void) | undefined;

  private constructor(readonly socket: WebSocket) {
    socket.addEventListener('message', (event) => {
      this.received.push(JSON.parse(String(event.data)) as ChatMessage);
      this.waiter?.();
    });
  }

  static async open(port: number): Promise<ChatClient> {
    const client = new ChatClient(await connect(`ws://127.0.0.1:${port}/chat`));
    await client.next((message) => message.type === 'welcome');
    return client;
  }

  get worker(): string | undefined {
    return this.received.find((message) => message.type === 'welcome')?.worker;
  }

  next(accepts: (message: ChatMessage) => boolean, from = 0): Promise<ChatMessage> {
    return new Promise((resolve) => {
      const check = (): void => {
        const found = this.received.slice(from).find(accepts);
        if (found === undefined) return;
        this.waiter = undefined;
        resolve(found);
      };
      this.waiter = check;
      check();
    });
  }

  async join(room: string): Promise<void> {
    const from = this.received.length;
    this.socket.send(JSON.stringify({ type: 'join', room }));
    await this.next((message) => message.type === 'joined' && message.room === room, from);
  }

  say(room: string, text: string): void {
    this.socket.send(JSON.stringify({ type: 'say', room, text }));
  }

  messages(room: string): string[] {
    return this.received
      .filter((message) => message.type === 'message' && message.room === room)
      .map((message) => message.text ?? '');
  }

  async close(): Promise<void> {
    if (this.socket.readyState === 3) return;
    const closed = once(this.socket, 'close');
    this.socket.close();
    await closed;
  }
}

describe('examples/fleet over node:cluster', () => {
  let fleet: Fleet;
  const clients: ChatClient[] = [];

  beforeAll(async () => {
    fleet = await startFleet({ WORKERS: '2' });
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    expect(await stopFleet(fleet)).toBe(0);
  });

  it('a message said in a room reaches its members on both workers once, and not other rooms', async () => {
    // The primary hands connections to the workers in turn: a few are enough to have both.
    while (clients.length < 8 && new Set(clients.map((client) => client.worker)).size < 2) {
      clients.push(await ChatClient.open(fleet.port));
    }
    const first = clients[0]!;
    const other = clients.find((client) => client.worker !== first.worker);
    expect(other).toBeDefined();
    const elsewhere = clients.find((client) => client !== first && client !== other);
    await first.join('lobby');
    await other!.join('lobby');
    if (elsewhere !== undefined) await elsewhere.join('kitchen');
    const atOther = other!.next((message) => message.type === 'message' && message.text === 'bye');
    first.say('lobby', 'hello');
    first.say('lobby', 'bye');
    await atOther;
    await first.next((message) => message.type === 'message' && message.text === 'bye');
    expect(other!.messages('lobby')).toEqual(['hello', 'bye']);
    expect(first.messages('lobby')).toEqual(['hello', 'bye']);
    expect(elsewhere?.messages('lobby') ?? []).toEqual([]);
  });
});

if (!hasRedisServer) {
  console.warn(`examples/fleet over Redis skipped: ${REDIS_SERVER} is absent (apt-get install redis-server)`);
}

describe.skipIf(!hasRedisServer)('examples/fleet across two fleets through Redis', () => {
  let redis: RedisServer;
  const fleets: Fleet[] = [];
  const clients: ChatClient[] = [];

  beforeAll(async () => {
    redis = new RedisServer(await freePort());
    await redis.start();
    const environment = { WORKERS: '1', REDIS_URL: `redis://127.0.0.1:${redis.port}` };
    fleets.push(...(await Promise.all([startFleet(environment), startFleet(environment)])));
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    for (const fleet of fleets) expect(await stopFleet(fleet)).toBe(0);
    await redis.stop();
  });

  it('a message said on one fleet reaches the room on the other', async () => {
    const [onFirst, onSecond] = await Promise.all(fleets.map((fleet) => ChatClient.open(fleet.port)));
    clients.push(onFirst!, onSecond!);
    await onFirst!.join('lobby');
    await onSecond!.join('lobby');
    const arrived = onSecond!.next((message) => message.type === 'message' && message.text === 'across');
    onFirst!.say('lobby', 'across');
    expect((await arrived).worker).toBe(onFirst!.worker);
    await onFirst!.next((message) => message.type === 'message' && message.text === 'across');
    expect(onFirst!.messages('lobby')).toEqual(['across']);
    expect(onSecond!.messages('lobby')).toEqual(['across']);
  });
});
