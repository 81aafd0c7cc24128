// Owns the WebSocket-class differential: the same scenario played by hybi's WebSocket and by Node's own
// (undici's, in a child process with --experimental-websocket) against the same scripted server; the traces
// (events, readyState, bufferedAmount, exceptions, binaryType) and the bytes each wrote must be equal, up to
// the listed divergences (fuzz/support/websocket-divergences.ts).

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from '../../src/index.js';
import { NodeWebSocketRunner } from '../support/node-websocket.js';
import { ScriptedServer, type ServerScript } from '../support/scripted-server.js';
import { fuzzTest, recordCounts } from '../support/settings.js';
import {
  type ClientRun,
  expectHybiRun,
  type WebSocketDivergenceName,
  withFreeReasons,
} from '../support/websocket-divergences.js';
import {
  type ClientAction,
  type ClientPlan,
  playPlan,
  type WebSocketConstructor,
} from '../support/websocket-player.js';
import { type WebSocketScenario, webSocketScenarioArbitrary } from '../support/websocket-scenarios.js';

let node: NodeWebSocketRunner;
beforeAll(() => {
  node = NodeWebSocketRunner.start();
});
afterAll(async () => {
  await node.stop();
});

const HybiWebSocket = WebSocket as unknown as WebSocketConstructor;

/** Plays `scenario` on one client against a scripted server of its own. */
async function run(side: 'hybi' | 'node', scenario: WebSocketScenario): Promise<ClientRun> {
  const server = await ScriptedServer.start();
  try {
    const recorded = server.expect(scenario.script);
    const gone = recorded.then(() => undefined);
    const trace =
      side === 'hybi'
        ? await playPlan(HybiWebSocket, server.url, scenario.plan, gone)
        : await node.play(server.url, scenario.plan, gone);
    if (server.connectionCount === 0) return { trace, record: undefined };
    // The client has closed its end: the server sees the connection go at once (bounded, to report a hang).
    let timer: NodeJS.Timeout | undefined;
    const record = await Promise.race([
      recorded,
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), 2000);
      }),
    ]);
    clearTimeout(timer);
    return { trace, record };
  } finally {
    await server.close();
  }
}

const divergenceCounts = new Map<string, number>();

/** Runs both clients; hybi's run must be Node's with the divergences applied. Returns those that applied. */
async function compare(scenario: WebSocketScenario): Promise<Set<WebSocketDivergenceName>> {
  // Both as JSON, as the child's run crossed IPC: undefined fields drop out alike.
  const [hybiRun, nodeRun] = (await Promise.all([run('hybi', scenario), run('node', scenario)])).map(
    (clientRun) => JSON.parse(JSON.stringify(clientRun)) as ClientRun,
  ) as [ClientRun, ClientRun];
  const expected = expectHybiRun(scenario, nodeRun);
  expected.run = JSON.parse(JSON.stringify(expected.run)) as ClientRun;
  expect(nodeRun.trace.some((entry) => entry.kind === 'timeout')).toBe(false);
  expect(withFreeReasons(hybiRun, expected.run)).toEqual(expected.run);
  for (const name of expected.divergences) divergenceCounts.set(name, (divergenceCounts.get(name) ?? 0) + 1);
  return expected.divergences;
}

afterAll(() => {
  recordCounts(
    import.meta.url,
    'WebSocket divergences from Node (scenarios where each applied)',
    divergenceCounts,
  );
});

fuzzTest(
  "WebSocket differential: hybi's WebSocket does what Node's does, up to the listed divergences",
  { runs: 40, file: import.meta.url },
  () =>
    fc.asyncProperty(webSocketScenarioArbitrary(), async (scenario) => {
      await compare(scenario);
    }),
);

// The cases every run covers, whatever fast-check draws: each with the divergences it must show.
const accept: ServerScript = {
  handshake: { kind: 'accept' },
  isFirstWriteWithHandshake: false,
  isEndAfterHandshake: false,
  steps: [],
  splitter: { kind: 'whole' },
};
const plan: ClientPlan = {
  protocols: undefined,
  binaryType: 'arraybuffer',
  atStart: [],
  onOpen: [],
  onMessage: [],
  onClose: [],
};
const text = (value: string): ClientAction => ({ kind: 'send', data: { type: 'text', text: value } });
const refused = (handshake: ServerScript['handshake'], protocols?: string[]): WebSocketScenario => ({
  shape: 'refused',
  script: { ...accept, handshake, isEndAfterHandshake: true },
  plan: { ...plan, protocols, atStart: [text('too early')] },
});
const failures = ['error-when-closed', 'failure-close-code', 'failure-sends-close-frame'] as const;
const notEstablished = ['error-when-closed', 'close-after-failed-handshake'] as const;

const NAMED: {
  name: string;
  scenario: WebSocketScenario;
  divergences: readonly WebSocketDivergenceName[];
}[] = [
  {
    name: 'echo: text, ArrayBuffer, view, Blob sent in open, echoed text and binary, client closes',
    scenario: {
      shape: 'established',
      script: {
        ...accept,
        steps: [
          { kind: 'await-client-frames', count: 4 },
          {
            kind: 'write',
            frames: [
              { kind: 'text', text: 'héllo' },
              { kind: 'binary', bytes: [1, 2, 3] },
            ],
          },
        ],
      },
      plan: {
        ...plan,
        onOpen: [
          text('a'),
          { kind: 'send', data: { type: 'arraybuffer', bytes: [1, 2] } },
          { kind: 'send', data: { type: 'uint8array', bytes: [3] } },
          { kind: 'send', data: { type: 'blob', bytes: [4, 5] } },
        ],
        onMessage: [[], [{ kind: 'close', code: 4000, reason: 'done' }]],
      },
    },
    divergences: [],
  },
  {
    name: 'server close with code and reason, in the same chunk as a message answered by the client',
    scenario: {
      shape: 'established',
      script: {
        ...accept,
        steps: [
          {
            kind: 'write',
            frames: [
              { kind: 'text', text: 'x' },
              { kind: 'close', code: 4001, reason: 'bye' },
            ],
          },
        ],
      },
      plan: { ...plan, onMessage: [[text('reply')]], onClose: [text('after close')] },
    },
    divergences: ['close-reply-echoes-reason', 'buffered-amount-after-close'],
  },
  {
    name: 'messages and a close that came with the 101, answered in the handler',
    scenario: {
      shape: 'established',
      script: {
        ...accept,
        isFirstWriteWithHandshake: true,
        steps: [
          {
            kind: 'write',
            frames: [
              { kind: 'text', text: 'x' },
              { kind: 'close', code: 1000 },
            ],
          },
        ],
      },
      plan: { ...plan, onMessage: [[text('reply')]] },
    },
    divergences: [],
  },
  {
    name: 'server close without a code',
    scenario: {
      shape: 'established',
      script: { ...accept, steps: [{ kind: 'write', frames: [{ kind: 'close' }] }] },
      plan,
    },
    divergences: [],
  },
  {
    name: 'abrupt TCP end after a message',
    scenario: {
      shape: 'established',
      script: {
        ...accept,
        steps: [{ kind: 'write', frames: [{ kind: 'binary', bytes: [9] }] }, { kind: 'end' }],
      },
      plan,
    },
    divergences: [],
  },
  ...(['bad-rsv', 'invalid-utf8'] as const).map((kind) => ({
    name: `protocol error (${kind}) in the same chunk as a message the client answers`,
    scenario: {
      shape: 'established' as const,
      script: {
        ...accept,
        steps: [{ kind: 'write' as const, frames: [{ kind: 'text' as const, text: 'm' }, { kind }] }],
      },
      plan: { ...plan, onMessage: [[text('echo')]] },
    },
    divergences: failures,
  })),
  {
    name: 'protocol error (reserved opcode) with the 101',
    scenario: {
      shape: 'established',
      script: {
        ...accept,
        isFirstWriteWithHandshake: true,
        steps: [
          {
            kind: 'write',
            frames: [
              { kind: 'text', text: 'm' },
              { kind: 'bad-opcode', opcode: 3 },
            ],
          },
        ],
      },
      plan: { ...plan, onMessage: [[text('echo')]] },
    },
    divergences: failures,
  },
  {
    name: 'handshake refused with 403',
    scenario: refused({ kind: 'refuse', status: 403 }),
    divergences: notEstablished,
  },
  {
    name: 'wrong Sec-WebSocket-Accept',
    scenario: refused({ kind: 'wrong-accept' }),
    divergences: notEstablished,
  },
  {
    name: 'missing Upgrade header',
    scenario: refused({ kind: 'missing-upgrade' }),
    divergences: notEstablished,
  },
  {
    name: 'a subprotocol that was not offered',
    scenario: refused({ kind: 'accept', protocol: 'other' }, ['chat']),
    divergences: notEstablished,
  },
  {
    name: 'no subprotocol selected of those offered',
    scenario: refused({ kind: 'accept' }, ['chat']),
    divergences: notEstablished,
  },
  {
    name: 'a subprotocol selected when none was offered',
    scenario: refused({ kind: 'accept', protocol: 'chat' }),
    divergences: ['unoffered-protocol-crash', ...notEstablished],
  },
  {
    name: 'subprotocol selection',
    scenario: {
      shape: 'established',
      script: { ...accept, handshake: { kind: 'accept', protocol: 'chat' } },
      plan: { ...plan, protocols: ['v2', 'chat'], onOpen: [{ kind: 'close', reason: 'no code' }] },
    },
    divergences: ['close-reason-without-code'],
  },
  {
    name: 'close() argument errors, binaryType values, send after close()',
    scenario: {
      shape: 'established',
      script: accept,
      plan: {
        ...plan,
        binaryType: undefined,
        onOpen: [
          { kind: 'close', code: 1001 },
          { kind: 'close', code: 1000, reason: 'x'.repeat(124) },
          { kind: 'set-binary-type', value: 'bogus' },
          { kind: 'set-binary-type', value: 'nodebuffer' },
          { kind: 'close' },
          text('after close'),
          { kind: 'send', data: { type: 'blob', bytes: [1, 2] } },
        ],
      },
    },
    divergences: ['binary-type-nodebuffer', 'buffered-amount-after-close'],
  },
  {
    name: "binaryType 'blob' then 'arraybuffer' between messages",
    scenario: {
      shape: 'established',
      script: {
        ...accept,
        splitter: { kind: 'sizes', sizes: [1] },
        steps: [
          {
            kind: 'write',
            frames: [
              { kind: 'binary', bytes: [5, 6] },
              { kind: 'binary', bytes: [7] },
              { kind: 'close', code: 1000 },
            ],
          },
        ],
      },
      plan: { ...plan, binaryType: 'blob', onMessage: [[{ kind: 'set-binary-type', value: 'arraybuffer' }]] },
    },
    divergences: [],
  },
  {
    name: 'close() while connecting, then send()',
    scenario: {
      shape: 'abandoned',
      script: accept,
      plan: { ...plan, atStart: [{ kind: 'close' }, text('never sent')] },
    },
    divergences: ['buffered-amount-after-close', ...notEstablished],
  },
];

describe('WebSocket differential: named scenarios', () => {
  for (const { name, scenario, divergences } of NAMED) {
    it(name, async () => {
      const applied = await compare(scenario);
      expect([...applied].sort()).toEqual([...divergences].sort());
    });
  }
});
