// Owns the verdict vocabulary of the conformance suite: the outcomes a case can have, how they rank, and a
// judgement (a verdict with its reasons).

/**
 * How a peer did on one case.
 * - `OK`: what RFC 6455 / RFC 7692 require, as early as they require it.
 * - `NON-STRICT`: the right outcome, but late or loosely (e.g. invalid UTF-8 failed at the end of the
 *   message instead of at the first bad byte, or a SHOULD not followed).
 * - `INFORMATIONAL`: the RFC leaves the behaviour open; what the peer did is recorded, not judged.
 * - `UNIMPLEMENTED`: the case needs an optional feature (permessage-deflate) the peer did not negotiate.
 * - `FAILED`: the peer broke a MUST of the RFCs, or did not answer in time.
 */
export type Verdict = 'OK' | 'NON-STRICT' | 'INFORMATIONAL' | 'UNIMPLEMENTED' | 'FAILED';

/** A verdict and why, with what was expected and what was observed, for the report. */
export interface Judgement {
  verdict: Verdict;
  /** The main reason, one line. */
  reason: string;
  /** Every finding, including those that did not decide the verdict. */
  details: string[];
  expected: string;
  observed: string;
}

/** Every verdict, best first: the order of columns in tables. */
export const VERDICTS: readonly Verdict[] = ['OK', 'NON-STRICT', 'INFORMATIONAL', 'UNIMPLEMENTED', 'FAILED'];

const SEVERITY: Readonly<Record<Verdict, number>> = {
  OK: 0,
  INFORMATIONAL: 1,
  UNIMPLEMENTED: 2,
  'NON-STRICT': 3,
  FAILED: 4,
};

/** The worse of two verdicts, for combining the parts of one judgement. */
export function worseVerdict(first: Verdict, second: Verdict): Verdict {
  return SEVERITY[second] > SEVERITY[first] ? second : first;
}

/** Counts of each verdict, e.g. for a summary line. */
export type VerdictCounts = Record<Verdict, number>;

export function countVerdicts(verdicts: Iterable<Verdict>): VerdictCounts {
  const counts: VerdictCounts = { OK: 0, 'NON-STRICT': 0, INFORMATIONAL: 0, UNIMPLEMENTED: 0, FAILED: 0 };
  for (const verdict of verdicts) counts[verdict]++;
  return counts;
}
