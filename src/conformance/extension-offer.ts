// Owns the tester's own reading and writing of Sec-WebSocket-Extensions (RFC 6455 §9.1), kept apart from
// hybi's so that a bug in hybi's grammar cannot hide the same bug in a peer.

/** One extension in a header: its name and its parameters in order (`true` for a valueless one). */
export interface ExtensionElement {
  name: string;
  parameters: [name: string, value: string | true][];
}

export type ExtensionListResult = { ok: true; elements: ExtensionElement[] } | { ok: false; reason: string };

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Whether a string is an RFC 9110 §5.6.2 token. */
export function isHeaderToken(value: string): boolean {
  return TOKEN.test(value);
}

/**
 * Parses `extension-list` (RFC 6455 §9.1): `name *( ";" param [ "=" ( token / quoted-string ) ] )`,
 * comma separated. A quoted value is unescaped and must then be a token, as §9.1 requires.
 *
 * @example
 * ```ts
 * parseExtensionList('permessage-deflate; client_max_window_bits, x-custom; a="1"');
 * // { ok: true, elements: [{ name: 'permessage-deflate', parameters: [['client_max_window_bits', true]] }, ...] }
 * ```
 */
export function parseExtensionList(header: string): ExtensionListResult {
  const elements: ExtensionElement[] = [];
  let position = 0;
  const length = header.length;

  const skipWhitespace = (): void => {
    while (position < length && (header[position] === ' ' || header[position] === '\t')) position++;
  };
  const readToken = (): string => {
    const start = position;
    while (position < length && /[!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(header[position]!)) position++;
    return header.slice(start, position);
  };

  while (position < length) {
    skipWhitespace();
    // RFC 9110 §5.6.1: empty list elements are allowed and ignored.
    if (header[position] === ',') {
      position++;
      continue;
    }
    if (position >= length) break;
    const name = readToken();
    if (name.length === 0) return { ok: false, reason: `expected an extension name at offset ${position}` };
    const element: ExtensionElement = { name, parameters: [] };
    skipWhitespace();
    while (header[position] === ';') {
      position++;
      skipWhitespace();
      const parameterName = readToken();
      if (parameterName.length === 0) {
        return { ok: false, reason: `expected a parameter name after ';' at offset ${position}` };
      }
      skipWhitespace();
      let value: string | true = true;
      if (header[position] === '=') {
        position++;
        skipWhitespace();
        if (header[position] === '"') {
          position++;
          let unescaped = '';
          let isClosed = false;
          while (position < length) {
            const character = header[position]!;
            if (character === '\\') {
              position++;
              if (position >= length) break;
              unescaped += header[position]!;
            } else if (character === '"') {
              isClosed = true;
              position++;
              break;
            } else {
              unescaped += character;
            }
            position++;
          }
          if (!isClosed) return { ok: false, reason: `unterminated quoted value for ${parameterName}` };
          // RFC 6455 §9.1: after unescaping, a quoted value must conform to the token ABNF.
          if (!isHeaderToken(unescaped)) {
            return {
              ok: false,
              reason: `quoted value ${JSON.stringify(unescaped)} of ${parameterName} is not a token`,
            };
          }
          value = unescaped;
        } else {
          const token = readToken();
          if (token.length === 0) return { ok: false, reason: `expected a value for ${parameterName}` };
          value = token;
        }
        skipWhitespace();
      }
      element.parameters.push([parameterName, value]);
    }
    elements.push(element);
    skipWhitespace();
    if (position < length) {
      if (header[position] !== ',') {
        return { ok: false, reason: `unexpected ${JSON.stringify(header[position])} at offset ${position}` };
      }
      position++;
    }
  }
  return { ok: true, elements };
}

/** Writes elements back as a header value, values unquoted when they are tokens. */
export function serializeExtensionList(elements: readonly ExtensionElement[]): string {
  return elements
    .map((element) =>
      [
        element.name,
        ...element.parameters.map(([name, value]) =>
          value === true ? name : `${name}=${isHeaderToken(value) ? value : JSON.stringify(value)}`,
        ),
      ].join('; '),
    )
    .join(', ');
}
