// The conformance suite's programmatic entry: test servers and clients, read the catalogue, write reports.

export type {
  CaseContext,
  CloseExpectation,
  ConformanceCase,
  Expectation,
  ExpectedEvent,
} from './case.js';
export type { LimitsProfile } from './cases/limits.js';
export {
  CATEGORY_TITLES,
  casesFor,
  compareCaseIds,
  createCatalogue,
  matchesPattern,
  selectCases,
} from './catalogue.js';
export { type ClientTester, type ClientTesterOptions, startClientTester } from './client-tester.js';
export { describeExpectation, describeObservation, type Judgement, judge } from './judge.js';
export { emptyObservation, type Observation, type ObservedEvent } from './observation.js';
export { renderHtmlReport } from './report-html.js';
export { toAutobahnIndex, writeReports } from './report-json.js';
export { formatSummary } from './report-terminal.js';
export type { CaseResult, SuiteResult } from './result.js';
export { type ServerTestOptions, testServer } from './runner.js';
export { DEFAULT_SETTINGS, type SuiteSettings } from './settings.js';
export { countVerdicts, VERDICTS, type Verdict } from './verdict.js';
