// Owns testing a WebSocket server by URL: each case on its own connection (handshake, script, close),
// a time limit per case, light cases with bounded concurrency and heavy ones alone, results in order.

import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import type { ConformanceCase } from './case.js';
import { casesFor, compareCaseIds, createCatalogue, selectCases } from './catalogue.js';
import { TesterDeflate } from './deflate.js';
import {
  checkServerResponse,
  createRequestDraft,
  listElements,
  newWebSocketKey,
  ResponseHeadReader,
  serializeRequest,
} from './handshake.js';
import { judge } from './judge.js';
import { negotiateAsClient } from './negotiation.js';
import { emptyObservation, type HandshakeObservation, type Observation } from './observation.js';
import { type CaseResult, createCaseResult, createSuiteResult, type SuiteResult } from './result.js';
import { CaseSession } from './session.js';
import { DEFAULT_CASE_TIMEOUT, resolveSettings, type SuiteSettings } from './settings.js';
import { WireLog } from './wire-log.js';

/** Options of {@link testServer}. */
export interface ServerTestOptions extends Partial<SuiteSettings> {
  /** Case patterns to run (Autobahn's syntax: `1.*`, `6.4.*`, or ids); all when absent. */
  cases?: readonly string[];
  /** Case patterns to leave out. */
  exclude?: readonly string[];
  /** The name the server is reported under. Default: the URL's host. */
  agent?: string;
  /** For wss: whether to check the server's certificate (default true), and extra CAs. */
  rejectUnauthorized?: boolean;
  ca?: string | Buffer | readonly (string | Buffer)[];
  /** Called after each case, in completion order. */
  onCaseComplete?(result: CaseResult, completed: number, total: number): void;
}

/**
 * Runs the conformance cases against a WebSocket server and resolves with every result. Never rejects for
 * anything the server does; rejects only for a URL that is not ws: or wss: (or http:/https:).
 *
 * @example
 * ```ts
 * const suite = await testServer('ws://127.0.0.1:9001', { cases: ['1.*', '6.4.*'] });
 * console.log(suite.counts.FAILED === 0 ? 'conforms' : 'fails');
 * ```
 */
export async function testServer(url: string | URL, options: ServerTestOptions = {}): Promise<SuiteResult> {
  const target = parseTarget(url);
  const settings = resolveSettings(pickSettings(options));
  const selected = selectCases(
    casesFor('server', createCatalogue({ limits: settings.limits })),
    options.cases,
    options.exclude,
  );
  const startedAt = new Date();
  const results: CaseResult[] = [];
  const connectOptions: TargetConnectOptions = {
    ...(options.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: options.rejectUnauthorized }),
    ...(options.ca === undefined ? {} : { ca: options.ca }),
  };
  const record = (result: CaseResult): void => {
    results.push(result);
    options.onCaseComplete?.(result, results.length, selected.length);
  };
  const light = selected.filter((definition) => definition.isExclusive !== true);
  const heavy = selected.filter((definition) => definition.isExclusive === true);
  await runPool(light, settings.concurrency, async (definition) =>
    record(await runServerCase(definition, target, settings, connectOptions)),
  );
  for (const definition of heavy) record(await runServerCase(definition, target, settings, connectOptions));
  results.sort((first, second) => compareCaseIds(first.id, second.id));
  return createSuiteResult({
    mode: 'server',
    agent: options.agent ?? target.host,
    target: target.href,
    startedAt: startedAt.toISOString(),
    durationMilliseconds: Math.round(Date.now() - startedAt.getTime()),
    settings,
    results,
  });
}

function pickSettings(options: ServerTestOptions): Partial<SuiteSettings> {
  const { cases, exclude, agent, rejectUnauthorized, ca, onCaseComplete, ...settings } = options;
  return settings;
}

function parseTarget(url: string | URL): URL {
  const target = new URL(typeof url === 'string' ? url : url.href);
  if (target.protocol === 'http:') target.protocol = 'ws:';
  if (target.protocol === 'https:') target.protocol = 'wss:';
  if (target.protocol !== 'ws:' && target.protocol !== 'wss:') {
    throw new TypeError(`A server to test is a ws: or wss: URL, not ${target.protocol}`);
  }
  return target;
}

/** Runs `task` over `items` with at most `limit` at a time. */
export async function runPool<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++]!;
      await task(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, () => worker()));
}

interface TargetConnectOptions {
  rejectUnauthorized?: boolean;
  ca?: string | Buffer | readonly (string | Buffer)[];
}

/** One case against the server: never throws; every failure becomes part of the observation. */
export async function runServerCase(
  definition: ConformanceCase,
  target: URL,
  settings: SuiteSettings,
  connectOptions: TargetConnectOptions = {},
): Promise<CaseResult> {
  const startedAt = new Date();
  const wireLog = new WireLog();
  const timeout = (definition.timeout ?? DEFAULT_CASE_TIMEOUT) * settings.caseTimeoutScale;
  let session: CaseSession | undefined;
  let socket: Duplex | undefined;
  let hasTimedOut = false;
  let onTimeout: (() => void) | undefined;
  const timedOut = new Promise<void>((resolve) => {
    onTimeout = resolve;
  });
  const timer = setTimeout(() => {
    hasTimedOut = true;
    const reason = `the case did not finish within ${timeout} ms`;
    if (session !== undefined) session.abort(reason);
    else {
      wireLog.note(reason);
      socket?.destroy();
    }
    onTimeout?.();
  }, timeout);
  let observation: Observation;
  try {
    const opened = await openConnection(definition, target, settings, wireLog, connectOptions, (created) => {
      socket = created;
    });
    if (opened.handshake.outcome !== 'open' || opened.handshake.problems.length > 0) {
      // RFC 6455 §4.1: a client fails the connection on a bad response; the tester does too.
      opened.socket?.destroy();
      observation = {
        ...emptyObservation(),
        handshake: opened.handshake,
        timedOut: hasTimedOut,
        durationMilliseconds: wireLog.now(),
      };
    } else {
      const deflate =
        opened.handshake.compression === undefined
          ? undefined
          : new TesterDeflate(opened.handshake.compression, settings.maxMessageLength);
      const activeSession = new CaseSession({
        socket: opened.socket!,
        testerRole: 'client',
        wireLog,
        deflate,
        timing: settings,
        maxMessageLength: settings.maxMessageLength,
        initialBytes: opened.rest,
        handshake: opened.handshake,
      });
      session = activeSession;
      if (definition.compression?.isRequired === true && deflate === undefined) {
        activeSession.unimplemented('permessage-deflate was not agreed in the handshake');
      }
      await runScript(definition, activeSession, timedOut);
      await Promise.race([activeSession.finish(definition.expect), timedOut]);
      observation = activeSession.observe();
    }
  } catch (error) {
    wireLog.note(`tester error: ${(error as Error).stack ?? String(error)}`);
    observation = {
      ...emptyObservation(),
      failures: [`the tester itself failed: ${(error as Error).message}`],
    };
    socket?.destroy();
  } finally {
    clearTimeout(timer);
  }
  const judgement = (definition.judge ?? judge)(observation, definition.expect);
  return createCaseResult(definition, observation, judgement, wireLog.toJSON(), startedAt);
}

/** Runs a case's script; an exception in it is a failure of the case, and a timeout stops waiting for it. */
export async function runScript(
  definition: ConformanceCase,
  session: CaseSession,
  timedOut: Promise<void>,
): Promise<void> {
  const script = definition.run(session).catch((error: unknown) => {
    session.fail(`the case script threw: ${(error as Error).message}`);
  });
  await Promise.race([script, timedOut]);
}

interface OpenedConnection {
  socket: Duplex | undefined;
  rest: Buffer;
  handshake: HandshakeObservation;
}

/** Connects, sends the (possibly rewritten) request and reads the response head. */
async function openConnection(
  definition: ConformanceCase,
  target: URL,
  settings: SuiteSettings,
  wireLog: WireLog,
  connectOptions: TargetConnectOptions,
  onSocket: (socket: Duplex) => void,
): Promise<OpenedConnection> {
  const key = newWebSocketKey();
  const offer = definition.compression?.offer;
  const draft = createRequestDraft(target, key, offer);
  definition.handshake?.request?.(draft);
  const requestText = serializeRequest(draft);
  const offeredProtocols = listElements(
    draft.headers
      .filter(([name]) => name.toLowerCase() === 'sec-websocket-protocol')
      .map(([, value]) => value),
  );
  const handshake: HandshakeObservation = {
    request: requestText,
    headers: {},
    problems: [],
    outcome: 'error',
  };
  const socket = connect(target, connectOptions);
  onSocket(socket);
  socket.on('error', () => {});

  return new Promise<OpenedConnection>((resolve) => {
    const reader = new ResponseHeadReader();
    let isSettled = false;
    const finish = (rest: Buffer = Buffer.alloc(0)): void => {
      if (isSettled) return;
      isSettled = true;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', onError);
      socket.off(connectEvent, onConnect);
      // Held until the case session listens, so that no frame behind the head is lost.
      socket.pause();
      resolve({ socket, rest, handshake });
    };
    const timer = setTimeout(() => {
      handshake.outcome = 'timeout';
      handshake.error = `no complete response within ${settings.handshakeTimeout} ms`;
      wireLog.note(handshake.error);
      socket.destroy();
      finish();
    }, settings.handshakeTimeout);
    const connectEvent = target.protocol === 'wss:' ? 'secureConnect' : 'connect';
    const onConnect = (): void => {
      wireLog.http('tx', requestText);
      socket.write(requestText);
    };
    const onData = (chunk: Buffer): void => {
      const result = reader.push(chunk);
      if (result.state === 'incomplete') return;
      if (result.state === 'error') {
        handshake.outcome = 'error';
        handshake.error = result.reason;
        wireLog.note(`unreadable response: ${result.reason}`);
        finish();
        return;
      }
      const head = result.head;
      wireLog.http('rx', head.text);
      handshake.response = head.text;
      handshake.status = head.statusCode;
      handshake.headers = head.headers;
      if (head.statusCode !== 101) {
        handshake.outcome = 'refused';
        finish();
        return;
      }
      handshake.outcome = 'open';
      handshake.problems.push(...checkServerResponse(head, key, offeredProtocols));
      const negotiation = negotiateAsClient(offer, head.headers['sec-websocket-extensions']);
      handshake.problems.push(...negotiation.problems);
      handshake.compression = negotiation.agreement;
      if (negotiation.agreement !== undefined)
        wireLog.note(`permessage-deflate agreed: ${negotiation.agreement.header}`);
      finish(result.rest);
    };
    const onClose = (): void => {
      handshake.outcome = 'dropped';
      handshake.error = 'the server closed the connection before a complete response';
      finish();
    };
    const onError = (error: Error): void => {
      handshake.outcome = 'error';
      handshake.error = error.message;
      wireLog.note(`connection error: ${error.message}`);
      finish();
    };
    socket.on(connectEvent, onConnect);
    socket.on('data', onData);
    socket.on('close', onClose);
    socket.on('error', onError);
  });
}

function connect(target: URL, options: TargetConnectOptions): net.Socket {
  const host = target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname;
  if (target.protocol === 'wss:') {
    const port = Number(target.port || 443);
    return tls.connect({
      host,
      port,
      ...(net.isIP(host) === 0 ? { servername: host } : {}),
      rejectUnauthorized: options.rejectUnauthorized ?? true,
      ...(options.ca === undefined ? {} : { ca: options.ca as string | Buffer | (string | Buffer)[] }),
    });
  }
  const socket = net.connect({ host, port: Number(target.port || 80) });
  socket.setNoDelay(true);
  return socket;
}
