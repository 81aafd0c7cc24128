// Owns the client runner for Autobahn's fuzzingserver (and the native suite's client tester): hybi's
// websocket-driver client over node:net, following the runner protocol: /getCaseCount, then
// /runCase?case=N&agent=A for each case echoing every message with its type, then /updateReports?agent=A.
//
//   npx tsx autobahn/client-runner.ts [--url ws://127.0.0.1:9001] [--agent hybi] [--no-deflate]

import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type ClientDriver, client } from '../src/index.js';

export interface ClientRunnerOptions {
  /** The fuzzing server, e.g. `ws://127.0.0.1:9001`. */
  url: string;
  /** The name results are filed under. */
  agent: string;
  /** Offer permessage-deflate. Default true. */
  perMessageDeflate?: boolean;
  /** A connection still open after this many milliseconds is dropped (the server has its own limits). Default 600 000. */
  connectionTimeout?: number;
  /** Called before each case. */
  onCase?(caseNumber: number, caseCount: number): void;
}

/**
 * Runs every case the server offers and asks it to write the reports. Resolves with the number of cases.
 * @example
 * ```ts
 * await runAutobahnClient({ url: 'ws://127.0.0.1:9001', agent: 'hybi' });
 * ```
 */
export async function runAutobahnClient(options: ClientRunnerOptions): Promise<number> {
  const base = options.url.replace(/\/+$/, '');
  const agent = encodeURIComponent(options.agent);
  let caseCount = 0;
  await connect(`${base}/getCaseCount`, options, (driver) => {
    driver.on('message', ({ data }) => {
      caseCount = Number(JSON.parse(String(data)));
    });
  });
  if (!Number.isInteger(caseCount) || caseCount < 0)
    throw new Error(`the server sent a case count of ${caseCount}`);
  for (let caseNumber = 1; caseNumber <= caseCount; caseNumber++) {
    options.onCase?.(caseNumber, caseCount);
    await connect(`${base}/runCase?case=${caseNumber}&agent=${agent}`, options, (driver) => {
      driver.on('message', ({ data }) => {
        if (typeof data === 'string') driver.text(data);
        else driver.binary(data);
      });
    });
  }
  await connect(`${base}/updateReports?agent=${agent}`, options, () => {});
  return caseCount;
}

/** Opens one connection and resolves when its TCP connection is gone, whatever happened on it. */
function connect(
  url: string,
  options: ClientRunnerOptions,
  setUp: (driver: ClientDriver) => void,
): Promise<void> {
  return new Promise((resolve) => {
    const target = new URL(url);
    const socket = net.connect({ host: target.hostname, port: Number(target.port || 80) });
    socket.setNoDelay(true);
    const driver = client(url, { perMessageDeflate: options.perMessageDeflate ?? true });
    const timer = setTimeout(() => socket.destroy(), options.connectionTimeout ?? 600_000);
    // Handshake failures and protocol errors arrive as 'error' then 'close'; a runner only moves on.
    driver.on('error', () => {});
    driver.on('close', () => socket.end());
    setUp(driver);
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      driver.io.end();
      resolve();
    });
    socket.on('end', () => driver.io.end());
    socket.on('data', (chunk: Buffer) => driver.io.write(chunk));
    driver.io.pipe(socket);
    socket.once('connect', () => driver.start());
  });
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({
    options: {
      url: { type: 'string', default: 'ws://127.0.0.1:9001' },
      agent: { type: 'string', default: 'hybi' },
      'no-deflate': { type: 'boolean', default: false },
    },
  });
  const count = await runAutobahnClient({
    url: values.url,
    agent: values.agent,
    perMessageDeflate: values['no-deflate'] !== true,
    onCase: (caseNumber, caseCount) => {
      if (process.stderr.isTTY === true) process.stderr.write(`\rcase ${caseNumber}/${caseCount}`);
    },
  });
  process.stdout.write(`\nran ${count} cases as agent "${values.agent}"; reports requested\n`);
}
