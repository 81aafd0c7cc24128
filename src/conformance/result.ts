// Owns the results of a run as the reports read them: one case's verdict with its evidence, and a suite
// of cases against one peer.

import type { ConformanceCase } from './case.js';
import { categoryOf, categoryTitle, subcategoryTitle } from './catalogue.js';
import { type CloseObservation, type EventSummary, type Observation, summarizeEvent } from './observation.js';
import type { SuiteSettings } from './settings.js';
import type { Judgement } from './verdict.js';
import { countVerdicts, type Verdict, type VerdictCounts } from './verdict.js';
import type { WireLogEntry } from './wire-log.js';

/** The handshake as reported (the agreed compression in words). */
export interface HandshakeSummary {
  request: string;
  response?: string | undefined;
  status?: number | undefined;
  outcome: string;
  problems: string[];
  compression?: string | undefined;
}

export interface CaseResult {
  id: string;
  category: string;
  categoryTitle: string;
  subcategoryTitle?: string | undefined;
  description: string;
  expectation: string;
  references: readonly string[];
  verdict: Verdict;
  reason: string;
  details: string[];
  expected: string;
  observed: string;
  startedAt: string;
  durationMilliseconds: number;
  events: EventSummary[];
  close: CloseObservation;
  handshake?: HandshakeSummary | undefined;
  notes: string[];
  wireLog: WireLogEntry[];
}

/** Every case of one run against one peer. */
export interface SuiteResult {
  tool: 'hybi-conformance';
  /** `server` when a server was tested (the tester was the client), `client` otherwise. */
  mode: 'server' | 'client';
  /** The name the peer is reported under (Autobahn's agent). */
  agent: string;
  /** The URL tested, or the tester's own URL when it tested clients. */
  target: string;
  startedAt: string;
  durationMilliseconds: number;
  settings: SuiteSettings;
  counts: VerdictCounts;
  results: CaseResult[];
  /** Set when the run ended early (the server stopped answering): why, and how many cases were not run. */
  stopped?: string | undefined;
}

export function createCaseResult(
  definition: ConformanceCase,
  observation: Observation,
  judgement: Judgement,
  wireLog: readonly WireLogEntry[],
  startedAt: Date,
): CaseResult {
  const handshake = observation.handshake;
  const agreement = handshake?.compression;
  return {
    id: definition.id,
    category: categoryOf(definition.id),
    categoryTitle: categoryTitle(definition.id),
    subcategoryTitle: subcategoryTitle(definition.id),
    description: definition.description,
    expectation: definition.expectation,
    references: definition.references,
    verdict: judgement.verdict,
    reason: judgement.reason,
    details: judgement.details,
    expected: judgement.expected,
    observed: judgement.observed,
    startedAt: startedAt.toISOString(),
    durationMilliseconds: Math.round(observation.durationMilliseconds),
    events: observation.events.map((event) => summarizeEvent(event)),
    close: observation.close,
    handshake:
      handshake === undefined
        ? undefined
        : {
            request: handshake.request,
            response: handshake.response,
            status: handshake.status,
            outcome: handshake.outcome,
            problems: handshake.problems,
            compression: agreement?.header,
          },
    notes: observation.notes,
    wireLog: [...wireLog],
  };
}

export function createSuiteResult(fields: Omit<SuiteResult, 'tool' | 'counts'>): SuiteResult {
  return {
    tool: 'hybi-conformance',
    ...fields,
    counts: countVerdicts(fields.results.map((result) => result.verdict)),
  };
}
