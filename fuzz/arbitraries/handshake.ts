// Owns opening-handshake requests as fuzz input: raw heads in any casing, order, whitespace and list
// syntax, each with the verdict RFC 6455 §4.2.1 (and RFC 9110/9112 for the HTTP around it) gives it.

import fc from 'fast-check';

/** What a server must do with a request: accept it, or refuse it with one of `statuses`. */
export type HandshakeVerdict =
  | {
      ok: true;
      key: string;
      /** Sec-WebSocket-Protocol elements in order of appearance. */
      protocols: string[];
      /** Sec-WebSocket-Extensions lines joined with `', '` (RFC 9110 §5.3), or undefined when absent. */
      extensionHeader: string | undefined;
    }
  | {
      ok: false;
      /** Any of these statuses is right: which one depends on which rule a server checks first. */
      statuses: number[];
      /** The rules broken, for the failure message. */
      violations: string[];
    };

/** A raw request head (latin1, CRLF line endings, ending in a blank line) and its verdict. */
export interface HandshakeRequest {
  head: string;
  verdict: HandshakeVerdict;
}

interface HeaderLine {
  name: string;
  value: string;
}

interface Violation {
  rule: string;
  statuses: number[];
}

/** Header lines of one kind (or a start-line field) and the rules they break. */
interface Part {
  values: string[];
  violations: Violation[];
}

/** A part that breaks `rule` (answered with one of `statuses`), or none when `rule` is undefined. */
function part(values: string[], rule?: string, statuses: number[] = [400]): Part {
  return { values, violations: rule === undefined ? [] : [{ rule, statuses }] };
}

/** The token characters of RFC 9110 §5.6.2. */
const TOKEN_CHARACTERS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/** A token (RFC 9110 §5.6.2), short. */
export function tokenArbitrary(maxLength = 12): fc.Arbitrary<string> {
  return fc.string({ unit: fc.constantFrom(...TOKEN_CHARACTERS), minLength: 1, maxLength });
}

/** A Sec-WebSocket-Key as RFC 6455 §4.1 item 7 makes it: base64 of 16 random bytes. */
export function websocketKeyArbitrary(): fc.Arbitrary<string> {
  return fc
    .uint8Array({ minLength: 16, maxLength: 16 })
    .map((bytes) => Buffer.from(bytes).toString('base64'));
}

/** `text` with each letter's case chosen by `pattern` bits (header names and tokens compare case-insensitively). */
function withCasing(text: string, pattern: number): string {
  let result = '';
  for (let index = 0; index < text.length; index++) {
    const character = text.charAt(index);
    result += ((pattern >>> (index % 31)) & 1) === 1 ? character.toUpperCase() : character.toLowerCase();
  }
  return result;
}

/** Optional whitespace (RFC 9110 §5.6.3 OWS): SP and HTAB. */
function owsArbitrary(): fc.Arbitrary<string> {
  return fc.string({ unit: fc.constantFrom(' ', '\t'), maxLength: 3 });
}

/**
 * A list value (RFC 9110 §5.6.1 `#element`) containing `required`: other tokens around it, optional
 * whitespace, empty elements, maybe spread over several header lines. Returns the values of the lines.
 */
function listLinesArbitrary(required: string): fc.Arbitrary<string[]> {
  const other = fc.constantFrom('keep-alive', 'close', 'h2c', 'TLS/1.0', 'foo');
  const separator = fc
    .tuple(owsArbitrary(), fc.constantFrom(',', ', ', ',,', ' , ,'), owsArbitrary())
    .map((parts) => parts.join(''));
  return fc
    .record({
      before: fc.array(other, { maxLength: 2 }),
      after: fc.array(other, { maxLength: 2 }),
      separators: fc.array(separator, { minLength: 5, maxLength: 5 }),
      casing: fc.nat(),
      splitAt: fc.nat(),
    })
    .map(({ before, after, separators, casing, splitAt }) => {
      const elements = [...before, withCasing(required, casing), ...after];
      const split = splitAt % (elements.length + 1);
      const lines = [elements.slice(0, split), elements.slice(split)].filter((part) => part.length > 0);
      return lines.map((part) =>
        part.map((element, index) => (index === 0 ? element : separators[index % 5] + element)).join(''),
      );
    });
}

/**
 * An opening-handshake request and its verdict. Harmless variation: header-name casing, header order,
 * whitespace around values, list syntax with other tokens and empty elements, list headers split over
 * several lines, token casing in Upgrade and Connection, unrelated headers. Breakage, each with the status
 * a server answers: a method other than GET (405, RFC 9110 §15.5.6), HTTP/1.0 (400), Host missing, empty
 * or repeated (400, RFC 9112 §3.2), Upgrade or Connection without their token (400, RFC 6455 §4.2.1
 * items 3-4), Sec-WebSocket-Version missing or not 13 (426, §4.4), repeated (§11.3.5: 400 or 426),
 * Sec-WebSocket-Key missing, repeated (§11.3.1) or not base64 of 16 bytes (400, §4.2.1 item 5),
 * subprotocols that are not tokens or repeat (400, §4.1 item 10), and malformed header lines (400, RFC 9112 §5).
 *
 * @example
 * ```ts
 * fc.assert(fc.property(handshakeRequestArbitrary(), ({ head, verdict }) => {
 *   const response = myServerAnswer(Buffer.from(head, 'latin1'));
 *   expect(response.status === 101).toBe(verdict.ok);
 * }));
 * ```
 */
export function handshakeRequestArbitrary(): fc.Arbitrary<HandshakeRequest> {
  return fc
    .record({
      method: mostlyFine(
        fc.constant(part(['GET'])),
        fc
          .constantFrom('POST', 'PUT', 'get', 'HEAD', 'OPTIONS')
          .map((value) => part([value], `method ${value}`, [405])),
      ),
      version: mostlyFine(
        fc.constantFrom(part(['1.1']), part(['1.1']), part(['1.2'])),
        fc.constant(part(['1.0'], 'HTTP/1.0')),
      ),
      target: fc.constantFrom('/', '/chat', '/a/b?c=d', '/%20'),
      host: mostlyFine(
        fc.constant(part(['example.com'])),
        fc.constant(part([], 'no Host')),
        fc.constant(part([''], 'empty Host')),
        fc.constant(part(['example.com', 'example.org'], 'two Host lines')),
      ),
      upgrade: tokenHeaderArbitrary('websocket', 'Upgrade'),
      connection: tokenHeaderArbitrary('upgrade', 'Connection'),
      websocketVersion: mostlyFine(
        fc.constant(part(['13'])),
        fc.constant(part([], 'no version', [426])),
        fc
          .constantFrom('8', '12', '14', '13.0', '013')
          .map((value) => part([value], `version ${value}`, [426])),
        fc.constant(part(['13', '13'], 'version twice', [400, 426])),
      ),
      key: keyArbitrary(),
      protocols: protocolsArbitrary(),
      extensions: fc.option(
        fc.array(
          fc.constantFrom('permessage-deflate', 'permessage-deflate; client_max_window_bits', 'x-foo; a=1'),
          {
            minLength: 1,
            maxLength: 2,
          },
        ),
        { nil: undefined },
      ),
      origin: fc.option(fc.constantFrom('http://example.com', 'https://a.example:8443', 'null'), {
        nil: undefined,
      }),
      extra: fc.array(
        fc.record({
          name: tokenArbitrary().filter((name) => !SIGNIFICANT_HEADERS.has(name.toLowerCase())),
          value: fc.string({
            unit: fc.constantFrom('a', 'Z', '0', ' ', '\t', '"', ',', ';', '=', '\u00e9'),
            maxLength: 10,
          }),
        }),
        { maxLength: 3 },
      ),
      malformedLine: mostlyFine(
        fc.constant(undefined),
        fc.constantFrom('X-Space : a', ' X-Folded: b', 'X No-Colon', 'X-Bad\u0001: c', ': empty-name'),
      ),
      casing: fc.array(fc.nat(), { minLength: 12, maxLength: 12 }),
      whitespace: fc.array(fc.tuple(owsArbitrary(), owsArbitrary()), { minLength: 12, maxLength: 12 }),
      shuffleSeed: fc.nat(),
    })
    .map((parts) => {
      const violations: Violation[] = [
        ...parts.method.violations,
        ...parts.version.violations,
        ...parts.host.violations,
        ...parts.upgrade.violations,
        ...parts.connection.violations,
        ...parts.websocketVersion.violations,
        ...parts.key.violations,
        ...parts.protocols.violations,
      ];
      const lines: HeaderLine[] = [];
      for (const value of parts.host.values) lines.push({ name: 'Host', value });
      for (const value of parts.upgrade.values) lines.push({ name: 'Upgrade', value });
      for (const value of parts.connection.values) lines.push({ name: 'Connection', value });
      for (const value of parts.websocketVersion.values) lines.push({ name: 'Sec-WebSocket-Version', value });
      for (const value of parts.key.values) lines.push({ name: 'Sec-WebSocket-Key', value });
      for (const value of parts.protocols.values) lines.push({ name: 'Sec-WebSocket-Protocol', value });
      for (const value of parts.extensions ?? []) lines.push({ name: 'Sec-WebSocket-Extensions', value });
      if (parts.origin !== undefined) lines.push({ name: 'Origin', value: parts.origin });
      for (const line of parts.extra) lines.push({ name: line.name, value: line.value.trim() });

      shuffle(lines, parts.shuffleSeed);
      const headerLines = lines.map((line, index) => {
        const [before, after] = parts.whitespace[index % 12]!;
        // Whitespace around a value is OWS (RFC 9112 §5.1), but an empty Host must stay empty.
        return `${withCasing(line.name, parts.casing[index % 12]!)}:${before}${line.value}${line.value === '' ? '' : after}`;
      });
      if (parts.malformedLine !== undefined) {
        headerLines.splice(parts.shuffleSeed % (headerLines.length + 1), 0, parts.malformedLine);
        violations.push({
          rule: `malformed header line ${JSON.stringify(parts.malformedLine)}`,
          statuses: [400],
        });
      }
      const head = `${parts.method.values[0]} ${parts.target} HTTP/${parts.version.values[0]}\r\n${headerLines.map((line) => `${line}\r\n`).join('')}\r\n`;

      const verdict: HandshakeVerdict =
        violations.length > 0
          ? {
              ok: false,
              statuses: [...new Set(violations.flatMap((violation) => violation.statuses))].sort(),
              violations: violations.map((violation) => violation.rule),
            }
          : {
              ok: true,
              key: parts.key.values[0]!,
              protocols: lines
                .filter((line) => line.name === 'Sec-WebSocket-Protocol')
                .flatMap((line) => splitList(line.value)),
              extensionHeader: joinValues(lines.filter((line) => line.name === 'Sec-WebSocket-Extensions')),
            };
      return { head, verdict };
    });
}

const SIGNIFICANT_HEADERS: ReadonlySet<string> = new Set([
  'host',
  'upgrade',
  'connection',
  'sec-websocket-version',
  'sec-websocket-key',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
  'origin',
  // node-style joining gives set-cookie an array; keep unrelated headers plain.
  'set-cookie',
]);

/**
 * Mostly `fine`, sometimes one of `broken`: each part of a request breaks a rule one time in 20, so that
 * about half the requests are valid and most invalid ones break one rule, a few several.
 */
function mostlyFine<T>(fine: fc.Arbitrary<T>, ...broken: fc.Arbitrary<T>[]): fc.Arbitrary<T> {
  return fc.oneof({ weight: 19, arbitrary: fine }, { weight: 1, arbitrary: fc.oneof(...broken) });
}

/** Upgrade / Connection: the required token in some list form, or missing, or without the token. */
function tokenHeaderArbitrary(required: string, name: string): fc.Arbitrary<Part> {
  return mostlyFine(
    listLinesArbitrary(required).map((values) => part(values)),
    fc.constant(part([], `no ${name}`)),
    fc
      .constantFrom('h2c', 'keep-alive', `${required}x`, `x${required}`, `"${required}"`)
      .map((value) => part([value], `${name} without ${required}`)),
  );
}

function keyArbitrary(): fc.Arbitrary<Part> {
  const badKey = fc.oneof(
    fc
      .uint8Array({ minLength: 0, maxLength: 32 })
      .filter((bytes) => bytes.length !== 16)
      .map((bytes) => Buffer.from(bytes).toString('base64')),
    websocketKeyArbitrary().map((key) => key.slice(0, 22)),
    websocketKeyArbitrary().map((key) => `${key.slice(0, 10)}*${key.slice(11)}`),
    websocketKeyArbitrary().map((key) =>
      key.replace(/\+/g, '-').replace(/\//g, '_').padEnd(24, 'A').replace(/==$/, '-_'),
    ),
  );
  return mostlyFine(
    websocketKeyArbitrary().map((key) => part([key])),
    fc.constant(part([], 'no key')),
    fc
      .tuple(websocketKeyArbitrary(), websocketKeyArbitrary())
      .map(([first, second]) => part([first, second], 'key twice')),
    badKey.map((key) => part([key], `bad key ${JSON.stringify(key)}`)),
  );
}

function protocolsArbitrary(): fc.Arbitrary<Part> {
  const unique = fc.uniqueArray(tokenArbitrary(8), { minLength: 1, maxLength: 4 });
  return mostlyFine(
    fc.oneof(
      fc.constant(part([])),
      fc.tuple(unique, fc.nat()).map(([protocols, split]) => part(splitIntoLines(protocols, split))),
    ),
    unique.map((protocols) => part([[...protocols, protocols[0]!].join(', ')], 'subprotocol twice')),
    fc
      .constantFrom('a b', 'chat/1', '"chat"', 'caf\u00e9', 'a;b')
      .map((bad) => part([`chat, ${bad}`], `subprotocol ${JSON.stringify(bad)}`)),
  );
}

function splitIntoLines(elements: readonly string[], split: number): string[] {
  const at = split % (elements.length + 1);
  return [elements.slice(0, at), elements.slice(at)]
    .filter((part) => part.length > 0)
    .map((part) => part.join(', '));
}

function splitList(value: string): string[] {
  return value
    .split(',')
    .map((element) => element.replace(/^[ \t]+|[ \t]+$/g, ''))
    .filter((element) => element.length > 0);
}

function joinValues(lines: readonly HeaderLine[]): string | undefined {
  return lines.length === 0 ? undefined : lines.map((line) => line.value).join(', ');
}

/** Fisher-Yates with a small LCG, so that the order is data (a seed) and replays exactly. */
function shuffle<T>(items: T[], seed: number): void {
  let state = seed >>> 0;
  for (let index = items.length - 1; index > 0; index--) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const other = state % (index + 1);
    [items[index], items[other]] = [items[other]!, items[index]!];
  }
}
