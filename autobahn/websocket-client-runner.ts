// Owns the client runner for Autobahn's fuzzingserver with hybi's browser-style WebSocket (the modern API;
// client-runner.ts is the same protocol with the websocket-driver API): /getCaseCount, then one connection
// per case to /runCase?case=N&agent=A that echoes every message with its type, one case after the other,
// then /updateReports?agent=A.
//
//   npx tsx autobahn/websocket-client-runner.ts [--url ws://127.0.0.1:9001] [--agent hybi] [--no-deflate]
// (URL and AGENT in the environment, as ../shared/autobahn/run-fuzzingserver.sh sets them, work too.)

import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { WebSocket } from '../src/index.js';

export interface WebSocketClientRunnerOptions {
  /** The fuzzing server, e.g. `ws://127.0.0.1:9001`. */
  url: string;
  /** The name results are filed under. */
  agent: string;
  /** Offer permessage-deflate. Default true. */
  perMessageDeflate?: boolean;
  /** Called before each case. */
  onCase?(caseNumber: number, caseCount: number): void;
}

/** Opens one connection; echoes every message when `isEcho`, else keeps the last one; resolves on close. */
function runConnection(url: string, isEcho: boolean, perMessageDeflate: boolean): Promise<string> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url, [], { perMessageDeflate });
    let last = '';
    socket.onmessage = (event) => {
      // binaryType 'nodebuffer' (the default): a binary message is a Buffer and goes back as binary.
      if (isEcho) socket.send(event.data as string | Buffer);
      else last = String(event.data);
    };
    // The cases provoke failures on purpose; wstest judges them and the close follows.
    socket.onerror = () => {};
    socket.onclose = () => resolve(last);
  });
}

/**
 * Runs every case the server offers and asks it to write the reports. Resolves with the number of cases.
 * @example
 * ```ts
 * await runWebSocketAutobahnClient({ url: 'ws://127.0.0.1:9001', agent: 'hybi-websocket' });
 * ```
 */
export async function runWebSocketAutobahnClient(options: WebSocketClientRunnerOptions): Promise<number> {
  const base = options.url.replace(/\/+$/, '');
  const agent = encodeURIComponent(options.agent);
  const perMessageDeflate = options.perMessageDeflate ?? true;
  const caseCount = Number(await runConnection(`${base}/getCaseCount`, false, perMessageDeflate));
  if (!Number.isInteger(caseCount) || caseCount < 0)
    throw new Error(`the server sent a case count of ${caseCount}`);
  for (let caseNumber = 1; caseNumber <= caseCount; caseNumber++) {
    options.onCase?.(caseNumber, caseCount);
    await runConnection(`${base}/runCase?case=${caseNumber}&agent=${agent}`, true, perMessageDeflate);
  }
  await runConnection(`${base}/updateReports?agent=${agent}`, false, perMessageDeflate);
  return caseCount;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({
    options: {
      url: { type: 'string', default: process.env.URL ?? 'ws://127.0.0.1:9001' },
      agent: { type: 'string', default: process.env.AGENT ?? 'hybi' },
      'no-deflate': { type: 'boolean', default: false },
    },
  });
  const count = await runWebSocketAutobahnClient({
    url: values.url,
    agent: values.agent,
    perMessageDeflate: values['no-deflate'] !== true,
    onCase: (caseNumber, caseCount) => {
      if (process.stderr.isTTY === true) process.stderr.write(`\rcase ${caseNumber}/${caseCount}`);
    },
  });
  process.stdout.write(`\nran ${count} cases as agent "${values.agent}"; reports requested\n`);
}
