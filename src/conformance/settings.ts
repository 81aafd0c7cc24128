// Owns the settings of a conformance run: timing, sizes and concurrency, with their defaults and checks.

import type { LimitsProfile } from './cases/limits.js';
import type { SessionTiming } from './session.js';

/** Everything a run can tune. Times are in milliseconds. */
export interface SuiteSettings extends SessionTiming {
  /** Category 9 sizes and category 12/13 counts: Autobahn's (`full`) or a fraction (`quick`). */
  limits: LimitsProfile;
  /** How long the opening handshake may take. */
  handshakeTimeout: number;
  /** Multiplies every case's own time limit (slow links, debuggers). */
  caseTimeoutScale: number;
  /** Cases run at once against a server (heavy cases of categories 9, 12 and 13 always run alone). */
  concurrency: number;
  /** Largest message the tester keeps from the peer. */
  maxMessageLength: number;
}

export const DEFAULT_SETTINGS: Readonly<SuiteSettings> = {
  limits: 'full',
  pace: 1000,
  settleTime: 250,
  responseTimeout: 2000,
  failTimeout: 2000,
  closeTimeout: 2000,
  handshakeTimeout: 5000,
  caseTimeoutScale: 1,
  concurrency: 4,
  maxMessageLength: 80 * 1024 * 1024,
};

/** Every case's own limit when it sets none: the handshake, its frames, waits and the close fit easily. */
export const DEFAULT_CASE_TIMEOUT = 15_000;

/** Fills in defaults and rejects values that would make the suite meaningless. */
export function resolveSettings(partial: Partial<SuiteSettings> = {}): SuiteSettings {
  const settings: SuiteSettings = { ...DEFAULT_SETTINGS };
  for (const [key, value] of Object.entries(partial) as [keyof SuiteSettings, unknown][]) {
    if (value !== undefined) (settings as unknown as Record<string, unknown>)[key] = value;
  }
  if (settings.limits !== 'full' && settings.limits !== 'quick') {
    throw new TypeError(`limits must be 'full' or 'quick', not ${String(settings.limits)}`);
  }
  for (const key of [
    'pace',
    'settleTime',
    'responseTimeout',
    'failTimeout',
    'closeTimeout',
    'handshakeTimeout',
    'caseTimeoutScale',
    'maxMessageLength',
  ] as const) {
    const value = settings[key];
    if (!(typeof value === 'number' && Number.isFinite(value) && value >= 0)) {
      throw new TypeError(`${key} must be a non-negative number, not ${String(value)}`);
    }
  }
  if (!(Number.isInteger(settings.concurrency) && settings.concurrency >= 1)) {
    throw new TypeError(`concurrency must be a positive integer, not ${String(settings.concurrency)}`);
  }
  return settings;
}
