// Owns category 9, limits and performance: large messages, many fragments, tiny TCP pieces and many round
// trips. Each echo is checked byte for byte; the time it took goes into the report.

import {
  type CaseContext,
  type ConformanceCase,
  defineCase,
  type Expectation,
  missingReplyReason,
} from '../case.js';

/** How big category 9 (and the message counts of 12 and 13) run. */
export type LimitsProfile = 'full' | 'quick';

const KIB = 1024;
const MIB = 1024 * 1024;

/** Autobahn's sizes at `full`; `quick` divides sizes by 16 and counts by 10 (50 for 12/13) so a run stays short. */
export function scaleSize(profile: LimitsProfile, size: number): number {
  return profile === 'full' ? size : Math.max(1, Math.floor(size / 16));
}

/** `divisor` is 10 for the round-trip cases and 50 for compression, whose messages cost the most. */
export function scaleCount(profile: LimitsProfile, count: number, divisor = 10): number {
  return profile === 'full' ? count : Math.max(1, Math.floor(count / divisor));
}

export const LIMITS_SUBCATEGORIES: Readonly<Record<string, string>> = {
  '9.1': 'Text Message (increasing size)',
  '9.2': 'Binary Message (increasing size)',
  '9.3': 'Fragmented Text Message (fixed size, increasing fragment size)',
  '9.4': 'Fragmented Binary Message (fixed size, increasing fragment size)',
  '9.5': 'Text Message (fixed size, increasing chop size)',
  '9.6': 'Binary Message (fixed size, increasing chop size)',
  '9.7': 'Text Message Roundtrip Time (fixed number, increasing size)',
  '9.8': 'Binary Message Roundtrip Time (fixed number, increasing size)',
};

/** The tester closes when the case is done; the case checks the echoes itself. */
const SELF_CHECKED: Expectation = {
  ok: [[]],
  close: { isClosedByTester: true, codes: [1000], requireClean: true },
  settleTime: 0,
};

function sizeText(bytes: number): string {
  if (bytes >= MIB && bytes % MIB === 0) return `${bytes / MIB} MiB`;
  if (bytes >= KIB && bytes % KIB === 0) return `${bytes / KIB} KiB`;
  return `${bytes} bytes`;
}

function payloadOf(isBinary: boolean, length: number): Buffer {
  return isBinary ? Buffer.alloc(length, 0xfe) : Buffer.alloc(length).fill('BAsd7&jh23');
}

/** Waits for one echo and checks it; false (with the failure recorded) when it is missing or wrong. */
async function expectEcho(
  context: CaseContext,
  isBinary: boolean,
  sent: Buffer,
  timeout: number,
): Promise<boolean> {
  const echo = await context.nextMessage(timeout);
  if (echo === undefined) {
    context.fail(
      missingReplyReason(
        context,
        `the ${sizeText(sent.length)} ${isBinary ? 'binary' : 'text'} message`,
        timeout,
      ),
    );
    return false;
  }
  if (echo.binary !== isBinary) {
    context.fail(
      `the echo is a ${echo.binary ? 'binary' : 'text'} message; a ${isBinary ? 'binary' : 'text'} one was sent`,
    );
    return false;
  }
  if (!echo.data.equals(sent)) {
    context.fail(`the echo has ${echo.data.length} bytes that differ from the ${sent.length} sent`);
    return false;
  }
  return true;
}

export function limitsCases(profile: LimitsProfile): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  const scaleNote = profile === 'full' ? '' : ' (quick profile: Autobahn’s size divided by 16)';
  const echoCase = (
    id: string,
    isBinary: boolean,
    length: number,
    description: string,
    send: (context: CaseContext, payload: Buffer) => Promise<void>,
    timeout: number,
  ): ConformanceCase =>
    defineCase({
      id,
      description: `${description}${scaleNote}.`,
      expectation: `The ${isBinary ? 'binary' : 'text'} message is echoed unchanged within ${timeout / 1000} s; clean close with 1000.`,
      references: ['RFC 6455 §5.2', 'RFC 6455 §5.4'],
      expect: SELF_CHECKED,
      isExclusive: true,
      timeout: timeout + 15_000,
      run: async (context) => {
        context.setRecording(false);
        const payload = payloadOf(isBinary, length);
        const startedAt = performance.now();
        await send(context, payload);
        if (await expectEcho(context, isBinary, payload, timeout)) {
          context.note(`echoed in ${Math.round(performance.now() - startedAt)} ms`);
        }
        context.setRecording(true);
      },
    });

  const messageSizes = [64 * KIB, 256 * KIB, MIB, 4 * MIB, 8 * MIB, 16 * MIB];
  for (const [group, isBinary] of [
    [1, false],
    [2, true],
  ] as const) {
    messageSizes.forEach((fullSize, index) => {
      const size = scaleSize(profile, fullSize);
      cases.push(
        echoCase(
          `9.${group}.${index + 1}`,
          isBinary,
          size,
          `Send a ${isBinary ? 'binary' : 'text'} message of ${sizeText(size)} in one frame`,
          (context, payload) => context.send({ opcode: isBinary ? 0x2 : 0x1, payload }),
          fullSize >= 4 * MIB ? 100_000 : 30_000,
        ),
      );
    });
  }

  const fragmentSizes = [64, 256, KIB, 4 * KIB, 16 * KIB, 64 * KIB, 256 * KIB, MIB, 4 * MIB];
  for (const [group, isBinary] of [
    [3, false],
    [4, true],
  ] as const) {
    const size = scaleSize(profile, 4 * MIB);
    fragmentSizes.forEach((fragmentSize, index) => {
      cases.push(
        echoCase(
          `9.${group}.${index + 1}`,
          isBinary,
          size,
          `Send a ${isBinary ? 'binary' : 'text'} message of ${sizeText(size)} in fragments of ${sizeText(fragmentSize)}`,
          (context, payload) =>
            context.sendMessage(payload, { binary: isBinary, fragmentSize, compress: false }),
          100_000,
        ),
      );
    });
  }

  const chopSizes = [64, 128, 256, 512, KIB, 2 * KIB];
  for (const [group, isBinary] of [
    [5, false],
    [6, true],
  ] as const) {
    const size = scaleSize(profile, MIB);
    chopSizes.forEach((chopSize, index) => {
      cases.push(
        echoCase(
          `9.${group}.${index + 1}`,
          isBinary,
          size,
          `Send a ${isBinary ? 'binary' : 'text'} message of ${sizeText(size)} in one frame, written in pieces of ${chopSize} octets`,
          (context, payload) => context.send({ opcode: isBinary ? 0x2 : 0x1, payload }, { chopSize }),
          100_000,
        ),
      );
    });
  }

  const roundTripSizes: [size: number, seconds: number][] = [
    [0, 60],
    [16, 60],
    [64, 60],
    [256, 120],
    [KIB, 240],
    [4 * KIB, 480],
  ];
  const count = scaleCount(profile, 1000);
  for (const [group, isBinary] of [
    [7, false],
    [8, true],
  ] as const) {
    roundTripSizes.forEach(([size, seconds], index) => {
      const kind = isBinary ? 'binary' : 'text';
      cases.push(
        defineCase({
          id: `9.${group}.${index + 1}`,
          description: `Send ${count} ${kind} messages of ${sizeText(size)}, each after the echo of the previous one, to measure the round trip time${profile === 'full' ? '' : ' (quick profile: Autobahn’s count divided by 10)'}.`,
          expectation: `Every message is echoed unchanged, all within ${seconds} s; clean close with 1000.`,
          references: ['RFC 6455 §5.6'],
          expect: SELF_CHECKED,
          isExclusive: true,
          timeout: seconds * 1000 + 15_000,
          run: async (context) => {
            context.setRecording(false);
            const payload = payloadOf(isBinary, size);
            const deadline = performance.now() + seconds * 1000;
            const startedAt = performance.now();
            for (let sent = 0; sent < count; sent++) {
              await context.send({ opcode: isBinary ? 0x2 : 0x1, payload });
              const remaining = Math.max(1, deadline - performance.now());
              if (!(await expectEcho(context, isBinary, payload, remaining))) break;
              if (sent === count - 1) {
                const elapsed = performance.now() - startedAt;
                context.note(
                  `${count} round trips in ${Math.round(elapsed)} ms (${(elapsed / count).toFixed(3)} ms each)`,
                );
              }
            }
            context.setRecording(true);
          },
        }),
      );
    });
  }
  return cases;
}
