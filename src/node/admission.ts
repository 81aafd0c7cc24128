// Owns the server's decision on a valid handshake, shared by HTTP/1.1 upgrades and HTTP/2 extended
// CONNECT streams: AcceptOptions checked once, the Origin allow-list, and `verifyRequest` bounded by a timeout.

import type { EventEmitter } from 'node:events';
import { STATUS_CODES } from 'node:http';
import type { DriverOptions } from '../driver/driver.js';
import { HandshakeError } from '../protocol/errors.js';
import { assertSafeHeader } from '../protocol/handshake.js';
import type { SessionOptions } from '../session/session.js';
import type { AcceptOptions, UpgradeRequestInfo, VerifyRejection, VerifyResult } from './accept-options.js';
import { DEFAULT_HEARTBEAT, validateHeartbeat } from './heartbeat.js';
import { originChecker } from './origins.js';
import { DEFAULT_HANDSHAKE_TIMEOUT, type SocketLinkOptions } from './socket-link.js';

/** AcceptOptions checked and turned into what the driver, the link and the admission step need. */
export interface PreparedOptions {
  readonly driverOptions: DriverOptions;
  /** What a server's session takes: the driver options with client masking required (RFC 6455 §5.1), made once. */
  readonly sessionOptions: SessionOptions;
  readonly linkOptions: SocketLinkOptions;
  readonly handshakeTimeout: number;
  readonly headers: readonly (readonly [string, string])[];
  readonly isOriginAllowed: ((origin: string | string[] | undefined) => boolean) | undefined;
  readonly verify: AcceptOptions['verifyRequest'];
  readonly maxHeadSize: number | undefined;
}

/** Every AcceptOptions name, as a record so that the compiler notices an option added without it. */
const ACCEPT_OPTIONS: Record<keyof AcceptOptions, true> = {
  protocols: true,
  perMessageDeflate: true,
  maxLength: true,
  maxFragments: true,
  closeTimeout: true,
  handshakeTimeout: true,
  heartbeat: true,
  origins: true,
  headers: true,
  verifyRequest: true,
  maxHeadSize: true,
};

/** The option names `acceptUpgrade` and `acceptSocket` take; the entry points built on them add their own. */
export const ACCEPT_OPTION_KEYS: readonly string[] = Object.keys(ACCEPT_OPTIONS);

/** Checks and converts AcceptOptions once; throws TypeError or RangeError for a bad one. */
export function prepareOptions(options: AcceptOptions): PreparedOptions {
  const handshakeTimeout = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
  if (typeof handshakeTimeout !== 'number' || !Number.isFinite(handshakeTimeout) || handshakeTimeout < 0) {
    throw new RangeError(`handshakeTimeout is a number of milliseconds >= 0, not ${handshakeTimeout}`);
  }
  const heartbeat = options.heartbeat === undefined ? DEFAULT_HEARTBEAT : options.heartbeat;
  const headers = Object.entries(options.headers ?? {});
  // RFC 7230 §3.2.4: no CR or LF in a field value, so no application value can split the response.
  for (const [name, value] of headers) assertSafeHeader(name, value);
  if (options.verifyRequest !== undefined && typeof options.verifyRequest !== 'function') {
    throw new TypeError(
      'verifyRequest is a function (request) => boolean | VerifyRejection | Promise of one',
    );
  }
  const driverOptions: DriverOptions = {
    ...(options.protocols === undefined ? {} : { protocols: options.protocols }),
    ...(options.perMessageDeflate === undefined ? {} : { perMessageDeflate: options.perMessageDeflate }),
    ...(options.maxLength === undefined ? {} : { maxLength: options.maxLength }),
    ...(options.maxFragments === undefined ? {} : { maxFragments: options.maxFragments }),
  };
  return {
    driverOptions,
    sessionOptions: { requireMasking: true, ...driverOptions },
    linkOptions: {
      ...(options.closeTimeout === undefined ? {} : { closeTimeout: options.closeTimeout }),
      heartbeat: heartbeat === false ? false : validateHeartbeat(heartbeat),
    },
    handshakeTimeout,
    headers,
    isOriginAllowed: options.origins === undefined ? undefined : originChecker(options.origins),
    verify: options.verifyRequest,
    maxHeadSize: options.maxHeadSize,
  };
}

/** Whether a valid request must wait for a decision: without `origins` or `verifyRequest` it is accepted at once. */
export function needsAdmission(prepared: PreparedOptions): boolean {
  return prepared.isOriginAllowed !== undefined || prepared.verify !== undefined;
}

/** A verifyRequest hook failed (threw, hung, or returned unusable headers): the server's owner gets the error. */
export class VerifyHookError extends Error {
  override readonly name = 'VerifyHookError';
  /** What went wrong, as an Error. */
  readonly hookError: Error;

  constructor(thrown: unknown) {
    const hookError = thrown instanceof Error ? thrown : new Error(String(thrown));
    super(`verifyRequest failed: ${hookError.message}`, { cause: hookError });
    this.hookError = hookError;
  }
}

/** Where admission takes place: the request, what ends the wait, and how the wire refuses. */
export interface AdmissionContext {
  readonly request: UpgradeRequestInfo;
  /** The socket or stream: its 'close' (the client went away) ends the wait for the hook. */
  readonly closable: Pick<EventEmitter, 'once' | 'off'>;
  /** Bounds the hook, in milliseconds (0: the caller bounds it). */
  readonly verifyTimeout: number;
  /** What admission throws when the client goes away while the hook runs. */
  readonly closedMessage: string;
  /** Answers the client with an HTTP error: raw HTTP/1.1 bytes, or an HTTP/2 response on the stream. */
  refuse(error: HandshakeError): void;
  /**
   * Throws if the refusal a VerifyRejection asks for cannot be written as asked; the refusal then goes
   * out plainly and the mistake is reported as a VerifyHookError. Without it, `refuse` copes alone.
   */
  checkRejection?: ((error: HandshakeError) => void) | undefined;
}

/**
 * The server's decision on a valid request: the Origin allow-list, then the application's hook. Refuses
 * through `context.refuse` and throws (the HandshakeError, or a VerifyHookError for the owner) unless
 * accepted; throws an Error if the client went away while the hook ran.
 */
export async function admit(prepared: PreparedOptions, context: AdmissionContext): Promise<void> {
  const isOriginAllowed = prepared.isOriginAllowed;
  if (isOriginAllowed !== undefined && !isOriginAllowed(context.request.headers.origin)) {
    // RFC 6455 §4.2.2 and §10.2: a server that checks Origin answers an unwanted one with 403.
    const refusal = new HandshakeError(403, 'Forbidden: this Origin may not open a WebSocket here');
    context.refuse(refusal);
    throw refusal;
  }
  const verify = prepared.verify;
  if (verify === undefined) return;
  const outcome = await settleWithin(verify, context);
  if (outcome.kind === 'closed') throw new Error(context.closedMessage);
  if (outcome.kind === 'threw') {
    context.refuse(new HandshakeError(500, 'Internal Server Error'));
    throw new VerifyHookError(outcome.error);
  }
  if (outcome.kind === 'timed out') {
    context.refuse(new HandshakeError(503, 'Service Unavailable'));
    throw new VerifyHookError(new Error(`verifyRequest did not settle within ${context.verifyTimeout} ms`));
  }
  const verdict = outcome.verdict;
  if (verdict === true) return;
  if (verdict === false || typeof verdict !== 'object' || verdict === null) {
    const refusal = new HandshakeError(403, 'Forbidden');
    context.refuse(refusal);
    throw refusal;
  }
  const { refusal, mistake } = rejectionOf(verdict, context.checkRejection);
  context.refuse(refusal);
  throw mistake === undefined ? refusal : new VerifyHookError(mistake);
}

type HookOutcome =
  | { kind: 'verdict'; verdict: VerifyResult }
  | { kind: 'threw'; error: unknown }
  | { kind: 'timed out' }
  | { kind: 'closed' };

/** Runs the hook; settles with its verdict, its error, a timeout, or the client going away, whichever is first. */
function settleWithin(
  verify: NonNullable<AcceptOptions['verifyRequest']>,
  context: AdmissionContext,
): Promise<HookOutcome> {
  const { closable, verifyTimeout } = context;
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const finish = (outcome: HookOutcome): void => {
      if (timer !== undefined) clearTimeout(timer);
      closable.off('close', onClose);
      resolve(outcome);
    };
    const onClose = (): void => finish({ kind: 'closed' });
    closable.once('close', onClose);
    if (verifyTimeout > 0) {
      timer = setTimeout(() => finish({ kind: 'timed out' }), verifyTimeout);
      timer.unref();
    }
    let pending: VerifyResult | Promise<VerifyResult>;
    try {
      pending = verify(context.request);
    } catch (error) {
      finish({ kind: 'threw', error });
      return;
    }
    Promise.resolve(pending).then(
      (verdict) => finish({ kind: 'verdict', verdict }),
      (error: unknown) => finish({ kind: 'threw', error }),
    );
  });
}

/** The refusal a VerifyRejection asks for, or, when it cannot be written as asked, a plain one and why. */
function rejectionOf(
  verdict: VerifyRejection,
  checkRejection: AdmissionContext['checkRejection'],
): { refusal: HandshakeError; mistake?: Error } {
  const status = verdict.status;
  if (!Number.isInteger(status) || status < 400 || status > 599) {
    return {
      refusal: new HandshakeError(500, 'Internal Server Error'),
      mistake: new RangeError(`verifyRequest refused with status ${status}; a refusal is 400-599`),
    };
  }
  const reason = verdict.reason ?? STATUS_CODES[status] ?? '';
  const refusal = new HandshakeError(status, reason, verdict.headers ?? {});
  if (checkRejection === undefined) return { refusal };
  try {
    // The same checks as the real write: a header that could split the response never reaches the wire.
    checkRejection(refusal);
  } catch (error) {
    return {
      refusal: new HandshakeError(status, reason),
      mistake: error instanceof Error ? error : new TypeError(String(error)),
    };
  }
  return { refusal };
}
