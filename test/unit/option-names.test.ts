// Unknown option names fail loudly on every entry point, naming the nearest valid one; a WebSocketServer
// told neither where to listen nor what to attach to is an error, not a server that never serves.

import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  acceptSocket,
  acceptUpgrade,
  attachHttp2,
  client,
  connect,
  connectAny,
  connectHttp2,
  http as httpDriver,
  validateOptions,
  WebSocket,
  WebSocketServer,
} from '../../src/index.js';

/** Options with a misspelt name, typed as the caller's mistake would be. */
function misspelt<T>(options: Record<string, unknown>): T {
  return options as T;
}

describe('unknown option names', () => {
  it('WebSocketServer throws TypeError naming the typo and the option meant', () => {
    expect(() => new WebSocketServer(misspelt({ port: 0, perMesageDeflate: true }))).toThrow(
      /^Unrecognized option: perMesageDeflate \(did you mean perMessageDeflate\?\)/,
    );
    expect(() => new WebSocketServer(misspelt({ port: 0, perMesageDeflate: true }))).toThrow(TypeError);
  });

  it('connect() rejects with TypeError before dialing', async () => {
    // Nothing listens on this port: a dial would fail with ECONNREFUSED instead.
    const attempt = connect('ws://127.0.0.1:1/', misspelt({ handshakeTimout: 1 }));
    await expect(attempt).rejects.toThrow(TypeError);
    await expect(attempt).rejects.toThrow(
      'Unrecognized option: handshakeTimout (did you mean handshakeTimeout?)',
    );
  });

  it('connect() with http2, connectAny() and connectHttp2() reject the same way', async () => {
    const options = misspelt<Parameters<typeof connectAny>[1]>({
      http2: 'prefer',
      rejectUnauthorised: false,
    });
    for (const attempt of [
      connect('wss://127.0.0.1:1/', options),
      connectAny('wss://127.0.0.1:1/', options),
      connectHttp2('wss://127.0.0.1:1/', misspelt({ rejectUnauthorised: false })),
    ]) {
      await expect(attempt).rejects.toThrow(
        /^Unrecognized option: rejectUnauthorised \(did you mean rejectUnauthorized\?\)/,
      );
    }
  });

  it('new WebSocket() throws TypeError (not the SyntaxError of a bad URL)', () => {
    let thrown: unknown;
    try {
      new WebSocket('ws://127.0.0.1:1/', [], misspelt({ protocol: 'chat' }));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(TypeError);
    expect((thrown as Error).message).toMatch(/^Unrecognized option: protocol \(did you mean protocols\?\)/);
  });

  it('acceptUpgrade(), acceptSocket() and attachHttp2() throw at once', () => {
    const socket = new net.Socket();
    const request = new http.IncomingMessage(socket);
    expect(() => acceptUpgrade(request, socket, Buffer.alloc(0), misspelt({ maxLenght: 1 }))).toThrow(
      /did you mean maxLength\?/,
    );
    expect(() => acceptSocket(socket, misspelt({ origin: ['https://a.example'] }))).toThrow(
      /did you mean origins\?/,
    );
    const server = http2.createServer();
    expect(() => attachHttp2(server, misspelt({ paht: '/chat' }))).toThrow(/did you mean path\?/);
    socket.destroy();
  });

  it('names no option when nothing valid is near', () => {
    expect(() => new WebSocketServer(misspelt({ port: 0, colour: 'blue' }))).toThrow(
      /^Unrecognized option: colour; the options are protocols, /,
    );
  });

  it("the driver API keeps websocket-driver's message and adds the hint", () => {
    expect(() => httpDriver(new http.IncomingMessage(new net.Socket()), misspelt({ maxLenght: 10 }))).toThrow(
      'Unrecognized option: maxLenght (did you mean maxLength?)',
    );
    expect(() => client('ws://example.com/', misspelt({ header: {} }))).toThrow(/did you mean headers\?/);
    expect(() => validateOptions({ lenght: 1 }, ['length'])).toThrow(TypeError);
  });
});

describe('WebSocketServer needs somewhere to serve', () => {
  it('throws TypeError for {} and says to pass port, server or noServer', () => {
    expect(() => new WebSocketServer({})).toThrow(
      'WebSocketServer takes one of port (to listen on), server (to attach to its upgrades) or noServer: true',
    );
    expect(() => new WebSocketServer()).toThrow(TypeError);
  });

  it('throws TypeError for more than one of them', () => {
    const server = http.createServer();
    expect(() => new WebSocketServer({ port: 0, server })).toThrow(/takes only one of port/);
    expect(() => new WebSocketServer({ noServer: true, server })).toThrow(/takes only one of port/);
  });

  it('throws TypeError for host without port', () => {
    expect(() => new WebSocketServer({ noServer: true, host: '127.0.0.1' })).toThrow(/host goes with port/);
  });
});

describe('a URL that does not parse', () => {
  it('names the URL given: the driver, connect() and new WebSocket()', async () => {
    expect(() => client('ws//localhost:8080/chat')).toThrow(
      'Invalid WebSocket URL: "ws//localhost:8080/chat"',
    );
    await expect(connect('http://[::1/')).rejects.toThrow('Invalid WebSocket URL: "http://[::1/"');
    let thrown: unknown;
    try {
      new WebSocket('ws://exa mple.com/');
    } catch (error) {
      thrown = error;
    }
    // WHATWG WebSocket constructor, step 2: a URL that does not parse is a SyntaxError DOMException.
    expect((thrown as DOMException).name).toBe('SyntaxError');
    expect((thrown as DOMException).message).toBe(
      'Invalid WebSocket URL: "ws://exa mple.com/" (expected ws://host[:port]/path)',
    );
  });

  it('says a proxy URL is not one without repeating it (it may carry a password)', async () => {
    await expect(connect('ws://127.0.0.1:1/', { proxy: '//user:secret@proxy:3128' })).rejects.toThrow(
      'The proxy option is not a URL; give one like http://proxy.local:3128',
    );
  });
});
