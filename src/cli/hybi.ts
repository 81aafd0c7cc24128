#!/usr/bin/env node
// Owns the `hybi` command: `connect` (a client for the terminal, like wscat), `listen` (an echo or
// broadcast server), and `conformance` (the hybi-conformance suite as a subcommand).

import { parseArgs } from 'node:util';
import { isMainModule } from '../node/main-module.js';
import { EXIT, runConnect } from './connect-command.js';
import { runListen } from './listen-command.js';
import { Printer, shouldUseColor } from './output.js';

const USAGE = `hybi: WebSocket tools (RFC 6455, RFC 7692), no dependencies.

Usage:
  hybi connect <ws://host[:port]/path | wss://...> [options]
      Lines typed go out as text messages; what arrives is printed with a direction mark and the time.
      /ping [text]     send a ping            /close [code [reason]]  close (default 1000)
      /binary <hex>    send a binary message  //text                  send a line that starts with /
      End of input (Ctrl-D, or a piped file's end) closes with 1000, after --wait.
    -H, --header "Name: value"   extra request header (repeatable)
    -s, --subprotocol <name>     offer a subprotocol (repeatable)
    --insecure                   wss: do not verify the server's certificate
    --deflate                    offer permessage-deflate
    -w, --wait <seconds>         after the end of input, wait this long for replies before closing
  hybi listen <port> [options]
      An echo server (or --broadcast: each message goes to every other client), printing each connection
      with its subprotocol and extensions, and each message.
    --host <address>             default 127.0.0.1
    --path <path>                accept upgrades on this path only
    -s, --subprotocol <name>     a subprotocol to accept, in preference order (repeatable)
    --broadcast                  send each message to the other clients instead of echoing it
    --deflate                    accept permessage-deflate
  hybi conformance <server <url> | client | list> [options]
      The conformance suite (the same as hybi-conformance; hybi conformance --help for its options).

Common options: --json (one JSON object per line), --help, --version. Colours only on a terminal,
never with NO_COLOR set.

Exit status (connect): 0 closed normally (1000, 1001, 1005), 1 could not connect, 2 usage error,
3 closed abnormally (1006 or an error code). listen: 0 after Ctrl-C, 1 could not listen, 2 usage error.
`;

class UsageError extends Error {}

/** Runs the command with `argv` (without node and the script); resolves with the exit status. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'conformance') {
    // Loaded only for this subcommand: the suite is most of the package's code.
    const conformance = await import('../conformance/cli.js');
    return conformance.main(rest);
  }
  try {
    const { values, positionals } = parseArgs({
      args: [...rest],
      allowPositionals: true,
      options: {
        header: { type: 'string', short: 'H', multiple: true },
        subprotocol: { type: 'string', short: 's', multiple: true },
        insecure: { type: 'boolean' },
        deflate: { type: 'boolean' },
        wait: { type: 'string', short: 'w' },
        host: { type: 'string' },
        path: { type: 'string' },
        broadcast: { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
    });
    if (command === undefined || command === '--help' || command === '-h' || values.help === true) {
      process.stdout.write(USAGE);
      return command === undefined ? EXIT.usage : 0;
    }
    if (command === '--version') {
      process.stdout.write(`${await version()}\n`);
      return 0;
    }
    const isJson = values.json === true;
    const printer = new Printer({
      write: (line) => process.stdout.write(line),
      isJson,
      isColored: shouldUseColor(process.stdout.isTTY === true, process.env, isJson),
    });
    const error = (line: string): void => {
      process.stderr.write(`${line}\n`);
    };
    const protocols = values.subprotocol ?? [];
    if (command === 'connect') {
      const url = positionals[0];
      if (url === undefined)
        throw new UsageError('connect needs a URL, e.g. hybi connect ws://127.0.0.1:8080/');
      return await runConnect({
        url,
        headers: parseHeaders(values.header ?? []),
        protocols,
        isInsecure: values.insecure === true,
        hasDeflate: values.deflate === true,
        printer,
        isJson,
        input: process.stdin,
        waitAfterInput: seconds(values.wait, 'wait') * 1000,
        error,
      });
    }
    if (command === 'listen') {
      const portText = positionals[0];
      const port = Number(portText);
      if (portText === undefined || !Number.isInteger(port) || port < 0 || port > 65535) {
        throw new UsageError(`listen needs a port number (0-65535), not ${portText ?? 'nothing'}`);
      }
      const stopped = new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      return await runListen({
        port,
        host: values.host ?? '127.0.0.1',
        path: values.path,
        protocols,
        isBroadcast: values.broadcast === true,
        hasDeflate: values.deflate === true,
        printer,
        isJson,
        error,
        stopped,
      });
    }
    throw new UsageError(`Unknown command ${command}: connect, listen or conformance.`);
  } catch (error) {
    if (error instanceof UsageError || (error as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`hybi: ${(error as Error).message}\n\n${USAGE}`);
      return EXIT.usage;
    }
    if (error instanceof TypeError || error instanceof RangeError || error instanceof DOMException) {
      // A bad URL, header or subprotocol: the message says which.
      process.stderr.write(`hybi: ${error.message}\n`);
      return EXIT.usage;
    }
    throw error;
  }
}

function seconds(value: string | undefined, name: string): number {
  if (value === undefined) return 0;
  const number = Number(value);
  if (!Number.isFinite(number) || number < 0) throw new UsageError(`--${name} takes seconds, not ${value}`);
  return number;
}

function parseHeaders(lines: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new UsageError(`-H takes "Name: value", not ${JSON.stringify(line)}`);
    headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return headers;
}

async function version(): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  try {
    const manifest = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return manifest.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

if (isMainModule(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (status) => {
      process.exitCode = status;
      // stdin may still be open (a terminal): the command is over, do not wait for it.
      process.stdin.destroy();
    },
    (error: unknown) => {
      process.stderr.write(`hybi: ${(error as Error).stack ?? String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
