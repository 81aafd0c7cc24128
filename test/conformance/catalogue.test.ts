// Proves the catalogue's shape: Autobahn's numbering and case counts, hybi's own cases kept apart, and
// case selection by Autobahn's patterns.

import { describe, expect, it } from 'vitest';
import {
  casesFor,
  categoryOf,
  createCatalogue,
  matchesPattern,
  selectCases,
} from '../../src/conformance/catalogue.js';

describe('the case catalogue', () => {
  const catalogue = createCatalogue({ limits: 'quick' });

  it('has Autobahn’s 517 cases in categories 1-13, numbered as Autobahn numbers them', () => {
    const counts = new Map<string, number>();
    for (const definition of catalogue)
      counts.set(categoryOf(definition.id), (counts.get(categoryOf(definition.id)) ?? 0) + 1);
    expect(Object.fromEntries(counts)).toEqual({
      '0': 19,
      '1': 16,
      '2': 11,
      '3': 7,
      '4': 10,
      '5': 20,
      '6': 145,
      '7': 37,
      '9': 54,
      '10': 1,
      '12': 90,
      '13': 126,
      '14': 27,
    });
    const autobahn = catalogue.filter((definition) => !['0', '14'].includes(categoryOf(definition.id)));
    expect(autobahn).toHaveLength(517);
    expect(autobahn.map((definition) => definition.id)).toEqual(
      expect.arrayContaining([
        '1.2.8',
        '5.20',
        '6.4.4',
        '6.22.34',
        '6.23.7',
        '7.9.9',
        '7.13.2',
        '9.8.6',
        '10.1.1',
        '13.7.18',
      ]),
    );
  });

  it('has unique ids, a description, an expectation and an RFC reference for every case', () => {
    expect(new Set(catalogue.map((definition) => definition.id)).size).toBe(catalogue.length);
    for (const definition of catalogue) {
      expect(definition.description.length, definition.id).toBeGreaterThan(10);
      expect(definition.expectation.length, definition.id).toBeGreaterThan(10);
      expect(
        definition.references.some((reference) => reference.startsWith('RFC')),
        definition.id,
      ).toBe(true);
    }
  });

  it('splits handshake and negotiation cases between servers and clients', () => {
    const forServers = casesFor('server', catalogue).map((definition) => definition.id);
    const forClients = casesFor('client', catalogue).map((definition) => definition.id);
    expect(forServers).toContain('0.1.10');
    expect(forServers).not.toContain('0.2.1');
    expect(forClients).toContain('14.3.1');
    expect(forClients).not.toContain('14.1.1');
    expect(forServers).toContain('14.2.1');
    expect(forClients).toContain('14.2.1');
  });

  it('selects cases with Autobahn’s patterns', () => {
    expect(matchesPattern('6.4.1', '6.4.*')).toBe(true);
    expect(matchesPattern('6.40.1', '6.4.*')).toBe(false);
    expect(matchesPattern('6.4.1', '6.4')).toBe(true);
    expect(matchesPattern('1.1.1', '*')).toBe(true);
    const selected = selectCases(catalogue, ['1.*', '6.4.*'], ['1.2.*']).map((definition) => definition.id);
    expect(selected).toEqual([
      '1.1.1',
      '1.1.2',
      '1.1.3',
      '1.1.4',
      '1.1.5',
      '1.1.6',
      '1.1.7',
      '1.1.8',
      '6.4.1',
      '6.4.2',
      '6.4.3',
      '6.4.4',
    ]);
  });
});
