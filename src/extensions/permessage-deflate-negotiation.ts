// Owns the negotiation of RFC 7692 §7.1: reading and writing the four parameters, and what an offer and
// its response agree on for each direction.

import type { ExtensionParams, ExtensionParamValue } from './extension.js';

export const MIN_WINDOW_BITS = 8;
export const MAX_WINDOW_BITS = 15;

/** What was agreed, from one endpoint's point of view: "own" is what it sends, "peer" what it receives. */
export interface Agreement {
  readonly ownNoContextTakeover: boolean;
  readonly peerNoContextTakeover: boolean;
  readonly ownMaxWindowBits: number;
  readonly peerMaxWindowBits: number;
}

export const DEFAULT_AGREEMENT: Agreement = {
  ownNoContextTakeover: false,
  peerNoContextTakeover: false,
  ownMaxWindowBits: MAX_WINDOW_BITS,
  peerMaxWindowBits: MAX_WINDOW_BITS,
};

/** The four parameters of RFC 7692 §7.1 as read from one offer or response. */
export interface DeflateParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | undefined;
  /** `true` for the valueless form, which only an offer may use (§7.1.2.2). */
  clientMaxWindowBits: number | true | undefined;
}

/**
 * Read one offer or response strictly (RFC 7692 §5): unknown or duplicated parameters and malformed
 * values make the whole set unusable, returned as null.
 */
export function readParams(params: ExtensionParams, kind: 'offer' | 'response'): DeflateParams | null {
  const result: DeflateParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
  };
  for (const [name, value] of Object.entries(params)) {
    // RFC 7692 §5: a parameter given twice declines the offer, or fails the connection on a response.
    if (Array.isArray(value)) return null;
    switch (name) {
      case 'server_no_context_takeover':
        // §7.1.1.1: this parameter has no value.
        if (value !== true) return null;
        result.serverNoContextTakeover = true;
        break;
      case 'client_no_context_takeover':
        // §7.1.1.2: no value either.
        if (value !== true) return null;
        result.clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits': {
        // §7.1.2.1: a value is required, an integer from 8 to 15.
        const bits = readWindowBits(value);
        if (bits === null) return null;
        result.serverMaxWindowBits = bits;
        break;
      }
      case 'client_max_window_bits': {
        // §7.1.2.2: valueless is allowed in an offer only; a response must say how many bits.
        if (value === true && kind === 'offer') {
          result.clientMaxWindowBits = true;
          break;
        }
        const bits = readWindowBits(value);
        if (bits === null) return null;
        result.clientMaxWindowBits = bits;
        break;
      }
      default:
        // §5: a parameter this extension does not define declines the offer (or fails the response).
        return null;
    }
  }
  return result;
}

/**
 * RFC 7692 §7.1.2.1: window bits are 1*DIGIT from 8 to 15 with no leading zero. The header parser gives
 * numbers for numeric values; a string is accepted only in that same canonical form (so "10" from a
 * parser that keeps strings works, but "010" and "8a" do not).
 */
function readWindowBits(value: ExtensionParamValue): number | null {
  if (typeof value === 'number') {
    return Number.isInteger(value) && value >= MIN_WINDOW_BITS && value <= MAX_WINDOW_BITS ? value : null;
  }
  if (typeof value === 'string' && /^(?:[89]|1[0-5])$/.test(value)) return Number(value);
  return null;
}

export function writeParams(params: DeflateParams): ExtensionParams {
  const result: ExtensionParams = {};
  if (params.serverNoContextTakeover) result.server_no_context_takeover = true;
  if (params.clientNoContextTakeover) result.client_no_context_takeover = true;
  if (params.serverMaxWindowBits !== undefined) result.server_max_window_bits = params.serverMaxWindowBits;
  if (params.clientMaxWindowBits !== undefined) result.client_max_window_bits = params.clientMaxWindowBits;
  return result;
}

/** What a server is configured to want; the client's offer is answered within it. */
export interface ServerPreferences {
  readonly serverNoContextTakeover: boolean;
  readonly clientNoContextTakeover: boolean;
  readonly serverMaxWindowBits: number | undefined;
  readonly clientMaxWindowBits: number | true | undefined;
}

/**
 * The client's check of the server's response against its offer (RFC 7692 §5, §7.1): null when the
 * response breaks a rule, otherwise what the two sides agreed.
 */
export function agreeWithResponse(offer: DeflateParams, response: DeflateParams): Agreement | null {
  // RFC 7692 §7.1.1.1: a server accepts an offer with server_no_context_takeover only by echoing it.
  if (offer.serverNoContextTakeover && !response.serverNoContextTakeover) return null;
  // RFC 7692 §7.1.2.1: ... and one with server_max_window_bits only by answering the same or less.
  if (offer.serverMaxWindowBits !== undefined) {
    if (
      response.serverMaxWindowBits === undefined ||
      response.serverMaxWindowBits > offer.serverMaxWindowBits
    ) {
      return null;
    }
  }
  // RFC 7692 §7.1.2.2: the server must not send client_max_window_bits to a client that did not offer it.
  // (This client always offers it, so the rule is kept for the record.)
  if (response.clientMaxWindowBits !== undefined && offer.clientMaxWindowBits === undefined) return null;
  // A response value above our own offered value is allowed: §7.1.2.2 lets the server ignore the hint.
  // We keep to the smaller of the two, which satisfies both.
  const offeredWindowBits =
    typeof offer.clientMaxWindowBits === 'number' ? offer.clientMaxWindowBits : MAX_WINDOW_BITS;
  const answeredWindowBits =
    typeof response.clientMaxWindowBits === 'number' ? response.clientMaxWindowBits : MAX_WINDOW_BITS;
  return {
    // RFC 7692 §7.1.1.2: offering client_no_context_takeover is a promise even if the server omits it.
    ownNoContextTakeover: offer.clientNoContextTakeover || response.clientNoContextTakeover,
    peerNoContextTakeover: response.serverNoContextTakeover,
    ownMaxWindowBits: Math.min(offeredWindowBits, answeredWindowBits),
    peerMaxWindowBits: response.serverMaxWindowBits ?? MAX_WINDOW_BITS,
  };
}

/**
 * The server's answer to the offer it accepted (RFC 7692 §5, §7.1), and what it agrees to.
 */
export function answerOffer(
  offer: DeflateParams,
  config: ServerPreferences,
): { response: DeflateParams; agreement: Agreement } {
  const response: DeflateParams = {
    // RFC 7692 §7.1.1.1: an offered server_no_context_takeover must be honoured and echoed; the server
    // may also choose it unasked.
    serverNoContextTakeover: offer.serverNoContextTakeover || config.serverNoContextTakeover,
    // RFC 7692 §7.1.1.2: the server may always ask for it. Echoing the client's own hint makes it
    // binding, which lets us drop our inflater between messages.
    clientNoContextTakeover: offer.clientNoContextTakeover || config.clientNoContextTakeover,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
  };
  // RFC 7692 §7.1.2.1: answer an offered value with the same or less; without one, the server may
  // still announce the window it will use.
  if (offer.serverMaxWindowBits !== undefined) {
    response.serverMaxWindowBits = Math.min(
      offer.serverMaxWindowBits,
      config.serverMaxWindowBits ?? MAX_WINDOW_BITS,
    );
  } else if (config.serverMaxWindowBits !== undefined) {
    response.serverMaxWindowBits = config.serverMaxWindowBits;
  }
  // RFC 7692 §7.1.2.2: only a client that offered client_max_window_bits may be sent one; otherwise it
  // may use the full 15 bits. An offered value is a hint of the client's own limit; echoing it (or our
  // smaller configured value) makes it binding, so our inflater can be that small.
  if (offer.clientMaxWindowBits !== undefined) {
    const configured =
      typeof config.clientMaxWindowBits === 'number' ? config.clientMaxWindowBits : undefined;
    if (typeof offer.clientMaxWindowBits === 'number') {
      response.clientMaxWindowBits = Math.min(offer.clientMaxWindowBits, configured ?? MAX_WINDOW_BITS);
    } else if (configured !== undefined) {
      response.clientMaxWindowBits = configured;
    }
  }
  const agreement: Agreement = {
    ownNoContextTakeover: response.serverNoContextTakeover,
    peerNoContextTakeover: response.clientNoContextTakeover,
    ownMaxWindowBits: response.serverMaxWindowBits ?? MAX_WINDOW_BITS,
    peerMaxWindowBits:
      typeof response.clientMaxWindowBits === 'number' ? response.clientMaxWindowBits : MAX_WINDOW_BITS,
  };
  return { response, agreement };
}
