// Topics on a hybi WebSocketServer over real sockets: subscribe, publish (from the server and from a
// socket, which is left out), unsubscribe, cleanup on close, the per-socket bound, and subscribers
// that are hybi or ws clients with and without permessage-deflate.

import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket as WsClient } from 'ws';
import {
  type Backplane,
  connect,
  WebSocket,
  type WebSocketCloseEvent,
  WebSocketServer,
} from '../../src/index.js';
import { encodeEnvelope } from '../../src/node/backplane-envelope.js';

const cleanups: (() => Promise<unknown> | undefined)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A server whose server-side sockets arrive in `accepted`, in connection order. */
async function startServer(options: ConstructorParameters<typeof WebSocketServer>[0] = {}) {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
  cleanups.push(() => server.close());
  await once(server, 'listening');
  const accepted: WebSocket[] = [];
  const waiting: ((socket: WebSocket) => void)[] = [];
  server.on('connection', (socket) => {
    accepted.push(socket);
    waiting.shift()?.(socket);
  });
  const { port } = server.address() as AddressInfo;
  const url = `ws://127.0.0.1:${port}/`;
  /** Opens a hybi client and resolves with both ends. */
  async function openPair(perMessageDeflate = false): Promise<{ client: WebSocket; peer: WebSocket }> {
    const arrival = new Promise<WebSocket>((resolve) => waiting.push(resolve));
    const client = await connect(url, { perMessageDeflate });
    cleanups.push(() => closeClient(client));
    return { client, peer: await arrival };
  }
  /** Opens a ws client and resolves with both ends. */
  async function openWsPair(perMessageDeflate: boolean): Promise<{ client: WsClient; peer: WebSocket }> {
    const arrival = new Promise<WebSocket>((resolve) => waiting.push(resolve));
    const client = new WsClient(url, { perMessageDeflate });
    cleanups.push(() => {
      if (client.readyState === WsClient.CLOSED) return undefined;
      const closed = once(client, 'close');
      client.close();
      return closed;
    });
    await once(client, 'open');
    return { client, peer: await arrival };
  }
  return { server, url, accepted, openPair, openWsPair };
}

function closeClient(socket: WebSocket): Promise<unknown> | undefined {
  if (socket.readyState === WebSocket.CLOSED) return undefined;
  const closed = once(socket, 'close');
  if (socket.readyState !== WebSocket.CLOSING) socket.close();
  return closed;
}

function nextData(socket: WebSocket): Promise<unknown> {
  return once(socket, 'message').then(([event]) => (event as MessageEvent).data);
}

/** Records every message a client receives, to prove after a ping round trip that one did not come. */
function recorder(socket: WebSocket): unknown[] {
  const seen: unknown[] = [];
  socket.addEventListener('message', (event) => seen.push(event.data));
  return seen;
}

describe('WebSocketServer topics', () => {
  it('publish reaches the subscribers of a topic only, framed as text or binary', async () => {
    const { server, openPair } = await startServer();
    const first = await openPair();
    const second = await openPair();
    const outsider = await openPair();
    expect(first.peer.subscribe('news')).toBe(true);
    expect(second.peer.subscribe('news')).toBe(true);
    expect(outsider.peer.subscribe('sport')).toBe(true);
    const outsiderSaw = recorder(outsider.client);
    expect(server.subscriberCount('news')).toBe(2);

    const texts = Promise.all([nextData(first.client), nextData(second.client)]);
    expect(server.publish('news', 'extra, extra')).toBe(2);
    expect(await texts).toEqual(['extra, extra', 'extra, extra']);

    const binaries = Promise.all([nextData(first.client), nextData(second.client)]);
    expect(server.publish('news', new Uint8Array([1, 2, 3]))).toBe(2);
    const received = (await binaries) as Buffer[];
    expect(received.map((data) => [...data])).toEqual([
      [1, 2, 3],
      [1, 2, 3],
    ]);
    // Had the outsider been sent either message, it would have arrived before the pong.
    expect(await outsider.client.ping()).toBe(true);
    expect(outsiderSaw).toEqual([]);
    expect(server.publish('nobody-here', 'lost')).toBe(0);
  });

  it("a socket's publish reaches every subscriber but the sender, subscribed or not", async () => {
    const { openPair } = await startServer();
    const sender = await openPair();
    const listener = await openPair();
    sender.peer.subscribe('room');
    listener.peer.subscribe('room');
    const senderSaw = recorder(sender.client);
    const arrival = nextData(listener.client);
    expect(sender.peer.publish('room', 'hello room')).toBe(1);
    expect(await arrival).toBe('hello room');
    expect(await sender.client.ping()).toBe(true);
    expect(senderSaw).toEqual([]);

    // A socket need not be subscribed to publish: it still reaches the subscribers.
    const unsubscribed = await openPair();
    const second = nextData(listener.client);
    expect(unsubscribed.peer.publish('room', 'from outside')).toBe(2);
    expect(await second).toBe('from outside');
  });

  it('unsubscribe, isSubscribed and topics report and change the subscriptions', async () => {
    const { server, openPair } = await startServer();
    const { client, peer } = await openPair();
    expect(peer.topics).toEqual([]);
    expect(peer.isSubscribed('a')).toBe(false);
    expect(peer.subscribe('a')).toBe(true);
    expect(peer.subscribe('b')).toBe(true);
    expect(peer.subscribe('a')).toBe(true);
    expect(peer.topics).toEqual(['a', 'b']);
    expect(peer.isSubscribed('a')).toBe(true);
    expect(peer.unsubscribe('a')).toBe(true);
    expect(peer.unsubscribe('a')).toBe(false);
    expect(peer.isSubscribed('a')).toBe(false);
    expect(peer.topics).toEqual(['b']);
    const seen = recorder(client);
    expect(server.publish('a', 'not for you')).toBe(0);
    expect(server.publish('b', 'for you')).toBe(1);
    await once(client, 'message');
    expect(await client.ping()).toBe(true);
    expect(seen).toEqual(['for you']);
    expect(() => peer.subscribe(42 as unknown as string)).toThrow(TypeError);
  });

  it('closing unsubscribes from every topic, and a closed socket cannot subscribe again', async () => {
    const { server, openPair } = await startServer();
    const leaving = await openPair();
    const staying = await openPair();
    leaving.peer.subscribe('x');
    leaving.peer.subscribe('y');
    staying.peer.subscribe('x');
    const peerClosed = once(leaving.peer, 'close');
    leaving.client.close(1000, 'bye');
    const [event] = (await peerClosed) as [WebSocketCloseEvent];
    expect(event.code).toBe(1000);
    expect(leaving.peer.topics).toEqual([]);
    expect(leaving.peer.isSubscribed('x')).toBe(false);
    expect(server.subscriberCount('x')).toBe(1);
    expect(server.subscriberCount('y')).toBe(0);
    expect(leaving.peer.subscribe('x')).toBe(false);
    expect(server.subscriberCount('x')).toBe(1);
    const arrival = nextData(staying.client);
    expect(server.publish('x', 'still here')).toBe(1);
    expect(await arrival).toBe('still here');
  });

  it('refuses a subscription beyond maxTopicsPerSocket with false, keeping the ones it has', async () => {
    const { server, openPair } = await startServer({ maxTopicsPerSocket: 2 });
    const { peer } = await openPair();
    expect(peer.subscribe('one')).toBe(true);
    expect(peer.subscribe('two')).toBe(true);
    expect(peer.subscribe('three')).toBe(false);
    expect(peer.subscribe('one')).toBe(true);
    expect(peer.topics).toEqual(['one', 'two']);
    expect(server.subscriberCount('three')).toBe(0);
    peer.unsubscribe('one');
    expect(peer.subscribe('three')).toBe(true);
    expect(() => new WebSocketServer({ noServer: true, maxTopicsPerSocket: 0 })).toThrow(RangeError);
  });

  it('a client-side socket has no topics: subscribe and publish throw TypeError', async () => {
    const { openPair } = await startServer();
    const { client } = await openPair();
    expect(() => client.subscribe('a')).toThrow(TypeError);
    expect(() => client.publish('a', 'x')).toThrow(TypeError);
    expect(client.isSubscribed('a')).toBe(false);
    expect(client.topics).toEqual([]);
  });

  it('reaches hybi and ws subscribers with and without permessage-deflate, compress: false too', async () => {
    const { server, openPair, openWsPair } = await startServer({ perMessageDeflate: true });
    const hybiPlain = await openPair(false);
    const hybiDeflate = await openPair(true);
    const wsPlain = await openWsPair(false);
    const wsDeflate = await openWsPair(true);
    expect(hybiDeflate.client.extensions).toContain('permessage-deflate');
    expect(wsDeflate.client.extensions).toContain('permessage-deflate');
    expect(hybiPlain.client.extensions).toBe('');
    const peers = [hybiPlain.peer, hybiDeflate.peer, wsPlain.peer, wsDeflate.peer];
    for (const peer of peers) peer.subscribe('compressible');
    const text = 'the same words again and again, '.repeat(200);
    for (const compress of [true, false]) {
      const arrivals = Promise.all([
        nextData(hybiPlain.client),
        nextData(hybiDeflate.client),
        once(wsPlain.client, 'message').then(([data]) => String(data)),
        once(wsDeflate.client, 'message').then(([data]) => String(data)),
      ]);
      expect(server.publish('compressible', text, { compress })).toBe(4);
      expect(await arrivals).toEqual([text, text, text, text]);
    }
    // A second compressed publish on the deflate connections, whose LZ77 windows now hold the first.
    const again = Promise.all([
      nextData(hybiDeflate.client),
      once(wsDeflate.client, 'message').then(([data]) => String(data)),
    ]);
    expect(hybiPlain.peer.publish('compressible', `${text}!`)).toBe(3);
    expect(await again).toEqual([`${text}!`, `${text}!`]);
  });
});

describe('WebSocketServer topics with a backplane', () => {
  /** A backplane that echoes each envelope to this process, as Redis does to a publisher. */
  function echoingBackplane() {
    let receive: ((envelope: Buffer) => void) | undefined;
    const sent: Buffer[] = [];
    const backplane: Backplane = {
      origin: 'this-process',
      send(envelope) {
        sent.push(envelope);
        receive?.(envelope);
      },
      open(deliver) {
        receive = deliver;
        return () => {
          receive = undefined;
        };
      },
    };
    return { backplane, sent, inject: (bytes: Buffer) => receive?.(bytes) };
  }

  it('sends each publish once, drops its own echo, delivers others, and reports a bad envelope', async () => {
    const { backplane, sent, inject } = echoingBackplane();
    const { server, openPair } = await startServer({ backplane });
    const { client, peer } = await openPair();
    peer.subscribe('room');
    const seen = recorder(client);
    expect(server.publish('room', 'mine')).toBe(1);
    expect(sent).toHaveLength(1);
    const other = encodeEnvelope({
      origin: 'another-process',
      sequence: 0,
      topic: 'room',
      opcode: 1,
      payload: Buffer.from('theirs'),
    });
    const arrivals = new Promise<void>((resolve) => {
      client.addEventListener('message', () => {
        if (seen.length === 2) resolve();
      });
    });
    inject(other);
    await arrivals;
    const reported = once(server, 'error');
    inject(Buffer.from([9, 9, 9]));
    const [error] = (await reported) as [Error];
    expect(error.message).toBe('A backplane envelope was refused: shorter than an envelope header');
    expect(await client.ping()).toBe(true);
    expect(seen).toEqual(['mine', 'theirs']);
  });
});
