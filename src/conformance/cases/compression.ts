// Owns categories 12 and 13, permessage-deflate (RFC 7692) under load: many compressed messages of many
// sizes from five kinds of data (12), and the same under each combination of negotiated parameters (13).

import { createHash } from 'node:crypto';
import {
  type CompressionSetup,
  type ConformanceCase,
  defineCase,
  type Expectation,
  missingReplyReason,
} from '../case.js';
import { type Corpus, CorpusReader, compressionCorpora } from '../corpus.js';
import type { AcceptPolicy } from '../deflate.js';
import { type LimitsProfile, scaleCount } from './limits.js';

/** Autobahn's (payload size, message count, seconds allowed, auto-fragment size) list, shared by 12 and 13. */
const MESSAGE_PLAN: readonly [size: number, count: number, seconds: number, fragmentSize: number][] = [
  [16, 1000, 60, 0],
  [64, 1000, 60, 0],
  [256, 1000, 120, 0],
  [1024, 1000, 240, 0],
  [4096, 1000, 480, 0],
  [8192, 1000, 480, 0],
  [16384, 1000, 480, 0],
  [32768, 1000, 480, 0],
  [65536, 1000, 480, 0],
  [131072, 1000, 480, 0],
  [8192, 1000, 480, 256],
  [16384, 1000, 480, 256],
  [32768, 1000, 480, 256],
  [65536, 1000, 480, 256],
  [131072, 1000, 480, 256],
  [131072, 1000, 480, 1024],
  [131072, 1000, 480, 4096],
  [131072, 1000, 480, 32768],
];

/** The quick profile sends 1000 / 50 = 20 messages per case: enough to carry context across messages. */
const COMPRESSION_COUNT_DIVISOR = 50;

/** The default offer: valueless client_max_window_bits lets the server bound the tester's window. */
const DEFAULT_OFFER = 'permessage-deflate; client_max_window_bits';

/** Category 13's parameter sets: the offer the tester makes to servers and its answers to clients. */
const PARAMETER_SETS: readonly { offer: string; accept: AcceptPolicy[]; title: string }[] = [
  {
    offer: DEFAULT_OFFER,
    accept: [{ requestNoContextTakeover: false, requestMaxWindowBits: 0 }],
    title: 'no parameters',
  },
  {
    offer: 'permessage-deflate; server_no_context_takeover; client_max_window_bits',
    accept: [{ requestNoContextTakeover: true, requestMaxWindowBits: 0 }],
    title: 'no context takeover',
  },
  {
    offer: 'permessage-deflate; server_max_window_bits=8; client_max_window_bits',
    accept: [{ requestNoContextTakeover: false, requestMaxWindowBits: 8 }],
    title: 'window bits 8',
  },
  {
    offer: 'permessage-deflate; server_max_window_bits=15; client_max_window_bits',
    accept: [{ requestNoContextTakeover: false, requestMaxWindowBits: 15 }],
    title: 'window bits 15',
  },
  {
    offer: 'permessage-deflate; server_no_context_takeover; server_max_window_bits=8; client_max_window_bits',
    accept: [{ requestNoContextTakeover: true, requestMaxWindowBits: 8 }],
    title: 'no context takeover, window bits 8',
  },
  {
    offer:
      'permessage-deflate; server_no_context_takeover; server_max_window_bits=15; client_max_window_bits',
    accept: [{ requestNoContextTakeover: true, requestMaxWindowBits: 15 }],
    title: 'no context takeover, window bits 15',
  },
  {
    offer:
      'permessage-deflate; server_no_context_takeover; server_max_window_bits=8; client_max_window_bits, permessage-deflate; server_no_context_takeover; client_max_window_bits, permessage-deflate; client_max_window_bits',
    accept: [
      { requestNoContextTakeover: true, requestMaxWindowBits: 8 },
      { requestNoContextTakeover: true, requestMaxWindowBits: 0 },
      { requestNoContextTakeover: false, requestMaxWindowBits: 0 },
    ],
    title: 'three offers, in order of preference',
  },
];

const SELF_CHECKED: Expectation = {
  ok: [[]],
  close: { isClosedByTester: true, codes: [1000], requireClean: true },
  settleTime: 0,
};

export function compressionSubcategories(): Record<string, string> {
  const titles: Record<string, string> = {};
  compressionCorpora().forEach((corpus, index) => {
    titles[`12.${index + 1}`] = `${corpus.description}, ${corpus.data.length} bytes`;
  });
  PARAMETER_SETS.forEach((set, index) => {
    titles[`13.${index + 1}`] = `JSON data, ${set.title}: offer "${set.offer}"`;
  });
  return titles;
}

function compressedEchoCase(
  id: string,
  corpus: Corpus,
  plan: (typeof MESSAGE_PLAN)[number],
  compression: CompressionSetup,
  parameters: string,
  profile: LimitsProfile,
): ConformanceCase {
  const [size, fullCount, seconds, fragmentSize] = plan;
  const count = scaleCount(profile, fullCount, COMPRESSION_COUNT_DIVISOR);
  const kind = corpus.isBinary ? 'binary' : 'text';
  return defineCase({
    id,
    description: `Send ${count} compressed ${kind} messages of ${size} bytes each (${corpus.name} data${fragmentSize === 0 ? '' : `, compressed data split into frames of ${fragmentSize} bytes`}), each after the echo of the previous one; ${parameters}${profile === 'full' ? '' : ` (quick profile: Autobahn’s count divided by ${COMPRESSION_COUNT_DIVISOR})`}.`,
    expectation: `permessage-deflate is agreed and every message comes back unchanged (same type, length and SHA-1) within ${seconds} s; clean close with 1000.`,
    references: ['RFC 7692 §6', 'RFC 7692 §7.2'],
    compression,
    expect: SELF_CHECKED,
    isExclusive: true,
    timeout: seconds * 1000 + 15_000,
    run: async (context) => {
      if (!context.isCompressionActive) {
        context.unimplemented('permessage-deflate was not agreed in the handshake');
        return;
      }
      context.setRecording(false);
      const reader = new CorpusReader(corpus);
      const deadline = performance.now() + seconds * 1000;
      let compressedEchoes = 0;
      for (let index = 0; index < count; index++) {
        const message = reader.next(size);
        await context.sendMessage(message, {
          binary: corpus.isBinary,
          ...(fragmentSize === 0 ? {} : { fragmentSize }),
        });
        const echo = await context.nextMessage(Math.max(1, deadline - performance.now()));
        if (echo === undefined) {
          context.fail(
            missingReplyReason(context, `message ${index + 1} of ${count}`, Math.round(seconds * 1000)),
          );
          break;
        }
        if (echo.binary !== corpus.isBinary || !echo.data.equals(message)) {
          const got = createHash('sha1').update(echo.data).digest('hex');
          const sent = createHash('sha1').update(message).digest('hex');
          context.fail(
            `echo ${index + 1} differs: got ${echo.binary ? 'binary' : 'text'}, ${echo.data.length} bytes, sha1 ${got}; sent ${kind}, ${message.length} bytes, sha1 ${sent}`,
          );
          break;
        }
        if (echo.isCompressed) compressedEchoes++;
      }
      context.note(`${compressedEchoes} of the echoes came compressed`);
      context.setRecording(true);
    },
  });
}

export function compressionCases(profile: LimitsProfile): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  const defaultSetup: CompressionSetup = {
    offer: DEFAULT_OFFER,
    accept: [{ requestNoContextTakeover: false, requestMaxWindowBits: 0 }],
    isRequired: true,
  };
  compressionCorpora().forEach((corpus, corpusIndex) => {
    MESSAGE_PLAN.forEach((plan, planIndex) => {
      cases.push(
        compressedEchoCase(
          `12.${corpusIndex + 1}.${planIndex + 1}`,
          corpus,
          plan,
          defaultSetup,
          'default permessage-deflate offer',
          profile,
        ),
      );
    });
  });
  const json = compressionCorpora()[0]!;
  PARAMETER_SETS.forEach((set, setIndex) => {
    const setup: CompressionSetup = { offer: set.offer, accept: set.accept, isRequired: true };
    MESSAGE_PLAN.forEach((plan, planIndex) => {
      cases.push(
        compressedEchoCase(
          `13.${setIndex + 1}.${planIndex + 1}`,
          json,
          plan,
          setup,
          `parameters: ${set.title} (servers are offered "${set.offer}")`,
          profile,
        ),
      );
    });
  });
  return cases;
}
