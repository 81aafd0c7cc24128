// Owns the catalogue: every case in Autobahn's order, the titles of categories and subcategories, and
// selecting cases by pattern (Autobahn's `"6.4.*"` syntax) and by the kind of peer under test.

import type { ConformanceCase } from './case.js';
import { autoFragmentationCases } from './cases/auto-fragmentation.js';
import { CLOSE_SUBCATEGORIES, closeCases } from './cases/close.js';
import { compressionCases, compressionSubcategories } from './cases/compression.js';
import { EXTENSION_SUBCATEGORIES, extensionNegotiationCases } from './cases/extension-negotiation.js';
import { fragmentationCases } from './cases/fragmentation.js';
import { framingCases } from './cases/framing.js';
import { HANDSHAKE_SUBCATEGORIES, handshakeCases } from './cases/handshake.js';
import { LIMITS_SUBCATEGORIES, type LimitsProfile, limitsCases } from './cases/limits.js';
import { opcodeCases } from './cases/opcodes.js';
import { pingCases } from './cases/pings.js';
import { reservedBitCases } from './cases/reserved-bits.js';
import { UTF8_SUBCATEGORIES, utf8Cases } from './cases/utf8.js';

/** Category titles: Autobahn's for 1-13, hybi's own for 0 and 14. */
export const CATEGORY_TITLES: Readonly<Record<string, string>> = {
  '0': 'Opening Handshake',
  '1': 'Framing',
  '2': 'Pings/Pongs',
  '3': 'Reserved Bits',
  '4': 'Opcodes',
  '5': 'Fragmentation',
  '6': 'UTF-8 Handling',
  '7': 'Close Handling',
  '9': 'Limits/Performance',
  '10': 'Auto-Fragmentation',
  '12': 'WebSocket Compression (different payloads)',
  '13': 'WebSocket Compression (different parameters)',
  '14': 'Extension Negotiation (permessage-deflate)',
};

let subcategoryTitles: Record<string, string> | undefined;

function subcategories(): Record<string, string> {
  subcategoryTitles ??= {
    ...HANDSHAKE_SUBCATEGORIES,
    '1.1': 'Text Messages',
    '1.2': 'Binary Messages',
    '4.1': 'Non-control Opcodes',
    '4.2': 'Control Opcodes',
    ...UTF8_SUBCATEGORIES,
    ...CLOSE_SUBCATEGORIES,
    ...LIMITS_SUBCATEGORIES,
    '10.1': 'Auto-Fragmentation',
    ...compressionSubcategories(),
    ...EXTENSION_SUBCATEGORIES,
  };
  return subcategoryTitles;
}

export interface CatalogueOptions {
  /** Sizes of category 9 and counts of 12 and 13: Autobahn's (`full`) or a fraction (`quick`). */
  limits?: LimitsProfile;
}

/** Every case, in Autobahn's order (numeric by each part of the id). */
export function createCatalogue(options: CatalogueOptions = {}): ConformanceCase[] {
  const limits = options.limits ?? 'full';
  const cases = [
    ...handshakeCases(),
    ...framingCases(),
    ...pingCases(),
    ...reservedBitCases(),
    ...opcodeCases(),
    ...fragmentationCases(),
    ...utf8Cases(),
    ...closeCases(),
    ...limitsCases(limits),
    ...autoFragmentationCases(),
    ...compressionCases(limits),
    ...extensionNegotiationCases(),
  ];
  return cases.sort((first, second) => compareCaseIds(first.id, second.id));
}

/** Orders ids part by part as numbers: 6.9.1 before 6.10.1. */
export function compareCaseIds(first: string, second: string): number {
  const firstParts = first.split('.').map(Number);
  const secondParts = second.split('.').map(Number);
  for (let index = 0; index < Math.max(firstParts.length, secondParts.length); index++) {
    const difference = (firstParts[index] ?? -1) - (secondParts[index] ?? -1);
    if (difference !== 0) return difference;
  }
  return 0;
}

/** The cases that test a server (the tester is the client) or a client (the tester is the server). */
export function casesFor(peer: 'server' | 'client', cases: readonly ConformanceCase[]): ConformanceCase[] {
  const target = peer === 'server' ? 'servers' : 'clients';
  return cases.filter((definition) => definition.appliesTo === 'both' || definition.appliesTo === target);
}

/**
 * Whether an id matches a pattern: `*` matches anything (Autobahn's syntax, `6.4.*`), and a pattern
 * without `*` matches that id and everything under it (`6.4` matches 6.4.1 to 6.4.4).
 */
export function matchesPattern(id: string, pattern: string): boolean {
  const trimmed = pattern.trim();
  if (trimmed === '') return false;
  if (trimmed.includes('*')) {
    const expression = new RegExp(`^${trimmed.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
    return expression.test(id);
  }
  return id === trimmed || id.startsWith(`${trimmed}.`);
}

/** Cases matching any of `include` (all when empty) and none of `exclude`. */
export function selectCases(
  cases: readonly ConformanceCase[],
  include: readonly string[] = [],
  exclude: readonly string[] = [],
): ConformanceCase[] {
  return cases.filter(
    (definition) =>
      (include.length === 0 || include.some((pattern) => matchesPattern(definition.id, pattern))) &&
      !exclude.some((pattern) => matchesPattern(definition.id, pattern)),
  );
}

/** `6` for `6.4.1`. */
export function categoryOf(id: string): string {
  return id.split('.')[0] ?? id;
}

/** `6.4` for `6.4.1`; the category itself for two-part ids like `2.1`. */
export function subcategoryOf(id: string): string {
  const parts = id.split('.');
  return parts.length > 2 ? parts.slice(0, 2).join('.') : (parts[0] ?? id);
}

export function categoryTitle(id: string): string {
  return CATEGORY_TITLES[categoryOf(id)] ?? `Category ${categoryOf(id)}`;
}

export function subcategoryTitle(id: string): string | undefined {
  return subcategories()[subcategoryOf(id)];
}
