// Owns the Origin allow-list: normalizing origins (RFC 6454 §6.1 serialization) and checking a request's Origin.

/**
 * The serialization of an origin (RFC 6454 §6.1): lowercase scheme and host, no default port, no path.
 * `undefined` for what is not an origin with a host, and for the opaque origin `null` (sandboxed
 * documents, `file:` and `data:` pages), which many unrelated documents share.
 *
 * @example
 * ```ts
 * normalizeOrigin('HTTPS://Example.COM:443/'); // 'https://example.com'
 * normalizeOrigin('null'); // undefined
 * ```
 */
export function normalizeOrigin(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.origin !== 'null') return url.origin;
  // URL gives non-special schemes (chrome-extension:, app:) an opaque origin; their scheme and host
  // still name one origin, so compare those.
  if (url.host === '') return undefined;
  return `${url.protocol}//${url.host}`.toLowerCase();
}

/**
 * A check that accepts exactly the listed origins, compared after normalization. Throws TypeError for
 * an entry that is not an origin (or is `null`), so that a typo does not silently lock everyone out.
 *
 * @example
 * ```ts
 * const isAllowed = originChecker(['https://app.example.com']);
 * isAllowed('https://APP.example.com:443'); // true
 * isAllowed(undefined); // false: a request without Origin is refused too
 * ```
 */
export function originChecker(
  origins: readonly string[],
): (origin: string | string[] | undefined) => boolean {
  if (!Array.isArray(origins)) throw new TypeError('origins is an array of origins like https://example.com');
  const allowed = new Set<string>();
  for (const origin of origins) {
    const normalized = typeof origin === 'string' ? normalizeOrigin(origin) : undefined;
    if (normalized === undefined) {
      throw new TypeError(
        `origins: ${JSON.stringify(origin)} is not an origin (scheme://host[:port]); the opaque origin null cannot be allowed`,
      );
    }
    allowed.add(normalized);
  }
  return (origin) => {
    // RFC 6455 §4.1 and §10.2: a browser sends exactly one Origin; none, or several, is no browser's.
    if (typeof origin !== 'string') return false;
    const normalized = normalizeOrigin(origin);
    return normalized !== undefined && allowed.has(normalized);
  };
}
