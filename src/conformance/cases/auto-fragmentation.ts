// Owns category 10: a message that arrives as many fragments of a fixed size must come back whole.

import { answersThenClosesNormally, type ConformanceCase, defineCase, repeatText, text } from '../case.js';

const MESSAGE_BYTES = 65536;
const FRAGMENT_BYTES = 1300;

export function autoFragmentationCases(): ConformanceCase[] {
  const payload = repeatText('*', MESSAGE_BYTES);
  return [
    defineCase({
      id: '10.1.1',
      description: `Send a text message of ${MESSAGE_BYTES} bytes fragmented into frames of ${FRAGMENT_BYTES} bytes (${Math.ceil(MESSAGE_BYTES / FRAGMENT_BYTES)} frames).`,
      expectation:
        'The message is echoed whole (in whatever frames the peer chooses); clean close with 1000.',
      references: ['RFC 6455 §5.4'],
      expect: { ...answersThenClosesNormally(text(payload)), responseTimeout: 10_000 },
      run: (context) => context.sendMessage(payload, { fragmentSize: FRAGMENT_BYTES, compress: false }),
    }),
  ];
}
