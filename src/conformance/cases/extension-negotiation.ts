// Owns category 14, hybi's own permessage-deflate cases (RFC 7692): offers a server must decline or answer
// exactly (14.1), compressed frames both sides must handle or refuse (14.2), and responses a client must
// refuse (14.3).

import {
  answersThenClosesNormally,
  binary,
  type CaseContext,
  CLOSE_INVALID_PAYLOAD,
  CLOSE_PROTOCOL_ERROR,
  type CompressionSetup,
  type ConformanceCase,
  defineCase,
  type Expectation,
  failsConnection,
  text,
} from '../case.js';
import { setHeader } from '../handshake.js';
import { describeExpectation, describeObservation, type Judgement, judge } from '../judge.js';
import type { Observation } from '../observation.js';
import { CLIENT_FAILS_AT_HANDSHAKE, judgeClientRefusal, PROBE } from './handshake.js';

export const EXTENSION_SUBCATEGORIES: Readonly<Record<string, string>> = {
  '14.1': 'permessage-deflate offers a server must decline or answer exactly (RFC 7692 §7)',
  '14.2': 'Compressed frames (RFC 7692 §6, §7.2)',
  '14.3': 'permessage-deflate responses a client must refuse (RFC 7692 §7)',
};

const DEFAULT_OFFER = 'permessage-deflate; client_max_window_bits';
const PLAIN_ACCEPT = [{ requestNoContextTakeover: false, requestMaxWindowBits: 0 }];
const REQUIRED: CompressionSetup = { offer: DEFAULT_OFFER, accept: PLAIN_ACCEPT, isRequired: true };
const GREETING = 'Hello, permessage-deflate!';
/** Compressible text whose repeats lie ~1.5 KiB apart: a window of 1 KiB (10 bits) cannot reach them. */
const FAR_REPEATS = (() => {
  const unit = Buffer.alloc(1536);
  for (let index = 0; index < unit.length; index++) unit[index] = 0x61 + ((index * 7919) % 26);
  return Buffer.concat([unit, unit, unit, unit]).toString('latin1');
})();

/**
 * RFC 7692 §7: the server must decline the offer. Declining (101 without permessage-deflate) is OK; the
 * default judge then also checks the echo. Refusing the whole handshake is NON-STRICT: harsher than the
 * RFC asks. Accepting the offer shows up as a handshake problem and fails.
 */
function judgeDecline(observation: Observation, expectation: Expectation): Judgement {
  const handshake = observation.handshake;
  if (handshake !== undefined && (handshake.outcome === 'refused' || handshake.outcome === 'dropped')) {
    const reason = `the server ${handshake.outcome === 'refused' ? `refused the handshake (HTTP ${handshake.status})` : 'dropped the connection'} instead of declining the offer and accepting the connection (RFC 7692 §7)`;
    return {
      verdict: 'NON-STRICT',
      reason,
      details: [reason],
      expected: describeExpectation(expectation),
      observed: describeObservation(observation),
    };
  }
  return judge(observation, expectation);
}

export function extensionNegotiationCases(): ConformanceCase[] {
  const mustDecline = (id: string, offer: string, why: string): ConformanceCase =>
    defineCase({
      id,
      appliesTo: 'servers',
      description: `Offer "${offer}", then send a text message.`,
      expectation: `The server declines the offer (${why}): 101 without permessage-deflate, and the message is echoed uncompressed.`,
      references: ['RFC 7692 §7', 'RFC 7692 §7.1'],
      compression: { offer, accept: PLAIN_ACCEPT, isRequired: false },
      expect: answersThenClosesNormally(text(GREETING)),
      judge: judgeDecline,
      run: (context) => context.send({ opcode: 0x1, payload: GREETING }),
    });
  const mayAccept = (id: string, offer: string, what: string): ConformanceCase =>
    defineCase({
      id,
      appliesTo: 'servers',
      description: `Offer "${offer}" (${what}), then send a compressed text message if permessage-deflate was agreed, an uncompressed one if not.`,
      expectation:
        'The server accepts with a response valid for the offer, or declines; either way the message is echoed.',
      references: ['RFC 7692 §7', 'RFC 6455 §9.1'],
      compression: { offer, accept: PLAIN_ACCEPT, isRequired: false },
      expect: answersThenClosesNormally(text(GREETING)),
      judge: judgeDecline,
      run: (context) => context.sendMessage(GREETING),
    });
  const clientMustRefuse = (
    id: string,
    description: string,
    header: (offer: string | undefined) => string,
  ): ConformanceCase =>
    defineCase({
      id,
      appliesTo: 'clients',
      description: `Answer 101 with ${description}. Then send a text message (the probe).`,
      expectation:
        'The client fails the connection (RFC 7692 §7: a client MUST fail on such a response): it closes TCP without echoing the probe.',
      references: ['RFC 7692 §7', 'RFC 7692 §7.1'],
      expect: CLIENT_FAILS_AT_HANDSHAKE,
      handshake: {
        response: (draft, request) =>
          setHeader(draft.headers, 'Sec-WebSocket-Extensions', header(request.extensionOffer)),
      },
      judge: judgeClientRefusal,
      run: (context) => context.send({ opcode: 0x1, payload: PROBE }),
    });
  /** Frame-level cases that need permessage-deflate agreed; UNIMPLEMENTED without it. */
  const compressed = (
    id: string,
    description: string,
    expectation: string,
    references: string[],
    expect: Expectation,
    run: (context: CaseContext) => Promise<void>,
  ): ConformanceCase =>
    defineCase({
      id,
      description,
      expectation,
      references,
      compression: REQUIRED,
      expect,
      run: async (context) => {
        if (!context.isCompressionActive) {
          context.unimplemented('permessage-deflate was not agreed in the handshake');
          return;
        }
        await run(context);
      },
    });

  const kosmeThenSurrogate = Buffer.from('cebae1bdb9cf83cebcceb5eda080656469746564', 'hex');

  return [
    defineCase({
      id: '14.1.1',
      appliesTo: 'servers',
      description:
        'Offer only an extension no server knows ("x-hybi-unknown-extension"), then send a text message.',
      expectation:
        'The server accepts the connection without that extension (a server answers only extensions it supports); the message is echoed.',
      references: ['RFC 6455 §9.1', 'RFC 6455 §4.2.2'],
      compression: { offer: 'x-hybi-unknown-extension', accept: PLAIN_ACCEPT, isRequired: false },
      expect: answersThenClosesNormally(text(GREETING)),
      run: (context) => context.send({ opcode: 0x1, payload: GREETING }),
    }),
    mustDecline(
      '14.1.2',
      'permessage-deflate; x-hybi-unknown-parameter',
      'it has a parameter not defined for offers',
    ),
    mustDecline('14.1.3', 'permessage-deflate; server_max_window_bits=7', 'window bits must be 8 to 15'),
    mustDecline('14.1.4', 'permessage-deflate; client_max_window_bits=16', 'window bits must be 8 to 15'),
    mustDecline(
      '14.1.5',
      'permessage-deflate; server_max_window_bits',
      'server_max_window_bits needs a value',
    ),
    mustDecline(
      '14.1.6',
      'permessage-deflate; server_no_context_takeover=1',
      'server_no_context_takeover takes no value',
    ),
    mustDecline(
      '14.1.7',
      'permessage-deflate; server_no_context_takeover; server_no_context_takeover',
      'a parameter appears twice',
    ),
    mustDecline(
      '14.1.8',
      'permessage-deflate; server_max_window_bits=010',
      'window bits are written without leading zeros',
    ),
    mayAccept(
      '14.1.9',
      'permessage-deflate; server_max_window_bits="10"',
      'a quoted value, which RFC 6455 §9.1 allows',
    ),
    mayAccept(
      '14.1.10',
      'permessage-deflate; x-hybi-unknown-parameter, permessage-deflate; client_max_window_bits',
      'an invalid offer, then a valid one to fall back to',
    ),
    defineCase({
      id: '14.1.11',
      appliesTo: 'servers',
      description: `Offer "permessage-deflate; server_max_window_bits=10", then send 3 text messages of ${FAR_REPEATS.length} bytes whose repeats lie 1.5 KiB apart.`,
      expectation:
        'The server accepts with server_max_window_bits of 10 or less and compresses its echoes within that window; the tester inflates them with exactly the agreed window.',
      references: ['RFC 7692 §7.1.2.1'],
      compression: {
        offer: 'permessage-deflate; server_max_window_bits=10',
        accept: PLAIN_ACCEPT,
        isRequired: true,
      },
      expect: answersThenClosesNormally(text(FAR_REPEATS), text(FAR_REPEATS), text(FAR_REPEATS)),
      run: async (context) => {
        if (!context.isCompressionActive) {
          context.unimplemented(
            'the server declined server_max_window_bits=10 (allowed, but nothing to test)',
          );
          return;
        }
        for (let round = 0; round < 3; round++) await context.sendMessage(FAR_REPEATS);
      },
    }),
    defineCase({
      id: '14.1.12',
      appliesTo: 'servers',
      description:
        'Offer "permessage-deflate; server_no_context_takeover", then send the same 2 KiB text message 3 times.',
      expectation:
        'The server accepts with server_no_context_takeover and compresses every echo on its own; the tester inflates each with a fresh inflater.',
      references: ['RFC 7692 §7.1.1.1'],
      compression: {
        offer: 'permessage-deflate; server_no_context_takeover',
        accept: PLAIN_ACCEPT,
        isRequired: true,
      },
      expect: answersThenClosesNormally(...Array.from({ length: 3 }, () => text(FAR_REPEATS.slice(0, 2048)))),
      run: async (context) => {
        if (!context.isCompressionActive) {
          context.unimplemented(
            'the server declined server_no_context_takeover (allowed, but nothing to test)',
          );
          return;
        }
        for (let round = 0; round < 3; round++) await context.sendMessage(FAR_REPEATS.slice(0, 2048));
      },
    }),

    compressed(
      '14.2.1',
      'Send a compressed text message split into 3 frames, RSV1 on the first only.',
      'The message is inflated and echoed; clean close with 1000.',
      ['RFC 7692 §6.1'],
      answersThenClosesNormally(text(FAR_REPEATS)),
      async (context) => {
        await context.sendMessage(FAR_REPEATS, { fragmentSize: 40 });
      },
    ),
    compressed(
      '14.2.2',
      'Send a compressed text message in 2 frames with RSV1 set on both.',
      'The connection is failed (1002): RSV1 belongs to the first frame of a message only.',
      ['RFC 7692 §6.1', 'RFC 6455 §5.2'],
      failsConnection([CLOSE_PROTOCOL_ERROR]),
      async (context) => {
        const bytes = await compressWithTester(context, GREETING);
        const middle = Math.ceil(bytes.length / 2);
        await context.send({ opcode: 0x1, isFinal: false, rsv: 4, payload: bytes.subarray(0, middle) });
        await context.send({ opcode: 0x0, rsv: 4, payload: bytes.subarray(middle) });
      },
    ),
    compressed(
      '14.2.3',
      'Send a ping with RSV1 set.',
      'The connection is failed (1002): control frames are never compressed.',
      ['RFC 7692 §6.1', 'RFC 6455 §5.2'],
      failsConnection([CLOSE_PROTOCOL_ERROR]),
      (context) => context.send({ opcode: 0x9, rsv: 4, payload: 'compressed?' }),
    ),
    compressed(
      '14.2.4',
      'Send a text message with RSV1 set whose payload is not DEFLATE data (0xffffff: a block of the reserved type 3).',
      'The connection is failed, with 1002 or 1007 (another error code is NON-STRICT).',
      ['RFC 7692 §7.2.2', 'RFC 1951 §3.2.3'],
      {
        ok: [[]],
        close: {
          isClosedByTester: false,
          codes: [CLOSE_PROTOCOL_ERROR, CLOSE_INVALID_PAYLOAD],
          nonStrictCodes: [1003, 1008, 1010, 1011],
          requireClean: false,
        },
      },
      (context) => context.send({ opcode: 0x1, rsv: 4, payload: Buffer.from([0xff, 0xff, 0xff]) }),
    ),
    compressed(
      '14.2.5',
      'Send an empty compressed text message: RSV1 and the single byte 0x00.',
      'An empty text message is echoed; clean close with 1000.',
      ['RFC 7692 §7.2.3.6'],
      answersThenClosesNormally(text('')),
      (context) => context.send({ opcode: 0x1, rsv: 4, payload: Buffer.from([0x00]) }),
    ),
    compressed(
      '14.2.6',
      'Send 2 compressed text messages, each ending its DEFLATE data with a block that has BFINAL set (then 0x00).',
      'Both messages are inflated and echoed: a sender may end a message with BFINAL; clean close with 1000.',
      ['RFC 7692 §7.2.3.4', 'RFC 7692 §7.2.2'],
      answersThenClosesNormally(text(GREETING), text(`${GREETING} again`)),
      async (context) => {
        await context.sendMessage(GREETING, { compressionForm: 'final-block' });
        await context.sendMessage(`${GREETING} again`, { compressionForm: 'final-block' });
      },
    ),
    compressed(
      '14.2.7',
      'Send a compressed text message made of a stored (uncompressed, BTYPE 00) DEFLATE block.',
      'The message is echoed; clean close with 1000.',
      ['RFC 7692 §7.2.3.3'],
      answersThenClosesNormally(text(GREETING)),
      (context) => context.sendMessage(GREETING, { compressionForm: 'stored-block' }),
    ),
    compressed(
      '14.2.8',
      'Send a compressed text message that inflates to invalid UTF-8 (κόσμε, a surrogate, "edited").',
      'The connection is failed with 1007 (or TCP dropped): the inflated text is what must be UTF-8.',
      ['RFC 6455 §8.1', 'RFC 7692 §6.2'],
      failsConnection([CLOSE_INVALID_PAYLOAD]),
      (context) => context.sendMessage(kosmeThenSurrogate, { binary: false }),
    ),
    compressed(
      '14.2.9',
      'With permessage-deflate agreed, send an uncompressed text message (RSV1 clear).',
      'The message is echoed: compression is per message, and RSV1 clear means not compressed.',
      ['RFC 7692 §6'],
      answersThenClosesNormally(text(GREETING)),
      (context) => context.sendMessage(GREETING, { compress: false }),
    ),
    compressed(
      '14.2.10',
      'Send a compressed binary message.',
      'The binary message is inflated and echoed; clean close with 1000.',
      ['RFC 7692 §6'],
      answersThenClosesNormally(binary(FAR_REPEATS)),
      (context) => context.sendMessage(Buffer.from(FAR_REPEATS, 'latin1'), { binary: true }),
    ),
    compressed(
      '14.2.11',
      'Send 2 compressed text messages, the second referring back into the first (context takeover, unless the peer asked for none).',
      'Both are inflated with the shared sliding window and echoed; clean close with 1000.',
      ['RFC 7692 §7.2.3.2', 'RFC 7692 §7.1.1'],
      answersThenClosesNormally(text(FAR_REPEATS), text(FAR_REPEATS)),
      async (context) => {
        await context.sendMessage(FAR_REPEATS);
        await context.sendMessage(FAR_REPEATS);
      },
    ),

    clientMustRefuse(
      '14.3.1',
      'permessage-deflate and an unknown parameter ("x-hybi-unknown-parameter")',
      () => 'permessage-deflate; x-hybi-unknown-parameter',
    ),
    clientMustRefuse(
      '14.3.2',
      'permessage-deflate; server_max_window_bits=7 (below the range 8-15)',
      () => 'permessage-deflate; server_max_window_bits=7',
    ),
    clientMustRefuse(
      '14.3.3',
      'permessage-deflate with server_no_context_takeover twice',
      () => 'permessage-deflate; server_no_context_takeover; server_no_context_takeover',
    ),
    clientMustRefuse(
      '14.3.4',
      'client_max_window_bits=10 when the client did not offer client_max_window_bits (or =16, out of range, when it did)',
      (offer) =>
        offer !== undefined && /client_max_window_bits/i.test(offer)
          ? 'permessage-deflate; client_max_window_bits=16'
          : 'permessage-deflate; client_max_window_bits=10',
    ),
  ];
}

/** The tester's own compression of a text, for cases that build compressed frames by hand. */
async function compressWithTester(context: CaseContext, message: string): Promise<Buffer> {
  return context.compress(Buffer.from(message, 'utf8'));
}
