// permessage-deflate against ws for each parameter combination both can negotiate (RFC 7692 §7.1):
// several compressible messages each way, so context takeover (or its absence) is exercised.

import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket as WsClient, WebSocketServer as WsServer } from 'ws';
import { connect, type PerMessageDeflateOptions, type WebSocket, WebSocketServer } from '../../src/index.js';

const cleanups: (() => Promise<unknown> | undefined)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Parameter sets, written once and spelled the same in hybi's and ws's options. */
/** The parameters both libraries spell alike (ws's clientMaxWindowBits takes no `true`). */
type SharedParameters = Pick<
  PerMessageDeflateOptions,
  'serverNoContextTakeover' | 'clientNoContextTakeover' | 'serverMaxWindowBits'
> & { clientMaxWindowBits?: number };

const COMBINATIONS: { name: string; options: SharedParameters; expected: RegExp[] }[] = [
  { name: 'no parameters', options: {}, expected: [] },
  {
    name: 'server_no_context_takeover',
    options: { serverNoContextTakeover: true },
    expected: [/server_no_context_takeover/],
  },
  {
    name: 'client_no_context_takeover',
    options: { clientNoContextTakeover: true },
    expected: [/client_no_context_takeover/],
  },
  {
    name: 'server_max_window_bits=8',
    options: { serverMaxWindowBits: 8 },
    expected: [/server_max_window_bits=8/],
  },
  {
    name: 'server_max_window_bits=11',
    options: { serverMaxWindowBits: 11 },
    expected: [/server_max_window_bits=11/],
  },
  {
    name: 'client_max_window_bits=9',
    options: { clientMaxWindowBits: 9 },
    expected: [/client_max_window_bits=9/],
  },
  {
    name: 'all four, at 8 bits',
    options: {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 8,
      clientMaxWindowBits: 8,
    },
    expected: [
      /server_no_context_takeover/,
      /client_no_context_takeover/,
      /server_max_window_bits=8/,
      /client_max_window_bits=8/,
    ],
  },
];

/** Compressible, distinct messages: repeated JSON-like text and a patterned binary block. */
function messages(): (string | Buffer)[] {
  const list: (string | Buffer)[] = [];
  for (let index = 0; index < 4; index++) {
    list.push(
      JSON.stringify({
        index,
        items: Array.from({ length: 60 }, (_, item) => ({ item, name: `name-${item}` })),
      }),
    );
    list.push(Buffer.from(Array.from({ length: 3000 }, (_, byte) => (byte * (index + 1)) % 251)));
  }
  return list;
}

function same(received: unknown, sent: string | Buffer): boolean {
  if (typeof sent === 'string') return received === sent;
  return Buffer.isBuffer(received) && received.equals(sent);
}

describe('a ws client requesting each parameter set from a hybi server', () => {
  for (const { name, options, expected } of COMBINATIONS) {
    it(`negotiates ${name} and echoes compressed messages both ways`, async () => {
      const server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: { threshold: 0 } });
      cleanups.push(() => server.close());
      await once(server, 'listening');
      server.on('connection', (socket: WebSocket) =>
        socket.addEventListener('message', (event) => socket.send(event.data)),
      );
      const { port } = server.address() as AddressInfo;
      const client = new WsClient(`ws://127.0.0.1:${port}/`, {
        perMessageDeflate: { ...options, threshold: 0 },
      });
      cleanups.push(() => {
        client.terminate();
        return undefined;
      });
      // ws reports only extension names; the response header shows what hybi answered.
      const upgraded = once(client, 'upgrade');
      await once(client, 'open');
      const [response] = (await upgraded) as [{ headers: Record<string, string | undefined> }];
      const answered = response.headers['sec-websocket-extensions'] ?? '';
      expect(answered).toMatch(/^permessage-deflate/);
      for (const pattern of expected) expect(answered).toMatch(pattern);
      const sent = messages();
      const received: unknown[] = [];
      const done = new Promise<void>((resolve) =>
        client.on('message', (data, isBinary) => {
          received.push(isBinary ? data : data.toString());
          if (received.length === sent.length) resolve();
        }),
      );
      for (const message of sent) client.send(message, { binary: typeof message !== 'string' });
      await done;
      expect(received.every((data, index) => same(data, sent[index]!))).toBe(true);
    });
  }
});

describe('a hybi client requesting each parameter set from a ws server', () => {
  for (const { name, options, expected } of COMBINATIONS) {
    it(`negotiates ${name} and echoes compressed messages both ways`, async () => {
      const server = new WsServer({ port: 0, host: '127.0.0.1', perMessageDeflate: { threshold: 0 } });
      cleanups.push(
        () =>
          new Promise<void>((resolve) => {
            for (const peer of server.clients) peer.terminate();
            server.close(() => resolve());
          }),
      );
      await once(server, 'listening');
      server.on('connection', (peer) =>
        peer.on('message', (data, isBinary) => peer.send(data, { binary: isBinary })),
      );
      const { port } = server.address() as AddressInfo;
      const socket = await connect(`ws://127.0.0.1:${port}/`, {
        perMessageDeflate: { ...options, threshold: 0 },
      });
      cleanups.push(() => {
        if (socket.readyState === 3) return undefined;
        const closed = once(socket, 'close');
        socket.close();
        return closed;
      });
      for (const pattern of expected) expect(socket.extensions).toMatch(pattern);
      expect(socket.extensions).toMatch(/^permessage-deflate/);
      const sent = messages();
      const received: unknown[] = [];
      const done = new Promise<void>((resolve) =>
        socket.addEventListener('message', (event) => {
          received.push(event.data);
          if (received.length === sent.length) resolve();
        }),
      );
      for (const message of sent) socket.send(message);
      await done;
      expect(received.every((data, index) => same(data, sent[index]!))).toBe(true);
    });
  }
});
