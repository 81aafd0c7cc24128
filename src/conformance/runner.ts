// Owns testing a WebSocket server by URL: each case on its own connection (handshake, script, close),
// a time limit per case, light cases with bounded concurrency and heavy ones alone, results in order.

import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { isCertificateError } from '../node/certificate-hint.js';
import type { ConformanceCase } from './case.js';
import { casesFor, categoryOf, compareCaseIds, createCatalogue, selectCases } from './catalogue.js';
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
import { estimateTimeLeft, type GroupProgress, type TimeLeft } from './progress.js';
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
  /**
   * Stop the run once this many cases in a row could not even connect (the server crashed or was never
   * there, or its certificate does not verify): the rest would only repeat the same error. Default 5;
   * 0 runs every case whatever happens. The suite's `stopped` says why and how many were not run.
   */
  stopAfterUnreachable?: number;
  /** Called after each case, in completion order. */
  onCaseComplete?(result: CaseResult, completed: number, total: number, progress: CaseProgress): void;
}

/** Whether a case reached the server at all, and if not, why. */
export interface ConnectionOutcome {
  /** The TCP (for wss, TLS) connection was made. */
  readonly isReached: boolean;
  /** Why it was not: the socket's error message (`connect ECONNREFUSED 127.0.0.1:9001`). */
  readonly error?: string | undefined;
  /** The server's certificate did not verify (`--insecure`, or trust its CA). */
  readonly isCertificateError: boolean;
}

/** What a progress display needs after each case. */
export interface CaseProgress {
  readonly connection: ConnectionOutcome;
  readonly elapsedMilliseconds: number;
  /** Undefined until a case has been timed. */
  readonly timeLeft: TimeLeft | undefined;
}

/** How many unreachable cases in a row end a run, unless told otherwise. */
export const DEFAULT_STOP_AFTER_UNREACHABLE = 5;

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
  const light = selected.filter((definition) => definition.isExclusive !== true);
  const heavy = selected.filter((definition) => definition.isExclusive === true);
  // Time left: the concurrent cases as one group timed by the wall clock, each heavy category apart.
  const groups = new Map<string, { completed: number; remaining: number; spentMilliseconds: number }>();
  const groupOf = (definition: ConformanceCase): string =>
    definition.isExclusive === true ? `alone ${categoryOf(definition.id)}` : 'concurrent';
  for (const definition of selected) {
    const group = groups.get(groupOf(definition)) ?? { completed: 0, remaining: 0, spentMilliseconds: 0 };
    group.remaining++;
    groups.set(groupOf(definition), group);
  }
  const stopAfter = options.stopAfterUnreachable ?? DEFAULT_STOP_AFTER_UNREACHABLE;
  let unreachableInARow = 0;
  let lastReached: string | undefined;
  let stopped: string | undefined;
  const record = (
    definition: ConformanceCase,
    outcome: { result: CaseResult; connection: ConnectionOutcome },
    spentMilliseconds: number,
  ): void => {
    const { result, connection } = outcome;
    results.push(result);
    const group = groups.get(groupOf(definition))!;
    group.completed++;
    group.remaining--;
    group.spentMilliseconds =
      definition.isExclusive === true ? group.spentMilliseconds + spentMilliseconds : spentMilliseconds;
    if (connection.isReached) {
      unreachableInARow = 0;
      lastReached = result.id;
    } else if (++unreachableInARow >= stopAfter && stopAfter > 0 && stopped === undefined) {
      stopped = describeStop(target, unreachableInARow, connection, lastReached);
    }
    options.onCaseComplete?.(result, results.length, selected.length, {
      connection,
      elapsedMilliseconds: Date.now() - startedAt.getTime(),
      timeLeft: estimateTimeLeft([...groups.values()] satisfies GroupProgress[]),
    });
  };
  await runPool(
    light,
    settings.concurrency,
    async (definition) => {
      const outcome = await runCase(definition, target, settings, connectOptions);
      record(definition, outcome, Date.now() - startedAt.getTime());
    },
    () => stopped !== undefined,
  );
  for (const definition of heavy) {
    if (stopped !== undefined) break;
    const caseStartedAt = Date.now();
    const outcome = await runCase(definition, target, settings, connectOptions);
    record(definition, outcome, Date.now() - caseStartedAt);
  }
  results.sort((first, second) => compareCaseIds(first.id, second.id));
  const notRun = selected.length - results.length;
  return createSuiteResult({
    // Stopping matters only when cases were left: with none, the results say it all.
    ...(stopped === undefined || notRun === 0
      ? {}
      : { stopped: `${stopped} (${notRun} of ${selected.length} cases were not run)` }),
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
  const { cases, exclude, agent, rejectUnauthorized, ca, onCaseComplete, stopAfterUnreachable, ...settings } =
    options;
  return settings;
}

/** Why a run stopped early, in words a person can act on. */
function describeStop(
  target: URL,
  count: number,
  connection: ConnectionOutcome,
  lastReached: string | undefined,
): string {
  const failure = `stopped after ${count} cases in a row could not connect to ${target.href} (${connection.error ?? 'the connection failed'})`;
  if (connection.isCertificateError) {
    return `${failure}: the server's certificate does not verify; --insecure skips the check, or trust its CA with NODE_EXTRA_CA_CERTS=ca.pem`;
  }
  if (lastReached === undefined)
    return `${failure}: no case ever connected; is the server running at that address?`;
  return `${failure}: the server answered until case ${lastReached} and seems to have gone down`;
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

/** Runs `task` over `items` with at most `limit` at a time; takes no new item once `isStopped()`. */
export async function runPool<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<void>,
  isStopped: () => boolean = () => false,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length && !isStopped()) {
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
  return (await runCase(definition, target, settings, connectOptions)).result;
}

/** runServerCase, and whether the case reached the server at all. */
async function runCase(
  definition: ConformanceCase,
  target: URL,
  settings: SuiteSettings,
  connectOptions: TargetConnectOptions,
): Promise<{ result: CaseResult; connection: ConnectionOutcome }> {
  const startedAt = new Date();
  // Until openConnection says otherwise: a tester error before it is not the server's unreachability.
  let connection: ConnectionOutcome = { isReached: true, isCertificateError: false };
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
    connection = opened.connection;
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
  return {
    result: createCaseResult(definition, observation, judgement, wireLog.toJSON(), startedAt),
    connection,
  };
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
  connection: ConnectionOutcome;
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
    let isReached = false;
    let connectionError: Error | undefined;
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
      resolve({
        socket,
        rest,
        handshake,
        connection: {
          isReached,
          ...(isReached ? {} : { error: connectionError?.message ?? handshake.error }),
          isCertificateError: isCertificateError(connectionError),
        },
      });
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
      isReached = true;
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
      connectionError ??= error;
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
