// Owns what a handshake agreed on extensions, from either side: checking a server's Sec-WebSocket-Extensions
// response against the tester's offers, and answering a client's offers as a case's policy says.

import type { CompressionSetup } from './case.js';
import {
  type AcceptPolicy,
  acceptAsServer,
  agreeAsClient,
  type DeflateAgreement,
  type DeflateParameters,
  PERMESSAGE_DEFLATE,
  readDeflateParameters,
} from './deflate.js';
import { type ExtensionElement, parseExtensionList, serializeExtensionList } from './extension-offer.js';

export interface ClientNegotiation {
  /** What the server's response gets wrong; each makes a conforming client fail the connection. */
  problems: string[];
  agreement?: DeflateAgreement | undefined;
}

/**
 * The tester is the client: reads the server's Sec-WebSocket-Extensions against the offer. Every accepted
 * extension must have been offered (RFC 6455 §9.1); the tester implements only permessage-deflate, so
 * accepting anything else is a problem too; and a permessage-deflate response must be valid for one of
 * the valid offers (RFC 7692 §7), which an invalid offer never is.
 */
export function negotiateAsClient(
  offerHeader: string | undefined,
  responseValues: readonly string[] | undefined,
): ClientNegotiation {
  if (responseValues === undefined || responseValues.length === 0) return { problems: [] };
  const responseHeader = responseValues.join(', ');
  const response = parseExtensionList(responseHeader);
  if (!response.ok) {
    return {
      problems: [
        `RFC 6455 §9.1: malformed Sec-WebSocket-Extensions ${JSON.stringify(responseHeader)}: ${response.reason}`,
      ],
    };
  }
  const offers = offerHeader === undefined ? [] : parseOffers(offerHeader);
  const offeredNames = new Set(offers.map((offer) => offer.element.name.toLowerCase()));
  const problems: string[] = [];
  let agreement: DeflateAgreement | undefined;
  for (const element of response.elements) {
    const name = element.name.toLowerCase();
    if (!offeredNames.has(name)) {
      problems.push(`RFC 6455 §9.1: the server accepted "${element.name}", which was not offered`);
      continue;
    }
    if (name !== PERMESSAGE_DEFLATE) {
      problems.push(`the server accepted "${element.name}", an extension that exists only in this test`);
      continue;
    }
    if (agreement !== undefined) {
      problems.push('RFC 7692 §7: the server accepted permessage-deflate more than once');
      continue;
    }
    const validOffers = offers.filter(
      (offer) => offer.element.name.toLowerCase() === PERMESSAGE_DEFLATE && offer.parameters !== undefined,
    );
    if (validOffers.length === 0) {
      const reasons = offers.map((offer) => offer.invalidReason).filter((reason) => reason !== undefined);
      problems.push(`RFC 7692 §7: the server accepted an offer it had to decline (${reasons.join('; ')})`);
      continue;
    }
    const reasons: string[] = [];
    const serialized = serializeExtensionList([element]);
    for (const offer of validOffers) {
      const result = agreeAsClient(offer.parameters!, element, serialized);
      if (result.ok) {
        agreement = result.agreement;
        break;
      }
      reasons.push(result.reason);
    }
    if (agreement === undefined) {
      problems.push(
        `RFC 7692 §7: the response "${serialized}" is not valid for any offer (${reasons.join('; ')})`,
      );
    }
  }
  return { problems, agreement };
}

interface ParsedOffer {
  element: ExtensionElement;
  parameters?: DeflateParameters | undefined;
  invalidReason?: string | undefined;
}

function parseOffers(header: string): ParsedOffer[] {
  const list = parseExtensionList(header);
  if (!list.ok) return [];
  return list.elements.map((element) => {
    if (element.name.toLowerCase() !== PERMESSAGE_DEFLATE) return { element };
    const read = readDeflateParameters(element, true);
    return read.ok ? { element, parameters: read.parameters } : { element, invalidReason: read.reason };
  });
}

export interface ServerNegotiation {
  /** The Sec-WebSocket-Extensions value to answer with, if any. */
  response?: string | undefined;
  agreement?: DeflateAgreement | undefined;
  /** Why nothing was agreed, for the report. */
  note?: string | undefined;
}

/**
 * The tester is the server: answers the client's permessage-deflate offers with the first of the case's
 * policies that a valid offer allows (RFC 7692 §7: invalid offers are declined).
 */
export function negotiateAsServer(
  offerHeader: string | undefined,
  setup: CompressionSetup | undefined,
): ServerNegotiation {
  if (setup === undefined) return {};
  if (offerHeader === undefined) return { note: 'the client offered no extensions' };
  const offers = parseOffers(offerHeader);
  const valid = offers.filter((offer) => offer.parameters !== undefined).map((offer) => offer.parameters!);
  if (valid.length === 0) {
    const invalid = offers
      .filter((offer) => offer.invalidReason !== undefined)
      .map((offer) => offer.invalidReason);
    return {
      note:
        invalid.length === 0
          ? 'the client did not offer permessage-deflate'
          : `every permessage-deflate offer of the client was invalid: ${invalid.join('; ')}`,
    };
  }
  const accepted = acceptAsServer(valid, setup.accept as AcceptPolicy[], (element) =>
    serializeExtensionList([element]),
  );
  if (accepted === undefined)
    return { note: `no offer of the client allows what this case asks (${describePolicies(setup.accept)})` };
  return { response: accepted.agreement.header, agreement: accepted.agreement };
}

function describePolicies(policies: readonly AcceptPolicy[]): string {
  return policies
    .map(
      (policy) =>
        [
          policy.requestNoContextTakeover ? 'client_no_context_takeover' : '',
          policy.requestMaxWindowBits === 0 ? '' : `client_max_window_bits=${policy.requestMaxWindowBits}`,
        ]
          .filter((part) => part !== '')
          .join(' + ') || 'plain accept',
    )
    .join(', or ');
}
