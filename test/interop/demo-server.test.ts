// Owns the checks on the `npm start` demo: the page, the /chat broadcast, the /echo endpoint, 404s, shutdown.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RawData, WebSocket } from 'ws';
import { type DemoServer, startDemoServer } from '../../examples/demo-server.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium)
  console.warn(`demo page in Chromium skipped: ${CHROMIUM} is not installed (.ci/run installs it with apt)`);

interface ReceivedMessage {
  data: RawData;
  isBinary: boolean;
}

let demo: DemoServer;
let wsBase: string;
const openClients: WebSocket[] = [];

beforeAll(async () => {
  demo = await startDemoServer({ port: 0, host: '127.0.0.1' });
  wsBase = demo.url.replace(/^http:/, 'ws:');
});

afterEach(async () => {
  await Promise.all(openClients.splice(0).map(closeClient));
});

afterAll(async () => {
  await demo.close();
});

/** A ws client on `path`, opened, and closed again after the test. */
async function connect(path: string, base = wsBase): Promise<WebSocket> {
  const client = new WebSocket(`${base}${path}`);
  openClients.push(client);
  await once(client, 'open');
  return client;
}

async function closeClient(client: WebSocket): Promise<void> {
  if (client.readyState === WebSocket.CLOSED) return;
  const closed = once(client, 'close');
  if (client.readyState === WebSocket.CONNECTING) {
    client.on('error', () => {}); // terminating a handshake in flight reports an error; expected here
    client.terminate();
  } else {
    client.close(1000);
  }
  await closed;
}

/** The first message for which `matches` is true (listen before sending what provokes it). */
function nextMessage(
  client: WebSocket,
  matches: (message: ReceivedMessage) => boolean = () => true,
): Promise<ReceivedMessage> {
  return new Promise((resolve, reject) => {
    const onMessage = (data: RawData, isBinary: boolean): void => {
      if (!matches({ data, isBinary })) return;
      client.off('message', onMessage);
      client.off('close', onClose);
      resolve({ data, isBinary });
    };
    const onClose = (code: number): void => {
      client.off('message', onMessage);
      reject(new Error(`closed with ${code} before the expected message`));
    };
    client.on('message', onMessage);
    client.on('close', onClose);
  });
}

function chatEvent(message: ReceivedMessage): Record<string, unknown> {
  return JSON.parse(message.data.toString()) as Record<string, unknown>;
}

function chatMessageWithText(text: string): (message: ReceivedMessage) => boolean {
  return (message) => {
    const event = chatEvent(message);
    return event.type === 'message' && event.text === text;
  };
}

function bufferOf(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

describe('demo server page', () => {
  it('serves the chat page at / as 200 text/html using the browser WebSocket', async () => {
    const response = await fetch(demo.url);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const body = await response.text();
    expect(body).toContain('new WebSocket');
    expect(body).toContain('/chat');
  });
});

describe.skipIf(!hasChromium)('demo server page in Chromium (headless)', () => {
  it('fits a 375 px phone screen with Send on it, chats, and asks for nothing that answers 404', async () => {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
      ],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 375, height: 667 } });
      // Every failed load (the favicon's 404 among them) and every console error the page would show.
      const problems: string[] = [];
      page.on('response', (response) => {
        if (response.status() >= 400) problems.push(`${response.status()} ${response.url()}`);
      });
      page.on('requestfailed', (request) => problems.push(`failed ${request.url()}`));
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(`console: ${message.text()}`);
      });
      await page.goto(demo.url);
      // The page's own code runs in the browser, so these are written as expressions (no DOM types here).
      await page.waitForFunction("document.getElementById('status').dataset.state === 'open'");
      const text = 'a message typed on a narrow screen, long enough to wrap onto a second line';
      await page.fill('#text', text);
      await page.click('#send');
      await page.waitForFunction(
        `[...document.querySelectorAll('#messages li')].some((item) => item.textContent.endsWith(${JSON.stringify(text)}))`,
      );
      const layout = (await page.evaluate(`(() => {
        const send = document.getElementById('send').getBoundingClientRect();
        const root = document.documentElement;
        return { scrollWidth: root.scrollWidth, clientWidth: root.clientWidth, sendLeft: send.left, sendRight: send.right };
      })()`)) as { scrollWidth: number; clientWidth: number; sendLeft: number; sendRight: number };
      expect(layout.clientWidth).toBe(375);
      expect(layout.scrollWidth).toBe(375);
      expect(layout.sendLeft).toBeGreaterThanOrEqual(0);
      expect(layout.sendRight).toBeLessThanOrEqual(375);
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});

describe('demo server /chat', () => {
  it('broadcasts a message from one client to every client, the sender included', async () => {
    const ada = await connect('chat');
    const grace = await connect('chat');
    expect(ada.extensions).toContain('permessage-deflate');
    const text = 'hello from ada';
    const atAda = nextMessage(ada, chatMessageWithText(text));
    const atGrace = nextMessage(grace, chatMessageWithText(text));
    ada.send(JSON.stringify({ name: 'ada', text }));
    for (const received of await Promise.all([atAda, atGrace])) {
      expect(received.isBinary).toBe(false);
      expect(chatEvent(received)).toMatchObject({ type: 'message', name: 'ada', text });
    }
  });

  it('keeps broadcasting after a client vanishes without a closing handshake', async () => {
    const ada = await connect('chat');
    const grace = await connect('chat');
    // Its TCP connection ends with no close frame, as when a tab is killed: the others see it leave.
    const presenceAfterLeaving = nextMessage(ada, (message) => {
      const event = chatEvent(message);
      return event.type === 'presence' && event.online === 1;
    });
    grace.terminate();
    expect(chatEvent(await presenceAfterLeaving)).toEqual({ type: 'presence', online: 1 });
    const text = 'still here';
    const atAda = nextMessage(ada, chatMessageWithText(text));
    ada.send(JSON.stringify({ name: 'ada', text }));
    expect(chatEvent(await atAda)).toMatchObject({ type: 'message', name: 'ada', text });
  });
});

describe('demo server /echo', () => {
  it('echoes a text message as text', async () => {
    const client = await connect('echo');
    const echoed = nextMessage(client);
    client.send('héllo, echo');
    const received = await echoed;
    expect(received.isBinary).toBe(false);
    expect(received.data.toString()).toBe('héllo, echo');
  });

  it('echoes a binary message byte for byte, through permessage-deflate', async () => {
    const client = await connect('echo');
    expect(client.extensions).toContain('permessage-deflate');
    const payload = Buffer.alloc(100_000);
    for (let index = 0; index < payload.length; index++) payload[index] = (index * 31) & 0xff;
    const echoed = nextMessage(client);
    client.send(payload);
    const received = await echoed;
    expect(received.isBinary).toBe(true);
    expect(bufferOf(received.data).equals(payload)).toBe(true);
  });
});

describe('demo server upgrades elsewhere', () => {
  it('answers an upgrade to /nope with 404 and closes the connection', async () => {
    const { port } = new URL(demo.url);
    const upgrade = httpRequest({
      host: '127.0.0.1',
      port,
      path: '/nope',
      agent: false,
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
        'Sec-WebSocket-Version': '13',
      },
    });
    upgrade.end();
    const [response] = (await once(upgrade, 'response')) as [import('node:http').IncomingMessage];
    expect(response.statusCode).toBe(404);
    const socketClosed = once(response.socket, 'close');
    response.resume();
    await once(response, 'end');
    await socketClosed;
  });
});

describe('demo server shutdown', () => {
  it('closes every open WebSocket with 1001 and then stops listening', async () => {
    const other = await startDemoServer({ port: 0, host: '127.0.0.1' });
    const client = await connect('chat', other.url.replace(/^http:/, 'ws:'));
    const closed = once(client, 'close') as Promise<[number, Buffer]>;
    await other.close();
    const [code] = await closed;
    expect(code).toBe(1001);
    await expect(fetch(other.url)).rejects.toThrow();
  });
});

describe('npm start on a busy port', () => {
  it('exits 1 with a sentence that says to set PORT, not an unhandled error stack', async () => {
    const busyPort = new URL(demo.url).port;
    const tsx = fileURLToPath(new URL('../../node_modules/tsx/dist/cli.mjs', import.meta.url));
    const script = fileURLToPath(new URL('../../examples/demo-server.ts', import.meta.url));
    const child = spawn(process.execPath, [tsx, script], {
      env: { ...process.env, PORT: busyPort },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const [exitCode] = (await once(child, 'exit')) as [number | null];
    expect(exitCode).toBe(1);
    expect(stderr).toBe(
      `hybi demo: port ${busyPort} is in use; set PORT to another one (PORT=8081 npm start)\n`,
    );
  });
});
