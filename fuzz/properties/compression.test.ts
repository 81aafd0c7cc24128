// Owns the permessage-deflate properties: any messages under any negotiable parameters round-trip between
// hybi and hybi and between hybi and ws, and inflating any DEFLATE stream stays within maxLength.

import { constants as zlibConstants } from 'node:zlib';
import fc from 'fast-check';
import { expect } from 'vitest';
import type {
  ClientExtensionSession,
  ExtensionMessage,
  ExtensionParams,
  ExtensionSession,
  ServerExtensionSession,
} from '../../src/extensions/extension.js';
import { PerMessageDeflateSession, permessageDeflate } from '../../src/extensions/permessage-deflate.js';
import { ProtocolError } from '../../src/protocol/errors.js';
import { parseExtensionHeader, serializeExtensionHeader } from '../../src/protocol/extension-header.js';
import {
  type DeflateParameterSet,
  deflateParameterSetArbitrary,
  deflatePayloadArbitrary,
} from '../arbitraries/deflate.js';
import { type Message, messageArbitrary, messageBytes } from '../arbitraries/messages.js';
import { fuzzTest } from '../support/settings.js';
import { requireWsModule } from '../support/ws-modules.js';

/** The part of ws's PerMessageDeflate (ws/lib/permessage-deflate.js) the properties use. */
interface WsPerMessageDeflate {
  offer(): Record<string, true | number>;
  accept(configurations: Record<string, (string | true)[]>[]): Record<string, unknown>;
  compress(data: Buffer, isFinal: boolean, callback: (error: Error | null, result?: Buffer) => void): void;
  decompress(data: Buffer, isFinal: boolean, callback: (error: Error | null, result?: Buffer) => void): void;
  cleanup(): void;
}
type WsPerMessageDeflateConstructor = new (
  options: DeflateParameterSet & { isServer: boolean; maxPayload: number; threshold: number },
) => WsPerMessageDeflate;
interface WsExtensionModule {
  parse(header: string): Record<string, Record<string, (string | true)[]>[]>;
  format(extensions: Record<string, Record<string, true | number | string>[]>): string;
}

const WsPerMessageDeflate = requireWsModule('permessage-deflate') as WsPerMessageDeflateConstructor;
const wsExtension = requireWsModule('extension') as WsExtensionModule;

const NAME = 'permessage-deflate';
const MAX_LENGTH = 8 * 1024 * 1024;

function toMessage(message: Message): ExtensionMessage {
  return {
    rsv1: false,
    rsv2: false,
    rsv3: false,
    opcode: message.type === 'text' ? 1 : 2,
    data: Buffer.from(messageBytes(message)),
  };
}

function process(
  session: ExtensionSession,
  direction: 'processIncomingMessage' | 'processOutgoingMessage',
  message: ExtensionMessage,
): Promise<ExtensionMessage> {
  return new Promise((resolve, reject) => {
    session[direction](message, (error, result) =>
      error === null && result !== undefined ? resolve(result) : reject(error),
    );
  });
}

function wsCall(
  deflate: WsPerMessageDeflate,
  method: 'compress' | 'decompress',
  data: Buffer,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    deflate[method](data, true, (error, result) =>
      error === null && result !== undefined ? resolve(result) : reject(error),
    );
  });
}

/** `value`, which the extension's API types as nullable but these inputs never make null. */
function present<T>(value: T | null, what: string): T {
  if (value === null) throw new Error(`${what} was null`);
  return value;
}

/** A Sec-WebSocket-Extensions header carried through hybi's writer and reader, as the handshake does. */
function throughHeader(params: ExtensionParams): ExtensionParams[] {
  const parsed = parseExtensionHeader(serializeExtensionHeader([{ name: NAME, params }]));
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.offers.map((offer) => offer.params);
}

/** hybi's options: the parameter set plus a compression level and a threshold that sometimes skips compression. */
const hybiOptionsArbitrary = fc.record({
  parameters: deflateParameterSetArbitrary(),
  level: fc.integer({ min: -1, max: 9 }),
  memLevel: fc.integer({ min: 1, max: 9 }),
  threshold: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 200 })),
});

const messagesArbitrary = fc.array(
  messageArbitrary({ maxLength: 400, maxLargeLength: 200 * 1024, largeWeight: 1 }),
  {
    minLength: 1,
    maxLength: 6,
  },
);

fuzzTest(
  'compression: messages under every negotiable parameter set round-trip hybi ↔ hybi, both directions',
  { runs: 120, file: import.meta.url },
  () =>
    fc.asyncProperty(
      hybiOptionsArbitrary,
      hybiOptionsArbitrary,
      messagesArbitrary,
      async (clientOptions, serverOptions, messages) => {
        const { parameters: clientParameters, ...clientRest } = clientOptions;
        const { parameters: serverParameters, ...serverRest } = serverOptions;
        const client = present(
          permessageDeflate({ ...clientParameters, ...clientRest }).createClientSession({
            maxLength: MAX_LENGTH,
          }),
          'the client session',
        );
        const offer = client.generateOffer();
        const offers = throughHeader(Array.isArray(offer) ? offer[0]! : offer);
        const server = permessageDeflate({ ...serverParameters, ...serverRest }).createServerSession(offers, {
          maxLength: MAX_LENGTH,
        });
        // RFC 7692 §5: a server may decline, but hybi's client only offers what hybi's server accepts.
        expect(server).not.toBeNull();
        const session = server as ServerExtensionSession;
        expect(client.activate(throughHeader(session.generateResponse())[0]!)).toBe(true);
        try {
          for (const message of messages) {
            for (const [sender, receiver] of [
              [client, session],
              [session, client],
            ] as const) {
              const sent = await process(sender, 'processOutgoingMessage', toMessage(message));
              const received = await process(receiver, 'processIncomingMessage', sent);
              expect(received.data.equals(messageBytes(message))).toBe(true);
              expect(received.opcode).toBe(toMessage(message).opcode);
            }
          }
        } finally {
          client.close();
          session.close();
        }
      },
    ),
);

/** ws's options for a parameter set: hybi's names, with `false` left out (ws reads an explicit false as "refuse"). */
function wsOptions(
  parameters: DeflateParameterSet,
  isServer: boolean,
): ConstructorParameters<WsPerMessageDeflateConstructor>[0] {
  const options: ConstructorParameters<WsPerMessageDeflateConstructor>[0] = {
    isServer,
    maxPayload: 0,
    threshold: 0,
  };
  if (parameters.serverNoContextTakeover === true) options.serverNoContextTakeover = true;
  if (parameters.clientNoContextTakeover === true) options.clientNoContextTakeover = true;
  if (parameters.serverMaxWindowBits !== undefined)
    options.serverMaxWindowBits = parameters.serverMaxWindowBits;
  if (parameters.clientMaxWindowBits !== undefined)
    options.clientMaxWindowBits = parameters.clientMaxWindowBits;
  return options;
}

/** Moves every message both ways between a hybi session and ws's PerMessageDeflate. */
async function exchange(
  hybiSession: ExtensionSession,
  ws: WsPerMessageDeflate,
  messages: readonly Message[],
): Promise<void> {
  for (const message of messages) {
    const bytes = Buffer.from(messageBytes(message));
    const fromHybi = await process(hybiSession, 'processOutgoingMessage', toMessage(message));
    const inflatedByWs = fromHybi.rsv1 ? await wsCall(ws, 'decompress', fromHybi.data) : fromHybi.data;
    expect(inflatedByWs.equals(bytes)).toBe(true);
    const fromWs = await wsCall(ws, 'compress', bytes);
    const inflatedByHybi = await process(hybiSession, 'processIncomingMessage', {
      ...toMessage(message),
      rsv1: true,
      data: fromWs,
    });
    expect(inflatedByHybi.data.equals(bytes)).toBe(true);
  }
}

fuzzTest(
  'compression: messages round-trip between a hybi server and a ws client under every parameter set',
  { runs: 120, file: import.meta.url },
  () =>
    fc.asyncProperty(
      hybiOptionsArbitrary,
      deflateParameterSetArbitrary(),
      messagesArbitrary,
      async (serverOptions, wsParameters, messages) => {
        const { parameters, ...rest } = serverOptions;
        const ws = new WsPerMessageDeflate(wsOptions(wsParameters, false));
        const header = wsExtension.format({ [NAME]: [ws.offer()] });
        const offers = parseExtensionHeader(header);
        expect(offers.ok).toBe(true);
        if (!offers.ok) return;
        const server = permessageDeflate({ ...parameters, ...rest }).createServerSession(
          offers.offers.map((offer) => offer.params),
          { maxLength: MAX_LENGTH },
        );
        expect(server).not.toBeNull();
        const session = server as ServerExtensionSession;
        const response = serializeExtensionHeader([{ name: NAME, params: session.generateResponse() }]);
        // ws may still refuse a response RFC 7692 allows; that refusal is listed in fuzz/README.md.
        ws.accept(wsExtension.parse(response)[NAME]!);
        try {
          await exchange(session, ws, messages);
        } finally {
          session.close();
          ws.cleanup();
        }
      },
    ),
);

fuzzTest(
  'compression: messages round-trip between a hybi client and a ws server under every parameter set',
  { runs: 120, file: import.meta.url },
  () =>
    fc.asyncProperty(
      hybiOptionsArbitrary,
      deflateParameterSetArbitrary(),
      messagesArbitrary,
      async (clientOptions, wsParameters, messages) => {
        const { parameters, ...rest } = clientOptions;
        const client: ClientExtensionSession = present(
          permessageDeflate({ ...parameters, ...rest }).createClientSession({ maxLength: MAX_LENGTH }),
          'the client session',
        );
        const offer = client.generateOffer();
        const ws = new WsPerMessageDeflate(wsOptions(wsParameters, true));
        let accepted: Record<string, unknown>;
        try {
          accepted = ws.accept(
            wsExtension.parse(
              serializeExtensionHeader([{ name: NAME, params: Array.isArray(offer) ? offer[0]! : offer }]),
            )[NAME]!,
          );
        } catch (error) {
          // RFC 7692 §5: a server may decline an offer; ws declines one asking for less than it is configured to use.
          expect(String(error)).toContain('None of the extension offers can be accepted');
          client.close();
          return;
        }
        const response = wsExtension.format({ [NAME]: [accepted as Record<string, true | number>] });
        const parsed = parseExtensionHeader(response);
        expect(parsed.ok).toBe(true);
        if (!parsed.ok) return;
        expect(client.activate(parsed.offers[0]!.params)).toBe(true);
        try {
          await exchange(client, ws, messages);
        } finally {
          client.close();
          ws.cleanup();
        }
      },
    ),
);

fuzzTest(
  'compression: inflating any DEFLATE payload either yields at most maxLength bytes or fails with 1007 or 1009, within one chunk of the limit',
  { runs: 300, file: import.meta.url },
  () =>
    fc.asyncProperty(
      fc.integer({ min: 0, max: 64 * 1024 }),
      deflatePayloadArbitrary(),
      deflateParameterSetArbitrary(),
      async (maxLength, payload, parameters) => {
        const session = permessageDeflate(parameters).createServerSession([{}], { maxLength });
        if (!(session instanceof PerMessageDeflateSession))
          throw new Error('expected a PerMessageDeflateSession');
        const message: ExtensionMessage = {
          rsv1: true,
          rsv2: false,
          rsv3: false,
          opcode: 2,
          data: Buffer.from(payload.compressed),
        };
        let outcome: { ok: true; data: Buffer } | { ok: false; code: number | undefined };
        try {
          outcome = { ok: true, data: (await process(session, 'processIncomingMessage', message)).data };
        } catch (error) {
          outcome = { ok: false, code: error instanceof ProtocolError ? error.closeCode : undefined };
        } finally {
          session.close();
        }
        // The bound on a decompression bomb: zlib output stops within one chunk past maxLength.
        expect(session.totalInflatedBytes).toBeLessThanOrEqual(maxLength + zlibConstants.Z_DEFAULT_CHUNK);
        if (outcome.ok) {
          expect(outcome.data.length).toBeLessThanOrEqual(maxLength);
          if (payload.kind === 'valid') expect(outcome.data.equals(payload.data)).toBe(true);
          if (payload.kind === 'bomb') expect(payload.inflatedLength).toBeLessThanOrEqual(maxLength);
        } else {
          expect([1007, 1009]).toContain(outcome.code);
          if (payload.kind === 'valid' || payload.kind === 'bomb') {
            expect(outcome.code).toBe(1009);
            expect(payload.kind === 'valid' ? payload.data.length : payload.inflatedLength).toBeGreaterThan(
              maxLength,
            );
          }
        }
      },
    ),
);
