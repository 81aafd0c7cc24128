// Owns testing WebSocket clients: an HTTP server that speaks Autobahn's fuzzing-server runner protocol
// (/getCaseCount, /runCase?case=N&agent=A, /updateReports?agent=A, plus /getCaseInfo and /getCaseStatus),
// so existing Autobahn client runners work against it unchanged, and runs each case as the server.

import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ConformanceCase, Expectation } from './case.js';
import { casesFor, compareCaseIds, createCatalogue, selectCases } from './catalogue.js';
import { TesterDeflate } from './deflate.js';
import {
  checkClientRequest,
  createResponseDraft,
  fieldsFromRawHeaders,
  type HeaderFields,
  serializeResponse,
} from './handshake.js';
import { judge } from './judge.js';
import { negotiateAsServer } from './negotiation.js';
import { emptyObservation, type HandshakeObservation, type Observation } from './observation.js';
import { type CaseResult, createCaseResult, createSuiteResult, type SuiteResult } from './result.js';
import { runScript } from './runner.js';
import { CaseSession } from './session.js';
import { DEFAULT_CASE_TIMEOUT, resolveSettings, type SuiteSettings } from './settings.js';
import { WireLog } from './wire-log.js';

/** Options of {@link startClientTester}. */
export interface ClientTesterOptions extends Partial<SuiteSettings> {
  /** TCP port; 0 picks a free one. Default 9001, Autobahn's. */
  port?: number;
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string;
  /** Case patterns to offer (Autobahn's syntax); all client cases when absent. */
  cases?: readonly string[];
  exclude?: readonly string[];
  /** Called after each case a client ran. */
  onCaseComplete?(agent: string, result: CaseResult): void;
  /** Called when a client asks for /updateReports, with that agent's suite. */
  onReportsRequested?(suite: SuiteResult): void | Promise<void>;
}

/** A running client tester. */
export interface ClientTester {
  /** Where client runners connect, e.g. `ws://127.0.0.1:9001`. */
  readonly url: string;
  readonly port: number;
  /** The cases served, in runner order: /runCase?case=1 is the first. */
  readonly cases: readonly ConformanceCase[];
  /** The results of one agent so far. */
  suite(agent: string): SuiteResult | undefined;
  agents(): string[];
  /** Stops listening and drops open connections. */
  close(): Promise<void>;
}

/** A closing handshake started by the tester right away, for the runner protocol's control connections. */
const CONTROL_CLOSE: Expectation = {
  ok: [[]],
  close: { isClosedByTester: true, codes: [1000], requireClean: false },
  settleTime: 0,
};

/**
 * Starts the tester for clients. Each /runCase connection runs one case with the tester as the server;
 * results collect per agent and are handed to `onReportsRequested` on /updateReports.
 *
 * @example
 * ```ts
 * const tester = await startClientTester({ port: 9001, onReportsRequested: (suite) => console.log(suite.counts) });
 * // point an Autobahn client runner at tester.url
 * ```
 */
export async function startClientTester(options: ClientTesterOptions = {}): Promise<ClientTester> {
  const {
    port = 9001,
    host = '127.0.0.1',
    cases: include,
    exclude,
    onCaseComplete,
    onReportsRequested,
    ...settingsInput
  } = options;
  const settings = resolveSettings(settingsInput);
  const cases = selectCases(
    casesFor('client', createCatalogue({ limits: settings.limits })),
    include,
    exclude,
  );
  const runs = new Map<string, { startedAt: Date; results: Map<string, CaseResult> }>();
  const sockets = new Set<Duplex>();

  const suiteOf = (agent: string): SuiteResult | undefined => {
    const run = runs.get(agent);
    if (run === undefined) return undefined;
    const results = [...run.results.values()].sort((first, second) => compareCaseIds(first.id, second.id));
    return createSuiteResult({
      mode: 'client',
      agent,
      target: url,
      startedAt: run.startedAt.toISOString(),
      durationMilliseconds: Math.round(Date.now() - run.startedAt.getTime()),
      settings,
      results,
    });
  };

  const server = createServer((request, response) => {
    // Plain HTTP: a short page that says what this is.
    const body = `hybi-conformance client tester: ${cases.length} cases. Point an Autobahn client runner at ws://${request.headers.host ?? 'this-host'}/\n`;
    response.writeHead(request.url === '/' ? 200 : 404, { 'Content-Type': 'text/plain; charset=utf-8' });
    response.end(body);
  });

  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    (socket as { setNoDelay?: (noDelay: boolean) => void }).setNoDelay?.(true);
    void route(request, socket, head).catch((error: unknown) => {
      socket.destroy();
      process.emitWarning(`hybi-conformance: ${(error as Error).message}`);
    });
  });

  async function route(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const location = new URL(request.url ?? '/', 'http://tester.invalid');
    const agent = location.searchParams.get('agent') ?? 'unknown';
    const caseNumber = Number(location.searchParams.get('case'));
    switch (location.pathname) {
      case '/getCaseCount':
        return sendControl(request, socket, head, JSON.stringify(cases.length));
      case '/getCaseInfo': {
        const definition = cases[caseNumber - 1];
        return sendControl(
          request,
          socket,
          head,
          definition === undefined
            ? 'null'
            : JSON.stringify({ id: definition.id, description: definition.description }),
        );
      }
      case '/getCaseStatus': {
        const definition = cases[caseNumber - 1];
        const result = definition === undefined ? undefined : runs.get(agent)?.results.get(definition.id);
        return sendControl(request, socket, head, JSON.stringify({ behavior: result?.verdict ?? 'UNKNOWN' }));
      }
      case '/updateReports': {
        const suite = suiteOf(agent);
        if (suite !== undefined) await onReportsRequested?.(suite);
        return sendControl(request, socket, head, undefined);
      }
      case '/runCase': {
        const definition = cases[caseNumber - 1];
        if (definition === undefined) {
          socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
          return;
        }
        let run = runs.get(agent);
        if (run === undefined) {
          run = { startedAt: new Date(), results: new Map() };
          runs.set(agent, run);
        }
        const result = await runClientCase(definition, request, socket, head, settings);
        run.results.set(definition.id, result);
        onCaseComplete?.(agent, result);
        return;
      }
      default:
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `ws://${urlHost}:${address.port}`;

  return {
    url,
    port: address.port,
    cases,
    suite: suiteOf,
    agents: () => [...runs.keys()],
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Accepts a control connection, sends one text message (if any) and closes. */
async function sendControl(
  request: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  message: string | undefined,
): Promise<void> {
  const headers = fieldsFromRawHeaders(request.rawHeaders);
  const key = headers['sec-websocket-key']?.[0];
  if (key === undefined || checkClientRequest(requestHeadOf(request, headers)).length > 0) {
    socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  const settings = resolveSettings({ settleTime: 0 });
  const session = new CaseSession({
    socket,
    testerRole: 'server',
    wireLog: new WireLog(),
    deflate: undefined,
    timing: settings,
    maxMessageLength: 1024 * 1024,
    initialBytes: head,
    responseHead: Buffer.from(serializeResponse(createResponseDraft(key, undefined))),
  });
  if (message !== undefined) await session.sendMessage(message);
  await session.finish(CONTROL_CLOSE);
}

function requestHeadOf(request: IncomingMessage, headers: HeaderFields) {
  return { method: request.method, httpVersion: request.httpVersion, headers };
}

function requestText(request: IncomingMessage): string {
  const lines = [`${request.method} ${request.url} HTTP/${request.httpVersion}`];
  for (let index = 0; index + 1 < request.rawHeaders.length; index += 2) {
    lines.push(`${request.rawHeaders[index]}: ${request.rawHeaders[index + 1]}`);
  }
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** One case with the tester as the server; never throws. */
async function runClientCase(
  definition: ConformanceCase,
  request: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  settings: SuiteSettings,
): Promise<CaseResult> {
  const startedAt = new Date();
  const wireLog = new WireLog();
  const headers = fieldsFromRawHeaders(request.rawHeaders);
  const text = requestText(request);
  wireLog.http('rx', text);
  const handshake: HandshakeObservation = {
    request: text,
    headers,
    problems: checkClientRequest(requestHeadOf(request, headers)),
    outcome: 'open',
  };
  const key = headers['sec-websocket-key']?.[0];
  if (key === undefined || handshake.problems.length > 0) {
    const response = 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n';
    wireLog.http('tx', response);
    socket.end(response);
    handshake.response = response;
    handshake.status = 400;
    handshake.outcome = 'refused';
    const observation: Observation = {
      ...emptyObservation(),
      handshake,
      durationMilliseconds: wireLog.now(),
    };
    return createCaseResult(
      definition,
      observation,
      judge(observation, definition.expect),
      wireLog.toJSON(),
      startedAt,
    );
  }

  const extensionOffer = headers['sec-websocket-extensions']?.join(', ');
  const negotiation = negotiateAsServer(extensionOffer, definition.compression);
  if (negotiation.note !== undefined) wireLog.note(negotiation.note);
  const draft = createResponseDraft(key, negotiation.response);
  definition.handshake?.response?.(draft, { headers, extensionOffer });
  const responseText = serializeResponse(draft);
  wireLog.http('tx', responseText);
  handshake.response = responseText;
  handshake.status = Number(draft.statusLine.split(' ')[1]);
  // A case that rewrote the extension answer is testing the client's refusal; no compression then.
  const sentExtensions = draft.headers.find(
    ([name]) => name.toLowerCase() === 'sec-websocket-extensions',
  )?.[1];
  const agreement =
    sentExtensions !== undefined && sentExtensions === negotiation.response
      ? negotiation.agreement
      : undefined;
  handshake.compression = agreement;

  const timeout = (definition.timeout ?? DEFAULT_CASE_TIMEOUT) * settings.caseTimeoutScale;
  const session = new CaseSession({
    socket,
    testerRole: 'server',
    wireLog,
    deflate: agreement === undefined ? undefined : new TesterDeflate(agreement, settings.maxMessageLength),
    timing: settings,
    maxMessageLength: settings.maxMessageLength,
    initialBytes: head,
    // The 101 leaves with the case's first frames, in one write, as Autobahn's does.
    responseHead: Buffer.from(responseText),
    handshake,
  });
  if (definition.compression?.isRequired === true && agreement === undefined) {
    session.unimplemented(
      `permessage-deflate was not agreed${negotiation.note === undefined ? '' : `: ${negotiation.note}`}`,
    );
  }
  let onTimeout: (() => void) | undefined;
  const timedOut = new Promise<void>((resolve) => {
    onTimeout = resolve;
  });
  const timer = setTimeout(() => {
    session.abort(`the case did not finish within ${timeout} ms`);
    onTimeout?.();
  }, timeout);
  try {
    await runScript(definition, session, timedOut);
    await Promise.race([session.finish(definition.expect), timedOut]);
  } finally {
    clearTimeout(timer);
  }
  const observation = session.observe();
  const judgement = (definition.judge ?? judge)(observation, definition.expect);
  return createCaseResult(definition, observation, judgement, wireLog.toJSON(), startedAt);
}
