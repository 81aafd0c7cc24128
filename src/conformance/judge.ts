// Owns judging: turning an observation and an expectation into a verdict with its reasons, the way
// Autobahn judges (events against acceptable event lists, then the close), but strict about violations.

import type { CloseExpectation, Expectation, ExpectedEvent } from './case.js';
import { describeEvent, type Observation, type ObservedEvent } from './observation.js';
import { type Judgement, type Verdict, worseVerdict } from './verdict.js';

// Judgement lives beside Verdict (verdict.ts), so that case.ts can name it without importing this file.
export type { Judgement } from './verdict.js';

/**
 * Judges an observation. The order of checks: a handshake that did not open, then violations of the RFCs
 * (any frame the peer sent that breaks a MUST fails the case, even an informational one), the case's own
 * failures and timeouts, the events against the acceptable lists (OK, then NON-STRICT), the close (who
 * closed, whether cleanly, with which code), and the end of TCP.
 *
 * @example
 * ```ts
 * const judgement = judge(observation, failsConnection([1002]));
 * if (judgement.verdict === 'FAILED') console.log(judgement.reason);
 * ```
 */
export function judge(observation: Observation, expectation: Expectation): Judgement {
  const findings = new Findings();
  const handshake = observation.handshake;
  if (handshake !== undefined) {
    if (handshake.outcome !== 'open') {
      findings.add(
        'FAILED',
        `the opening handshake did not complete (${handshake.outcome}${handshake.error === undefined ? '' : `: ${handshake.error}`})`,
      );
    }
    for (const problem of handshake.problems) findings.add('FAILED', `handshake: ${problem}`);
  }
  for (const violation of observation.violations) {
    findings.add('FAILED', `${violation.rule}: ${violation.message} (at ${violation.at} ms)`);
  }
  for (const failure of observation.failures) findings.add('FAILED', failure);
  if (observation.timedOut) findings.add('FAILED', 'the case did not finish within its time limit');
  if (findings.verdict === 'FAILED') return findings.judgement(expectation, observation);

  if (observation.unimplemented !== undefined) {
    findings.add('UNIMPLEMENTED', observation.unimplemented);
    return findings.judgement(expectation, observation);
  }

  const eventVerdict = judgeEvents(observation.events, expectation);
  if (eventVerdict === 'NON-STRICT') {
    findings.add(
      'NON-STRICT',
      `the peer reached the required outcome, but later than it should have: ${describeEvents(observation.events)}`,
    );
  } else if (eventVerdict === 'FAILED') {
    findings.add('FAILED', 'what the peer sent differs from every acceptable outcome');
  }
  judgeClose(observation, expectation.close, findings);
  if (observation.close.serverKeptTcpOpen) {
    findings.add(
      'FAILED',
      'the server kept TCP open after the closing handshake until the tester dropped it (RFC 6455 §5.5.1: the server MUST close it immediately)',
    );
  }

  if (expectation.isInformational === true) {
    const outcome =
      eventVerdict === 'OK'
        ? 'the first listed outcome'
        : eventVerdict === 'NON-STRICT'
          ? 'the second listed outcome'
          : 'an unlisted outcome';
    const peerClose = observation.close.peerClose;
    const closing =
      peerClose === undefined
        ? 'no close frame from the peer'
        : `the peer closed with ${peerClose.code ?? 'an empty body'}`;
    return informational(
      `the RFC leaves this open; observed ${outcome} (${observation.events.length} events), ${closing}`,
      expectation,
      observation,
    );
  }
  return findings.judgement(expectation, observation);
}

function informational(reason: string, expectation: Expectation, observation: Observation): Judgement {
  return {
    verdict: 'INFORMATIONAL',
    reason,
    details: [reason],
    expected: describeExpectation(expectation),
    observed: describeObservation(observation),
  };
}

/** OK when the events equal an OK list, NON-STRICT when they equal a NON-STRICT list, FAILED otherwise. */
export function judgeEvents(events: readonly ObservedEvent[], expectation: Expectation): Verdict {
  if (expectation.ok.some((list) => eventsEqual(events, list))) return 'OK';
  if ((expectation.nonStrict ?? []).some((list) => eventsEqual(events, list))) return 'NON-STRICT';
  return 'FAILED';
}

function eventsEqual(observed: readonly ObservedEvent[], expected: readonly ExpectedEvent[]): boolean {
  if (observed.length !== expected.length) return false;
  for (let index = 0; index < observed.length; index++) {
    const actual = observed[index]!;
    const wanted = expected[index]!;
    if (actual.type !== wanted.type) return false;
    if (actual.type === 'marker') {
      if (wanted.type !== 'marker' || actual.tag !== wanted.tag) return false;
    } else if (actual.type === 'message') {
      if (wanted.type !== 'message' || actual.binary !== wanted.binary || !actual.data.equals(wanted.data))
        return false;
    } else if (wanted.type === 'marker' || !actual.data.equals(wanted.data)) {
      return false;
    }
  }
  return true;
}

function judgeClose(observation: Observation, expected: CloseExpectation, findings: Findings): void {
  const close = observation.close;
  if (expected.isClosedByTester) {
    if (close.initiator === 'peer') {
      const how =
        close.peerClose === undefined ? 'dropped TCP' : `sent a close frame${codeText(close.peerClose.code)}`;
      findings.add(
        'FAILED',
        `the peer ${how} before the tester closed; a conforming peer keeps the connection open here`,
      );
      return;
    }
    if (close.initiator === 'none' || close.testerClose === undefined) {
      findings.add('FAILED', 'the connection never reached the closing handshake');
      return;
    }
    if (close.peerClose === undefined) {
      if (expected.requireClean) {
        findings.add(
          'FAILED',
          'the peer did not answer the tester’s close frame with its own (RFC 6455 §5.5.1)',
        );
      }
      return;
    }
  } else {
    if (close.wasKilled) {
      findings.add(
        'FAILED',
        'the peer did not fail the connection; the tester gave up waiting and dropped it',
      );
      return;
    }
    if (close.initiator !== 'peer') {
      findings.add('FAILED', 'the connection was not failed by the peer');
      return;
    }
    if (close.peerClose === undefined) {
      if (expected.requireClean) findings.add('FAILED', 'the peer dropped TCP without a close frame');
      return;
    }
  }
  const code = close.peerClose.code;
  if (code === undefined || expected.codes.includes(code)) return;
  const wanted = `${expected.codes.join(' or ')} (or an empty close body)`;
  if (expected.nonStrictCodes?.includes(code) === true) {
    findings.add('NON-STRICT', `the peer closed with code ${code}; ${wanted} fits better`);
  } else {
    findings.add('FAILED', `the peer closed with code ${code}; expected ${wanted}`);
  }
}

function codeText(code: number | undefined): string {
  return code === undefined ? ' (no code)' : ` (code ${code})`;
}

/** Collects findings; the verdict is the worst of them. */
class Findings {
  verdict: Verdict = 'OK';
  readonly details: string[] = [];
  private readonly verdictOfDetail: Verdict[] = [];

  add(verdict: Verdict, detail: string): void {
    this.verdict = worseVerdict(this.verdict, verdict);
    this.details.push(detail);
    this.verdictOfDetail.push(verdict);
  }

  judgement(expectation: Expectation, observation: Observation): Judgement {
    // The reason is the first finding that carries the final verdict.
    const reason =
      this.details.length === 0
        ? 'the peer did what the RFC requires'
        : (this.firstDetailOf(this.verdict) ?? this.details[0]!);
    return {
      verdict: this.verdict,
      reason,
      details: [...this.details],
      expected: describeExpectation(expectation),
      observed: describeObservation(observation),
    };
  }

  private firstDetailOf(verdict: Verdict): string | undefined {
    return this.details.find((_, index) => this.verdictOfDetail[index] === verdict) ?? this.details[0];
  }
}

function describeEvents(events: readonly ObservedEvent[]): string {
  return events.length === 0 ? 'nothing' : events.map((event) => describeEvent(event)).join(', then ');
}

/** The expectation as text: the acceptable event lists and the close. */
export function describeExpectation(expectation: Expectation): string {
  const lines: string[] = [];
  const describeList = (list: readonly ExpectedEvent[]): string =>
    list.length === 0 ? 'nothing' : list.map((event) => describeEvent(event)).join(', then ');
  for (const list of expectation.ok) lines.push(`OK: ${describeList(list)}`);
  for (const list of expectation.nonStrict ?? []) lines.push(`NON-STRICT: ${describeList(list)}`);
  const close = expectation.close;
  const codes = `${close.codes.join('/')}${close.requireClean ? '' : ' or a dropped TCP connection'}`;
  lines.push(
    close.isClosedByTester
      ? `close: the tester closes; the peer answers with ${codes}`
      : `close: the peer fails the connection with ${codes}`,
  );
  if (expectation.isInformational === true) lines.push('(informational: the RFC leaves the outcome open)');
  return lines.join('\n');
}

/** The observation as text: events, violations and the close. */
export function describeObservation(observation: Observation): string {
  const lines: string[] = [];
  const handshake = observation.handshake;
  if (handshake !== undefined && handshake.outcome !== 'open') {
    lines.push(
      `handshake: ${handshake.outcome}${handshake.status === undefined ? '' : ` (HTTP ${handshake.status})`}`,
    );
  }
  lines.push(`events: ${describeEvents(observation.events)}`);
  for (const violation of observation.violations)
    lines.push(`violation: ${violation.rule}: ${violation.message}`);
  const close = observation.close;
  const closes: [at: number, text: string][] = [];
  if (close.testerClose !== undefined) {
    closes.push([
      close.testerClose.at,
      `tester sent close${codeText(close.testerClose.code)} at ${close.testerClose.at} ms`,
    ]);
  }
  if (close.peerClose !== undefined) {
    closes.push([
      close.peerClose.at,
      `peer sent close${codeText(close.peerClose.code)}${close.peerClose.reason === '' ? '' : ` "${close.peerClose.reason}"`} at ${close.peerClose.at} ms`,
    ]);
  }
  // In the order they happened; on a tie the initiator's comes first.
  closes.sort((first, second) => first[0] - second[0] || (close.initiator === 'peer' ? -1 : 1));
  const parts = closes.map(([, text]) => text);
  if (close.wasKilled) parts.push('tester dropped the connection after waiting');
  parts.push(
    close.tcpClosedBy === 'open'
      ? 'TCP still open at the end'
      : `TCP closed first by the ${close.tcpClosedBy}`,
  );
  lines.push(`close: ${parts.join('; ')}`);
  for (const note of observation.notes) lines.push(`note: ${note}`);
  return lines.join('\n');
}
