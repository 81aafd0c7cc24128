// Owns `npm run autobahn`: the real Autobahn|Testsuite (crossbario/autobahn-testsuite in Docker) against
// hybi's echo server (fuzzingclient) and hybi's client runner (fuzzingserver), then the report gate. Without
// a Docker engine it says so and exits 1. With --local it runs the same suite without Docker, from the
// Python 3 port beside the repository (local.ts).
//
//   npm run autobahn [-- --mode server|client|all] [--image crossbario/autobahn-testsuite] [--reports reports]
//   npm run autobahn -- --local [--mode ...] [--face websocket|driver] [--cases JSON] (see local.ts)

import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runAutobahnClient } from './client-runner.js';
import { startEchoServer } from './echo-server.js';
import { gateReports } from './gate.js';
import { runLocal } from './local.js';

const AUTOBAHN_PORT = 9001;
const CONTAINER_NAME = 'hybi-autobahn-fuzzingserver';
const here = dirname(fileURLToPath(import.meta.url));

export type DockerStatus = { isAvailable: true } | { isAvailable: false; reason: string };

/** Whether a Docker engine answers: the CLI alone is not enough (`docker info` must succeed). */
export function checkDocker(): DockerStatus {
  const result = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  if (result.error !== undefined) {
    const code = (result.error as NodeJS.ErrnoException).code;
    return {
      isAvailable: false,
      reason: code === 'ENOENT' ? 'the docker command is not installed' : result.error.message,
    };
  }
  if (result.status !== 0) {
    const detail =
      `${result.stderr}`.split('\n').find((line) => line.trim() !== '') ?? `exit status ${result.status}`;
    return {
      isAvailable: false,
      reason: `the docker CLI is installed but no Docker engine answers (\`docker info\`: ${detail.trim()})`,
    };
  }
  return { isAvailable: true };
}

function docker(args: string[]): Promise<number> {
  return new Promise((resolveExit) => {
    const child = spawn('docker', args, { stdio: 'inherit' });
    child.on('error', () => resolveExit(1));
    child.on('exit', (code) => resolveExit(code ?? 1));
  });
}

function waitForPort(port: number, timeoutMilliseconds: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMilliseconds;
  return new Promise((resolveReady) => {
    const attempt = (): void => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolveReady(true);
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline) resolveReady(false);
        else setTimeout(attempt, 500);
      });
    };
    attempt();
  });
}

async function main(): Promise<number> {
  if (process.argv.includes('--local')) return runLocal(process.argv.slice(2));
  const { values } = parseArgs({
    options: {
      mode: { type: 'string', default: 'all' },
      image: { type: 'string', default: 'crossbario/autobahn-testsuite' },
      reports: { type: 'string', default: 'reports' },
    },
  });
  if (!['server', 'client', 'all'].includes(values.mode)) {
    process.stderr.write(`--mode is server, client or all, not ${values.mode}\n`);
    return 2;
  }
  const status = checkDocker();
  if (!status.isAvailable) {
    process.stderr.write(
      `npm run autobahn needs a Docker engine to run ${values.image}, and ${status.reason}.\n` +
        'Start a Docker engine (or run it in CI: see autobahn/README.md), or run `npm run conformance`,\n' +
        'the native TypeScript suite, which needs neither Python nor Docker.\n',
    );
    return 1;
  }
  const reports = resolve(values.reports);
  // Host networking lets the container reach 127.0.0.1:9001 and be reached there (Linux; see the README).
  const volumes = ['-v', `${here}:/config:ro`, '-v', `${reports}:/reports`, '-w', '/'];

  if (values.mode !== 'client') {
    const server = await startEchoServer({ port: AUTOBAHN_PORT, host: '127.0.0.1', perMessageDeflate: true });
    process.stdout.write(`hybi echo server at ${server.url}; running the fuzzingclient (every case)…\n`);
    try {
      const exit = await docker([
        'run',
        '--rm',
        '--network',
        'host',
        ...volumes,
        values.image,
        'wstest',
        '-m',
        'fuzzingclient',
        '-s',
        '/config/fuzzingclient.json',
      ]);
      if (exit !== 0) {
        process.stderr.write(`the fuzzingclient exited with ${exit}\n`);
        return 1;
      }
    } finally {
      await server.close();
    }
  }

  if (values.mode !== 'server') {
    const started = await docker([
      'run',
      '-d',
      '--rm',
      '--network',
      'host',
      '--name',
      CONTAINER_NAME,
      ...volumes,
      values.image,
      'wstest',
      '-m',
      'fuzzingserver',
      '-s',
      '/config/fuzzingserver.json',
    ]);
    if (started !== 0) return 1;
    try {
      if (!(await waitForPort(AUTOBAHN_PORT, 60_000))) {
        process.stderr.write(`the fuzzingserver did not listen on ${AUTOBAHN_PORT} within 60 s\n`);
        return 1;
      }
      for (const [agent, perMessageDeflate] of [
        ['hybi-client', true],
        ['hybi-client-no-deflate', false],
      ] as const) {
        process.stdout.write(`running every case as ${agent}…\n`);
        await runAutobahnClient({ url: `ws://127.0.0.1:${AUTOBAHN_PORT}`, agent, perMessageDeflate });
      }
    } finally {
      await docker(['stop', CONTAINER_NAME]);
    }
  }

  // Only this run's directories: reports/ may also hold the native suite's reports.
  const directories =
    values.mode === 'server' ? ['servers'] : values.mode === 'client' ? ['clients'] : ['servers', 'clients'];
  let isPassing = true;
  for (const directory of directories) {
    const gate = gateReports(join(reports, directory));
    process.stdout.write(`${gate.lines.join('\n')}\n`);
    isPassing &&= gate.passed;
  }
  return isPassing ? 0 : 1;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = await main();
}
