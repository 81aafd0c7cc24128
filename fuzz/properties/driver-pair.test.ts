// Owns the driver-pair property: a hybi client driver and a raw-socket hybi server driver wired to each
// other (synchronously, as in-memory pipes do, or a tick apart, as sockets do), with or without
// permessage-deflate, deliver every message each side sends, in the order it was sent, then close once each.

import fc from 'fast-check';
import { expect } from 'vitest';
import * as hybi from '../../src/index.js';
import { type ChunkSplitter, chunkSplitterArbitrary, splitChunks } from '../arbitraries/chunks.js';
import { validCloseCodeArbitrary } from '../arbitraries/close.js';
import { deflateParameterSetArbitrary } from '../arbitraries/deflate.js';
import { type Message, messageArbitrary } from '../arbitraries/messages.js';
import { hex } from '../support/outcome.js';
import { fuzzTest } from '../support/settings.js';

interface PairScenario {
  /** Sent by the client as soon as it opens. */
  opening: Message[];
  /** The server echoes message i when echoes[i % length] is true; the client answers echo i with follow-up i, if any. */
  echoes: boolean[];
  followUps: Message[];
  closeCode: number;
  /** The client closes after this many echoes (modulo the total + 1), so that messages may be in flight. */
  closeAfter: number;
  wiring: 'synchronous' | 'next tick';
  toServer: ChunkSplitter;
  toClient: ChunkSplitter;
  /**
   * The transport is cut, both ways: after this many echoes (modulo the total + 1), or right after the
   * client starts closing (while the server may still be waiting to reply), or never.
   */
  abort: { afterEchoes: number } | 'with the close' | undefined;
  /** Both ends use permessage-deflate with these parameters (threshold 0), or neither. */
  deflate: { client: hybi.PerMessageDeflateOptions; server: hybi.PerMessageDeflateOptions } | undefined;
}

function describe(data: string | Buffer | Uint8Array): string {
  return typeof data === 'string' ? `text ${JSON.stringify(data)}` : `binary ${hex(data)}`;
}

/**
 * Sends `message` and logs it in `sent`, logging first: with synchronous wiring the peer may receive it, and
 * answer, before the send call returns.
 */
function sendMessage(driver: hybi.Driver, message: Message, sent: string[]): void {
  sent.push(describe(message.data));
  const isSent = message.type === 'text' ? driver.text(message.data) : driver.binary(message.data);
  if (!isSent) sent.splice(sent.lastIndexOf(describe(message.data)), 1);
}

/** Connects `from`'s output to `to`'s input, cut by `splitter`, now or on the next turn of the event loop. */
function wire(
  from: hybi.Driver,
  to: hybi.Driver,
  splitter: ChunkSplitter,
  wiring: PairScenario['wiring'],
): void {
  from.io.on('data', (chunk: Buffer) => {
    const chunks = splitChunks(chunk, splitter);
    if (wiring === 'synchronous') {
      for (const part of chunks) to.io.write(part);
    } else {
      setImmediate(() => {
        for (const part of chunks) to.io.write(part);
      });
    }
  });
}

/** Whether the server echoes the `index`-th message it receives. */
function isEchoed(scenario: PairScenario, index: number): boolean {
  return scenario.echoes.length > 0 && scenario.echoes[index % scenario.echoes.length] === true;
}

/**
 * How many echoes the client will receive in all: the server echoes by its rule, and every echo the client
 * receives makes it send the next follow-up, if any is left.
 */
function totalEchoes(scenario: PairScenario): number {
  let sent = scenario.opening.length;
  let followUps = 0;
  let echoes = 0;
  for (let index = 0; index < sent; index++) {
    if (!isEchoed(scenario, index)) continue;
    echoes++;
    if (followUps < scenario.followUps.length) {
      followUps++;
      sent++;
    }
  }
  return echoes;
}

async function runPair(scenario: PairScenario): Promise<void> {
  const echoCount = totalEchoes(scenario);
  const closeAfterEchoes = scenario.closeAfter % (echoCount + 1);
  const abort = scenario.abort;
  const abortAfterEchoes = typeof abort === 'object' ? abort.afterEchoes % (echoCount + 1) : undefined;
  const deflate = scenario.deflate;
  const server = hybi.server(
    deflate === undefined ? {} : { perMessageDeflate: { ...deflate.server, threshold: 0 } },
  );
  const client = hybi.client(
    'ws://example.com/',
    deflate === undefined ? {} : { perMessageDeflate: { ...deflate.client, threshold: 0 } },
  );
  const sentByClient: string[] = [];
  const sentByServer: string[] = [];
  const receivedByServer: string[] = [];
  const receivedByClient: string[] = [];
  const closes: string[] = [];
  const errors: string[] = [];
  let serverCount = 0;
  const isClosed = { client: false, server: false };
  const finished = new Promise<void>((resolve) => {
    const onClose = (side: 'client' | 'server') => (event: hybi.CloseEvent) => {
      if (isClosed[side]) errors.push(`${side}: a second close`);
      isClosed[side] = true;
      closes.push(`${side} ${event.code}`);
      if (closes.length === 2) resolve();
    };
    server.on('close', onClose('server'));
    client.on('close', onClose('client'));
  });
  // Nothing may be written once a side has reported its close.
  server.io.on('data', () => {
    if (isClosed.server) errors.push('server: wrote after close');
  });
  client.io.on('data', () => {
    if (isClosed.client) errors.push('client: wrote after close');
  });
  const cutTransport = (): void => {
    client.io.end();
    server.io.end();
  };
  const close = (): void => {
    client.close('done', scenario.closeCode);
    if (abort === 'with the close') cutTransport();
  };
  server.on('error', (error) => errors.push(`server: ${error.message}`));
  client.on('error', (error) => errors.push(`client: ${error.message}`));
  server.on('message', (event) => {
    receivedByServer.push(describe(event.data));
    if (isEchoed(scenario, serverCount++)) {
      const echo: Message =
        typeof event.data === 'string'
          ? { type: 'text', data: event.data }
          : { type: 'binary', data: event.data };
      sendMessage(server, echo, sentByServer);
    }
  });
  client.on('message', (event) => {
    // Counted on entry: with synchronous wiring, the follow-up's echo may arrive before this listener returns.
    const count = receivedByClient.push(describe(event.data));
    const followUp = scenario.followUps[count - 1];
    if (followUp !== undefined) sendMessage(client, followUp, sentByClient);
    if (count === closeAfterEchoes) close();
    if (count === abortAfterEchoes) cutTransport();
  });
  client.on('open', () => {
    // With synchronous wiring these reach the server while it is still writing its 101, so it holds them
    // (they once were reordered: test/regress/held-input-reordered-by-reentrant-write.test.ts).
    for (const message of scenario.opening) sendMessage(client, message, sentByClient);
    if (closeAfterEchoes === 0) close();
    if (abortAfterEchoes === 0) cutTransport();
  });
  wire(client, server, scenario.toServer, scenario.wiring);
  wire(server, client, scenario.toClient, scenario.wiring);
  server.start();
  client.start();

  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), 5000);
  });
  const outcome = await Promise.race([finished.then(() => 'done' as const), timedOut]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    // Let the run end cleanly, then report what was seen.
    client.io.end();
    server.io.end();
  }
  expect({ outcome, errors }).toEqual({ outcome: 'done', errors: [] });
  if (abort !== undefined) {
    // A cut transport: what arrived is what was sent, in order, up to the cut; each side closes once, with
    // the client's code if the closing handshake got through and 1006 if not (RFC 6455 §7.1.5).
    expect(receivedByServer).toEqual(sentByClient.slice(0, receivedByServer.length));
    expect(receivedByClient).toEqual(sentByServer.slice(0, receivedByClient.length));
    for (const entry of closes)
      expect([`${entry.split(' ')[0]} ${scenario.closeCode}`, `${entry.split(' ')[0]} 1006`]).toContain(
        entry,
      );
    return;
  }
  // RFC 6455 §5.4 and TCP order: each side gets the other's messages exactly as they were sent.
  expect(receivedByServer).toEqual(sentByClient);
  // With permessage-deflate too: a message still being compressed when the peer's close arrives is written
  // before the close reply (it once was dropped: test/regress/deflate-message-dropped-by-close-reply.test.ts).
  expect(receivedByClient).toEqual(sentByServer);
  // RFC 6455 §5.5.1: the server echoes the client's code; each side reports one close.
  expect(closes.sort()).toEqual([`client ${scenario.closeCode}`, `server ${scenario.closeCode}`]);
}

const deflateOptionsArbitrary = deflateParameterSetArbitrary().map(
  (parameters): hybi.PerMessageDeflateOptions => {
    const options: hybi.PerMessageDeflateOptions = {};
    if (parameters.serverNoContextTakeover !== undefined)
      options.serverNoContextTakeover = parameters.serverNoContextTakeover;
    if (parameters.clientNoContextTakeover !== undefined)
      options.clientNoContextTakeover = parameters.clientNoContextTakeover;
    if (parameters.serverMaxWindowBits !== undefined)
      options.serverMaxWindowBits = parameters.serverMaxWindowBits;
    if (parameters.clientMaxWindowBits !== undefined)
      options.clientMaxWindowBits = parameters.clientMaxWindowBits;
    return options;
  },
);

const scenarioArbitrary: fc.Arbitrary<PairScenario> = fc.record({
  opening: fc.array(messageArbitrary({ maxLength: 60 }), { maxLength: 5 }),
  echoes: fc.array(fc.boolean(), { maxLength: 4 }),
  followUps: fc.array(messageArbitrary({ maxLength: 60 }), { maxLength: 4 }),
  closeCode: validCloseCodeArbitrary(),
  closeAfter: fc.nat(),
  abort: fc.oneof(
    { weight: 3, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.record({ afterEchoes: fc.nat() }) },
    { weight: 1, arbitrary: fc.constant('with the close' as const) },
  ),
  wiring: fc.constantFrom<PairScenario['wiring']>('synchronous', 'next tick'),
  toServer: chunkSplitterArbitrary(),
  toClient: chunkSplitterArbitrary(),
  deflate: fc.option(fc.record({ client: deflateOptionsArbitrary, server: deflateOptionsArbitrary }), {
    nil: undefined,
  }),
});

fuzzTest(
  'driver pair: every message arrives once, in the order sent, both ways, then one close each with the code echoed (or 1006 when the transport is cut)',
  { runs: 400, file: import.meta.url },
  () => fc.asyncProperty(scenarioArbitrary, runPair),
);
