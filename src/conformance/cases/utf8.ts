// Owns category 6, UTF-8 handling (RFC 6455 §8.1, RFC 3629): valid text in any fragmentation is echoed,
// invalid text fails the connection with 1007, as soon as the first impossible byte arrives.

import { isUtf8 } from 'node:buffer';
import {
  answersThenClosesNormally,
  CLOSE_INVALID_PAYLOAD,
  type ConformanceCase,
  defineCase,
  type Expectation,
  failsConnection,
  marker,
  text,
} from '../case.js';

const TEXT = 0x1;
const CONTINUATION = 0x0;

/** "κόσμε", the classic Greek test word of Markus Kuhn's UTF-8 test file: 2- and 3-byte sequences. */
const KOSME = Buffer.from('cebae1bdb9cf83cebcceb5', 'hex');
/** U+D800 encoded as if it were a character: a surrogate, invalid in UTF-8 (RFC 3629 §3). */
const SURROGATE = Buffer.from('eda080', 'hex');
/** What U+110000 would be in the UTF-8 scheme: beyond Unicode, so invalid from its second byte. */
const BEYOND_UNICODE = Buffer.from('f4908080', 'hex');
const EDITED = Buffer.from('edited');
const MIXED = 'Hello-µ@ßöäüàá-UTF-8!!';

const hex = (value: string): Buffer => Buffer.from(value, 'hex');

/** The subcategories 6.5 to 6.23: byte sequences from Markus Kuhn's UTF-8 decoder test file. */
function sequenceGroups(): [title: string, payloads: Buffer[]][] {
  const lastByteMissing = [
    'c0',
    'e080',
    'f08080',
    'f8808080',
    'fc80808080',
    'df',
    'efbf',
    'f7bfbf',
    'fbbfbfbf',
    'fdbfbfbfbf',
  ];
  const range = (first: number, last: number): number[] =>
    Array.from({ length: last - first + 1 }, (_, index) => first + index);
  const lonely = (first: number, last: number): Buffer =>
    Buffer.from(range(first, last).flatMap((byte) => [byte, 0x20]));
  const nonCharacters: Buffer[] = [Buffer.from('\uFFFE'), Buffer.from('\uFFFF')];
  for (let plane = 1; plane <= 16; plane++) {
    nonCharacters.push(Buffer.from(String.fromCodePoint(plane * 0x10000 + 0xfffe)));
    nonCharacters.push(Buffer.from(String.fromCodePoint(plane * 0x10000 + 0xffff)));
  }
  return [
    [
      'Some valid UTF-8 sequences',
      [
        '68656c6c6f24776f726c64',
        '68656c6c6fc2a2776f726c64',
        '68656c6c6fe282ac776f726c64',
        '68656c6c6ff0a4ada2776f726c64',
        KOSME.toString('hex'),
      ].map(hex),
    ],
    [
      'All prefixes of a valid UTF-8 string that contains multi-byte code points',
      range(1, KOSME.length).map((length) => KOSME.subarray(0, length)),
    ],
    ['First possible sequence of a certain length', ['00', 'c280', 'e0a080', 'f0908080'].map(hex)],
    ['First possible sequence length 5/6 (invalid codepoints)', ['f888808080', 'fc8480808080'].map(hex)],
    ['Last possible sequence of a certain length', ['7f', 'dfbf', 'efbfbf', 'f48fbfbf'].map(hex)],
    [
      'Last possible sequence length 4/5/6 (invalid codepoints)',
      ['f7bfbfbf', 'fbbfbfbfbf', 'fdbfbfbfbfbf'].map(hex),
    ],
    ['Other boundary conditions', ['ed9fbf', 'ee8080', 'efbfbd', 'f48fbfbf', 'f4908080'].map(hex)],
    [
      'Unexpected continuation bytes',
      [
        ...['80', 'bf', '80bf', '80bf80', '80bf80bf', '80bf80bf80', '80bf80bf80bf'].map(hex),
        Buffer.from(range(0x80, 0xbf)),
      ],
    ],
    [
      'Lonely start characters',
      [lonely(0xc0, 0xdf), lonely(0xe0, 0xef), lonely(0xf0, 0xf7), lonely(0xf8, 0xfb), lonely(0xfc, 0xfd)],
    ],
    ['Sequences with last continuation byte missing', lastByteMissing.map(hex)],
    ['Concatenation of incomplete sequences', [hex(lastByteMissing.join(''))]],
    ['Impossible bytes', ['fe', 'ff', 'fefeffff'].map(hex)],
    [
      'Examples of an overlong ASCII character',
      ['c0af', 'e080af', 'f08080af', 'f8808080af', 'fc80808080af'].map(hex),
    ],
    ['Maximum overlong sequences', ['c1bf', 'e09fbf', 'f08fbfbf', 'f887bfbfbf', 'fc83bfbfbfbf'].map(hex)],
    [
      'Overlong representation of the NUL character',
      ['c080', 'e08080', 'f0808080', 'f880808080', 'fc8080808080'].map(hex),
    ],
    [
      'Single UTF-16 surrogates',
      ['eda080', 'edadbf', 'edae80', 'edafbf', 'edb080', 'edbe80', 'edbfbf'].map(hex),
    ],
    [
      'Paired UTF-16 surrogates',
      [
        'eda080edb080',
        'eda080edbfbf',
        'edadbfedb080',
        'edadbfedbfbf',
        'edae80edb080',
        'edae80edbfbf',
        'edafbfedb080',
        'edafbfedbfbf',
      ].map(hex),
    ],
    ['Non-character code points (valid UTF-8)', nonCharacters],
    [
      'Unicode specials (i.e. replacement char)',
      ['efbfb9', 'efbfba', 'efbfbb', 'efbfbc', 'efbfbd', 'efbfbe', 'efbfbf'].map(hex),
    ],
  ];
}

/** Titles of the UTF-8 subcategories, for reports. */
export const UTF8_SUBCATEGORIES: Readonly<Record<string, string>> = {
  '6.1': 'Valid UTF-8 with zero payload fragments',
  '6.2': 'Valid UTF-8 unfragmented, fragmented on code-points and within code-points',
  '6.3': 'Invalid UTF-8 differently fragmented',
  '6.4': 'Fail-fast on invalid UTF-8',
  ...Object.fromEntries(sequenceGroups().map(([title], index) => [`6.${index + 5}`, title])),
};

const invalidText: Expectation = failsConnection([CLOSE_INVALID_PAYLOAD]);

export function utf8Cases(): ConformanceCase[] {
  const references = ['RFC 6455 §8.1', 'RFC 3629'];
  const cases: ConformanceCase[] = [
    defineCase({
      id: '6.1.1',
      description: 'Send a text message of length 0.',
      expectation: 'An empty text message is echoed; clean close with 1000.',
      references,
      expect: answersThenClosesNormally(text('')),
      run: (context) => context.send({ opcode: TEXT }),
    }),
    defineCase({
      id: '6.1.2',
      description: 'Send a text message in 3 fragments, each of length 0.',
      expectation: 'An empty text message is echoed; clean close with 1000.',
      references: [...references, 'RFC 6455 §5.4'],
      expect: answersThenClosesNormally(text('')),
      run: async (context) => {
        await context.send({ opcode: TEXT, isFinal: false });
        await context.send({ opcode: CONTINUATION, isFinal: false });
        await context.send({ opcode: CONTINUATION });
      },
    }),
    defineCase({
      id: '6.1.3',
      description: 'Send a text message in 3 fragments, the first and last empty, the middle one not.',
      expectation: 'The middle fragment’s text is echoed; clean close with 1000.',
      references: [...references, 'RFC 6455 §5.4'],
      expect: answersThenClosesNormally(text('middle frame payload')),
      run: async (context) => {
        await context.send({ opcode: TEXT, isFinal: false });
        await context.send({ opcode: CONTINUATION, isFinal: false, payload: 'middle frame payload' });
        await context.send({ opcode: CONTINUATION });
      },
    }),
    defineCase({
      id: '6.2.1',
      description: `Send valid UTF-8 text in one frame: ${JSON.stringify(MIXED)}.`,
      expectation: 'The text is echoed; clean close with 1000.',
      references,
      expect: answersThenClosesNormally(text(MIXED)),
      run: (context) => context.send({ opcode: TEXT, payload: MIXED }),
    }),
    defineCase({
      id: '6.2.2',
      description: 'Send valid UTF-8 text in 2 fragments split on a code point boundary.',
      expectation: 'The text is echoed; clean close with 1000.',
      references,
      expect: answersThenClosesNormally(text(MIXED)),
      run: async (context) => {
        await context.send({ opcode: TEXT, isFinal: false, payload: 'Hello-µ@ßöä' });
        await context.send({ opcode: CONTINUATION, payload: 'üàá-UTF-8!!' });
      },
    }),
    oneBytePerFrame('6.2.3', `valid UTF-8 text ${JSON.stringify(MIXED)}`, Buffer.from(MIXED), true),
    oneBytePerFrame('6.2.4', 'valid UTF-8 text "κόσμε" (0xcebae1bdb9cf83cebcceb5)', KOSME, true),
    defineCase({
      id: '6.3.1',
      description: 'Send invalid UTF-8 text in one frame: κόσμε, then a surrogate (0xeda080), then "edited".',
      expectation: 'The connection is failed with 1007 (or TCP dropped).',
      references,
      expect: invalidText,
      run: (context) => context.send({ opcode: TEXT, payload: Buffer.concat([KOSME, SURROGATE, EDITED]) }),
    }),
    oneBytePerFrame(
      '6.3.2',
      'the invalid UTF-8 text of 6.3.1',
      Buffer.concat([KOSME, SURROGATE, EDITED]),
      false,
    ),
  ];

  // 6.4: fail fast. The invalid part goes out between two waits; a peer still open after the second
  // wait noticed only at the end of the message (NON-STRICT).
  const whole = Buffer.concat([KOSME, BEYOND_UNICODE, EDITED]);
  const failFast: [id: string, parts: [Buffer, Buffer, Buffer], asFrames: boolean][] = [
    ['6.4.1', [KOSME, BEYOND_UNICODE, EDITED], true],
    ['6.4.2', [whole.subarray(0, 12), whole.subarray(12, 13), whole.subarray(13)], true],
    ['6.4.3', [KOSME, BEYOND_UNICODE, EDITED], false],
    ['6.4.4', [whole.subarray(0, 12), whole.subarray(12, 13), whole.subarray(13)], false],
  ];
  for (const [id, parts, asFrames] of failFast) {
    cases.push(
      defineCase({
        id,
        description: `Send invalid UTF-8 text in 3 ${asFrames ? 'frames' : 'pieces of one frame'}, waiting after the first and the second: PART1 = 0x${parts[0].toString('hex')} (valid), PART2 = 0x${parts[1].toString('hex')} (makes the text invalid: U+110000 is beyond Unicode), PART3 = 0x${parts[2].toString('hex')}.`,
        expectation:
          'The first part is accepted (the first wait passes); the connection is failed with 1007 as soon as PART2 arrives, before the second wait ends. Failing only after PART3 is NON-STRICT.',
        references: ['RFC 6455 §8.1'],
        expect: {
          ok: [[marker('A')]],
          nonStrict: [[marker('A'), marker('B')]],
          close: { isClosedByTester: false, codes: [CLOSE_INVALID_PAYLOAD], requireClean: false },
        },
        run: async (context) => {
          if (asFrames) {
            await context.send({ opcode: TEXT, isFinal: false, payload: parts[0] });
            if (!(await context.pause(context.pace, 'A'))) return;
            await context.send({ opcode: CONTINUATION, isFinal: false, payload: parts[1] });
            if (!(await context.pause(context.pace, 'B'))) return;
            await context.send({ opcode: CONTINUATION, payload: parts[2] });
          } else {
            // One frame whose header announces the whole payload, written in three pieces.
            const frame = context.encodeFrame({ opcode: TEXT, payload: Buffer.concat(parts) });
            const firstEnd = frame.length - whole.length + parts[0].length;
            const secondEnd = firstEnd + parts[1].length;
            await context.sendRaw(frame.subarray(0, firstEnd));
            if (!(await context.pause(context.pace, 'A'))) return;
            await context.sendRaw(frame.subarray(firstEnd, secondEnd));
            if (!(await context.pause(context.pace, 'B'))) return;
            await context.sendRaw(frame.subarray(secondEnd));
          }
        },
      }),
    );
  }

  sequenceGroups().forEach(([, payloads], groupIndex) => {
    payloads.forEach((payload, index) => {
      const isValid = isUtf8(payload);
      cases.push(
        defineCase({
          id: `6.${groupIndex + 5}.${index + 1}`,
          description: `Send a text message in one frame whose payload is ${isValid ? 'valid' : 'not valid'} UTF-8: 0x${payload.toString('hex')}.`,
          expectation: isValid
            ? 'The text is echoed; clean close with 1000.'
            : 'The connection is failed with 1007 (or TCP dropped).',
          references,
          expect: isValid ? answersThenClosesNormally(text(payload)) : invalidText,
          run: (context) => context.send({ opcode: TEXT, payload }),
        }),
      );
    });
  });
  return cases;
}

function oneBytePerFrame(id: string, what: string, payload: Buffer, isValid: boolean): ConformanceCase {
  return defineCase({
    id,
    description: `Send ${what} in frames of 1 byte each, so that frames end inside code points, then an empty final frame (as Autobahn fragments it).`,
    expectation: isValid
      ? 'The text is echoed: UTF-8 is checked over the message, not per frame; clean close with 1000.'
      : 'The connection is failed with 1007 (or TCP dropped).',
    references: ['RFC 6455 §8.1', 'RFC 6455 §5.4'],
    expect: isValid ? answersThenClosesNormally(text(payload)) : invalidText,
    // Autobahn's sendMessage with fragmentSize 1: one byte a frame, then an empty final frame.
    run: (context) => context.sendMessage(payload, { binary: false, fragmentSize: 1, compress: false }),
  });
}
