// Owns the scenarios of the WebSocket-class differential: what the scripted server does and what the client
// calls when, as data; a fast-check arbitrary over them and the named cases every run covers.

import fc from 'fast-check';
import type { ChunkSplitter } from '../arbitraries/chunks.js';
import type { HandshakeReply, ServerFrame, ServerScript, ServerStep } from './scripted-server.js';
import type { ClientAction, ClientPlan, SendData } from './websocket-player.js';

/**
 * `established`: the handshake succeeds; `refused`: the client must refuse the server's response;
 * `abandoned`: the client calls close() before the handshake completes.
 */
export type ScenarioShape = 'established' | 'refused' | 'abandoned';

export interface WebSocketScenario {
  shape: ScenarioShape;
  script: ServerScript;
  plan: ClientPlan;
}

/** The frames that break RFC 6455, with the close code a client fails the connection with (§7.4.1). */
export const PROTOCOL_ERROR_CODES = {
  'bad-rsv': 1002,
  'bad-opcode': 1002,
  'invalid-utf8': 1007,
  'close-invalid-code': 1002,
  'masked-text': 1002,
} as const satisfies Record<string, number>;

export type ProtocolErrorKind = keyof typeof PROTOCOL_ERROR_CODES;

export function isProtocolError(
  frame: ServerFrame,
): frame is Extract<ServerFrame, { kind: ProtocolErrorKind }> {
  return frame.kind in PROTOCOL_ERROR_CODES;
}

/** WHATWG close() argument checks, written from the standard: the outcome a call must have. */
export function closeArgumentOutcome(code: number | undefined, reason: string | undefined): string {
  if (code !== undefined) {
    const clamped = clampUnsignedShort(code);
    if (clamped !== 1000 && (clamped < 3000 || clamped > 4999)) return 'InvalidAccessError';
  }
  // USVString: lone surrogates become U+FFFD (3 bytes), as Buffer.byteLength counts them.
  if (reason !== undefined && Buffer.byteLength(reason, 'utf8') > 123) return 'SyntaxError';
  return 'ok';
}

/** WebIDL [Clamp] unsigned short: clamp to 0-65535, round half to even. */
function clampUnsignedShort(value: number): number {
  if (Number.isNaN(value)) return 0;
  const clamped = Math.min(Math.max(value, 0), 0xffff);
  const floor = Math.floor(clamped);
  const fraction = clamped - floor;
  if (fraction !== 0.5) return Math.round(clamped);
  return floor % 2 === 0 ? floor : floor + 1;
}

/** The UTF-8 byte length of what send() was given. */
export function sendByteLength(data: SendData): number {
  return data.type === 'text' ? Buffer.byteLength(data.text, 'utf8') : data.bytes.length;
}

// --- the arbitrary ----------------------------------------------------------------------------

/** Chunkings of the server's writes: few chunks (each is a turn of the event loop apart), cuts anywhere. */
function splitterArbitrary(): fc.Arbitrary<ChunkSplitter> {
  return fc.oneof(
    fc.constant<ChunkSplitter>({ kind: 'whole' }),
    fc.constantFrom(1, 2, 3, 7, 13).map((size): ChunkSplitter => ({ kind: 'sizes', sizes: [size, 1000] })),
    fc
      .array(fc.nat(), { minLength: 1, maxLength: 5 })
      .map((offsets): ChunkSplitter => ({ kind: 'cuts', offsets })),
  );
}

const textArbitrary = fc.oneof(
  fc.constantFrom('', 'hello', 'héllo wörld', '€uro', '😀 astral', '\ud800 lone'),
  fc.string({ unit: 'binary', maxLength: 20 }),
);
const bytesArbitrary = fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 12 });

function sendDataArbitrary(withBlob: boolean): fc.Arbitrary<SendData> {
  const binaryTypes: ('arraybuffer' | 'uint8array' | 'dataview' | 'blob')[] = [
    'arraybuffer',
    'uint8array',
    'dataview',
  ];
  if (withBlob) binaryTypes.push('blob');
  return fc.oneof(
    textArbitrary.map((text): SendData => ({ type: 'text', text })),
    fc.record({ type: fc.constantFrom(...binaryTypes), bytes: bytesArbitrary }),
  );
}

const invalidCloseCodes = [0, 999, 1001, 1005, 1006, 1015, 2999, 5000, 65535, -1, 70000, Number.NaN];
const validCloseCodes = [1000, 3000, 4000, 4999, 1000.5, 3000.4];
const longReasons = ['x'.repeat(124), '€'.repeat(42), '\ud800'.repeat(42)];
const validReasons = ['', 'bye', 'é'.repeat(61)];

const validCloseArbitrary: fc.Arbitrary<ClientAction> = fc.record({
  kind: fc.constant('close' as const),
  code: fc.option(fc.constantFrom(...validCloseCodes), { nil: undefined }),
  reason: fc.option(fc.constantFrom(...validReasons), { nil: undefined }),
});

const invalidCloseArbitrary: fc.Arbitrary<ClientAction> = fc.oneof(
  fc.record({
    kind: fc.constant('close' as const),
    code: fc.constantFrom(...invalidCloseCodes),
    reason: fc.option(fc.constantFrom(...validReasons), { nil: undefined }),
  }),
  fc.record({
    kind: fc.constant('close' as const),
    code: fc.option(fc.constantFrom(...validCloseCodes), { nil: undefined }),
    reason: fc.constantFrom(...longReasons),
  }),
);

const binaryTypeArbitrary: fc.Arbitrary<ClientAction> = fc.record({
  kind: fc.constant('set-binary-type' as const),
  value: fc.constantFrom('blob', 'arraybuffer', 'nodebuffer', 'bogus', ''),
});

function actionArbitrary(withBlob: boolean): fc.Arbitrary<ClientAction> {
  return fc.oneof(
    {
      weight: 4,
      arbitrary: sendDataArbitrary(withBlob).map((data): ClientAction => ({ kind: 'send', data })),
    },
    { weight: 1, arbitrary: invalidCloseArbitrary },
    { weight: 1, arbitrary: binaryTypeArbitrary },
  );
}

const dataFrameArbitrary: fc.Arbitrary<ServerFrame> = fc.oneof(
  { weight: 3, arbitrary: textArbitrary.map((text): ServerFrame => ({ kind: 'text', text })) },
  { weight: 3, arbitrary: bytesArbitrary.map((bytes): ServerFrame => ({ kind: 'binary', bytes })) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('fragmented-text' as const),
      text: textArbitrary,
      cut: fc.nat({ max: 30 }),
      pingBetween: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: bytesArbitrary.map((bytes): ServerFrame => ({ kind: 'ping', bytes })) },
  { weight: 1, arbitrary: bytesArbitrary.map((bytes): ServerFrame => ({ kind: 'pong', bytes })) },
);

const protocolErrorArbitrary: fc.Arbitrary<ServerFrame> = fc.oneof(
  fc.constant<ServerFrame>({ kind: 'bad-rsv' }),
  fc.constantFrom(3, 7, 11, 15).map((opcode): ServerFrame => ({ kind: 'bad-opcode', opcode: opcode as 3 })),
  fc.constant<ServerFrame>({ kind: 'invalid-utf8' }),
  fc
    .constantFrom(0, 1005, 1006, 2999, 5000)
    .map((code): ServerFrame => ({ kind: 'close-invalid-code', code })),
  fc.constant<ServerFrame>({ kind: 'masked-text', text: 'masked' }),
);

/** How the conversation ends. */
type Ending =
  | { kind: 'server-close'; code: number | undefined; reason: string | undefined }
  | { kind: 'server-end' }
  | { kind: 'protocol-error'; frame: ServerFrame }
  | { kind: 'client-close'; action: ClientAction };

const endingArbitrary: fc.Arbitrary<Ending> = fc.oneof(
  fc
    .record({
      kind: fc.constant('server-close' as const),
      code: fc.option(fc.constantFrom(1000, 1001, 1011, 3000, 4999), { nil: undefined }),
      reason: fc.constantFrom('', 'server done', 'ü'),
    })
    .map((ending) => (ending.code === undefined ? { ...ending, reason: undefined } : ending)),
  fc.constant<Ending>({ kind: 'server-end' }),
  protocolErrorArbitrary.map((frame): Ending => ({ kind: 'protocol-error', frame })),
  validCloseArbitrary.map((action): Ending => ({ kind: 'client-close', action })),
);

/** Subprotocols offered and selected: the ones that succeed. */
const agreedProtocolsArbitrary: fc.Arbitrary<{
  offered: string[] | undefined;
  selected: string | undefined;
}> = fc.oneof(
  fc.constant({ offered: undefined, selected: undefined }),
  fc.constant({ offered: [] as string[], selected: undefined }),
  fc
    .constantFrom<string[][]>(['chat'], ['chat', 'superchat'], ['v2.json', 'chat'])
    .chain((offered: string[]) =>
      fc
        .constantFrom(...offered)
        .map((selected: string) => ({ offered, selected: selected as string | undefined })),
    ),
);

function refusedArbitrary(): fc.Arbitrary<WebSocketScenario> {
  const replies: fc.Arbitrary<{ handshake: HandshakeReply; offered: string[] | undefined }>[] = [
    fc.constantFrom(403, 404, 500).map((status) => ({
      handshake: { kind: 'refuse', status } as HandshakeReply,
      offered: undefined,
    })),
    fc
      .constantFrom<HandshakeReply>(
        { kind: 'wrong-accept' },
        { kind: 'missing-upgrade' },
        { kind: 'unoffered-extension' },
      )
      .map((handshake) => ({ handshake, offered: undefined })),
    // RFC 6455 §4.1: a subprotocol the client did not offer.
    fc.constant({ handshake: { kind: 'accept', protocol: 'other' } as HandshakeReply, offered: ['chat'] }),
    fc.constant({ handshake: { kind: 'accept', protocol: 'chat' } as HandshakeReply, offered: undefined }),
  ];
  // WHATWG "establish a WebSocket connection": protocols offered and none selected fails too.
  replies.push(fc.constant({ handshake: { kind: 'accept' } as HandshakeReply, offered: ['chat'] }));
  return fc
    .record({
      reply: fc.oneof(...replies),
      binaryType: fc.option(fc.constantFrom('blob', 'arraybuffer'), { nil: undefined }),
      atStart: fc.array(
        sendDataArbitrary(true).map((data): ClientAction => ({ kind: 'send', data })),
        { maxLength: 2 },
      ),
      onClose: fc.array(actionArbitrary(true), { maxLength: 2 }),
      splitter: splitterArbitrary(),
    })
    .map(({ reply, binaryType, atStart, onClose, splitter }) => ({
      shape: 'refused' as const,
      script: {
        handshake: reply.handshake,
        isFirstWriteWithHandshake: false,
        isEndAfterHandshake: true,
        steps: [],
        splitter,
      },
      plan: { protocols: reply.offered, binaryType, atStart, onOpen: [], onMessage: [], onClose },
    }));
}

function abandonedArbitrary(): fc.Arbitrary<WebSocketScenario> {
  return fc
    .record({
      close: fc.oneof(validCloseArbitrary, invalidCloseArbitrary),
      after: fc.array(fc.oneof(actionArbitrary(true), validCloseArbitrary), { maxLength: 3 }),
      onClose: fc.array(actionArbitrary(true), { maxLength: 2 }),
    })
    .map(({ close, after, onClose }) => ({
      shape: 'abandoned' as const,
      script: {
        handshake: { kind: 'accept' } as HandshakeReply,
        isFirstWriteWithHandshake: false,
        isEndAfterHandshake: false,
        steps: [],
        splitter: { kind: 'whole' } as ChunkSplitter,
      },
      // A valid close() first, so that the attempt is abandoned; what follows runs while CLOSING.
      plan: {
        protocols: undefined,
        binaryType: undefined,
        atStart: [close, { kind: 'close' }, ...after] as ClientAction[],
        onOpen: [],
        onMessage: [],
        onClose,
      },
    }));
}

function isValidClose(action: ClientAction): boolean {
  return action.kind === 'close' && closeArgumentOutcome(action.code, action.reason) === 'ok';
}

function establishedArbitrary(): fc.Arbitrary<WebSocketScenario> {
  return fc
    .record({
      protocols: agreedProtocolsArbitrary,
      binaryType: fc.option(fc.constantFrom('blob', 'arraybuffer'), { nil: undefined }),
      onOpen: fc.array(actionArbitrary(true), { maxLength: 3 }),
      writes: fc.array(fc.array(dataFrameArbitrary, { maxLength: 3 }), { minLength: 1, maxLength: 3 }),
      ending: endingArbitrary,
      isEndingWithLastWrite: fc.boolean(),
      isFirstWriteWithHandshake: fc.boolean(),
      onMessage: fc.array(fc.array(fc.oneof(actionArbitrary(false), validCloseArbitrary), { maxLength: 2 }), {
        maxLength: 8,
      }),
      onClose: fc.array(actionArbitrary(true), { maxLength: 2 }),
      splitter: splitterArbitrary(),
    })
    .map((drawn) => {
      const onOpen = [...drawn.onOpen];
      const hasBlob = onOpen.some((action) => action.kind === 'send' && action.data.type === 'blob');
      // A Blob is read asynchronously: the server waits for what the 'open' handler sent before it writes,
      // so that no server frame races the Blob (and close() never follows a Blob in the same handler:
      // Node's client then writes the Blob after its close frame).
      const openSends = onOpen.filter((action) => action.kind === 'send').length;
      const steps: ServerStep[] = hasBlob ? [{ kind: 'await-client-frames', count: openSends }] : [];
      const writes = drawn.writes.map((frames) => [...frames]);
      const ending = drawn.ending;
      let endingFrame: ServerFrame | undefined;
      if (ending.kind === 'server-close')
        endingFrame = { kind: 'close', code: ending.code, reason: ending.reason };
      else if (ending.kind === 'protocol-error') endingFrame = ending.frame;
      if (endingFrame !== undefined) {
        if (drawn.isEndingWithLastWrite) writes[writes.length - 1]!.push(endingFrame);
        else writes.push([endingFrame]);
      }
      for (const frames of writes) steps.push({ kind: 'write', frames });
      // After its close frame the server waits for the client's (the script's end does), then ends TCP.
      if (ending.kind === 'server-end') steps.push({ kind: 'end' });

      // Messages the client will see: the data frames, in order (fragmented text is one message).
      const messageWrites: number[] = [];
      writes.forEach((frames, writeIndex) => {
        for (const frame of frames) {
          if (frame.kind === 'text' || frame.kind === 'binary' || frame.kind === 'fragmented-text') {
            messageWrites.push(writeIndex);
          }
        }
      });
      const onMessage = messageWrites.map((_, index) => [...(drawn.onMessage[index] ?? [])]);
      const isFirstWriteWithHandshake = drawn.isFirstWriteWithHandshake && !hasBlob;
      if (ending.kind === 'client-close') {
        // The client ends it: at the last message, or in 'open' when none comes.
        const last = onMessage.length - 1;
        if (last >= 0) {
          onMessage[last]!.push(ending.action);
        } else if (!hasBlob) {
          onOpen.push(ending.action);
        } else {
          onMessage.length = 0;
          steps.push({ kind: 'end' });
        }
      }
      // Never close() after a Blob in 'open' (see above).
      const openActions = hasBlob ? onOpen.filter((action) => !isValidClose(action)) : onOpen;
      return {
        shape: 'established' as const,
        script: {
          handshake: { kind: 'accept', protocol: drawn.protocols.selected } as HandshakeReply,
          isFirstWriteWithHandshake,
          isEndAfterHandshake: false,
          steps,
          splitter: drawn.splitter,
        },
        plan: {
          protocols: drawn.protocols.offered,
          binaryType: drawn.binaryType,
          atStart: [],
          onOpen: openActions,
          onMessage,
          onClose: drawn.onClose,
        },
      };
    });
}

/** Any scenario: most of them established, some refused, a few abandoned. */
export function webSocketScenarioArbitrary(): fc.Arbitrary<WebSocketScenario> {
  return fc.oneof(
    { weight: 6, arbitrary: establishedArbitrary() },
    { weight: 2, arbitrary: refusedArbitrary() },
    { weight: 1, arbitrary: abandonedArbitrary() },
  );
}
