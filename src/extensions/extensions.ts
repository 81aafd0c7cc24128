// Owns the extensions of one connection: registration, negotiation through Sec-WebSocket-Extensions,
// the RSV bits they claim, and the ordered pipeline messages pass through (websocket-extensions' role).

import {
  type ExtensionOffer,
  parseExtensionHeader,
  serializeExtensionHeader,
} from '../protocol/extension-header.js';
import { RSV1, RSV2, RSV3 } from '../protocol/frame.js';
import type {
  ClientExtensionSession,
  Extension,
  ExtensionMessage,
  ExtensionParams,
  ExtensionSession,
  ExtensionSessionOptions,
  MessageCallback,
} from './extension.js';

/** Raised when negotiation cannot succeed; the handshake fails with its message. */
export class ExtensionNegotiationError extends Error {
  override readonly name = 'ExtensionNegotiationError';
}

/**
 * A client's Sec-WebSocket-Extensions read by the §9.1 grammar; throws ExtensionNegotiationError for one
 * that breaks it. A server with no extension registered still answers a malformed offer with 400.
 */
export function parseOffer(header: string | undefined): { offers: readonly ExtensionOffer[] } {
  const parsed = parseExtensionHeader(header);
  if (!parsed.ok)
    throw new ExtensionNegotiationError(`Invalid Sec-WebSocket-Extensions header: ${parsed.reason}`);
  return parsed;
}

/**
 * One step of the pipeline: a session and direction. Sessions may finish messages out of order
 * (websocket-extensions allows it); a stage hands results on strictly in the order they came in.
 */
class OrderedStage {
  private readonly queue: { isDone: boolean; error: Error | null; message: ExtensionMessage | undefined }[] =
    [];
  private readonly process: (message: ExtensionMessage, callback: MessageCallback) => void;
  private readonly next: MessageCallback;

  constructor(
    process: (message: ExtensionMessage, callback: MessageCallback) => void,
    next: MessageCallback,
  ) {
    this.process = process;
    this.next = next;
  }

  push(message: ExtensionMessage): void {
    const slot = {
      isDone: false,
      error: null as Error | null,
      message: undefined as ExtensionMessage | undefined,
    };
    this.queue.push(slot);
    let hasAnswered = false;
    const callback: MessageCallback = (error, result) => {
      if (hasAnswered) return; // an extension answering twice must not duplicate a message
      hasAnswered = true;
      slot.isDone = true;
      slot.error = error;
      slot.message = result;
      this.flush();
    };
    try {
      this.process(message, callback);
    } catch (error) {
      callback(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** An earlier stage failed this message: pass the error on in its turn, without processing. */
  pushError(error: Error): void {
    this.queue.push({ isDone: true, error, message: undefined });
    this.flush();
  }

  private flush(): void {
    const queue = this.queue;
    while (queue.length > 0 && queue[0]!.isDone) {
      const slot = queue.shift()!;
      if (slot.error === null && slot.message === undefined) {
        this.next(new Error('Extension returned no message'));
      } else {
        this.next(slot.error, slot.message);
      }
    }
  }
}

/**
 * The extensions registered on a driver and, after the handshake, the sessions negotiated with the peer.
 *
 * @example
 * ```ts
 * const extensions = new Extensions({ maxLength: 1 << 20 });
 * extensions.add(permessageDeflate());
 * const header = extensions.generateResponse(request.headers['sec-websocket-extensions']);
 * ```
 */
export class Extensions {
  // Empty lists are one shared frozen array until something is added: most drivers have no extension.
  private registered: readonly Extension[] = NONE;
  private readonly options: ExtensionSessionOptions;
  private clientSessions: readonly { extension: Extension; session: ClientExtensionSession }[] = NONE;
  private active: readonly { extension: Extension; session: ExtensionSession }[] = NONE;
  private incomingHead: OrderedStage | undefined;
  private outgoingHead: OrderedStage | undefined;
  private incomingResult: MessageCallback = ignoreResult;
  private outgoingResult: MessageCallback = ignoreResult;

  constructor(options: ExtensionSessionOptions = {}) {
    this.options = options;
  }

  /** Registers an extension. Throws TypeError for an object that is not an extension, or a duplicate name. */
  add(extension: Extension): void {
    const candidate = extension as Partial<Extension> | null;
    if (candidate === null || typeof candidate !== 'object' || typeof candidate.name !== 'string') {
      throw new TypeError('An extension needs a string `name`');
    }
    if (candidate.type !== 'permessage') throw new TypeError('An extension needs `type: "permessage"`');
    for (const bit of ['rsv1', 'rsv2', 'rsv3'] as const) {
      if (typeof candidate[bit] !== 'boolean') throw new TypeError(`An extension needs a boolean \`${bit}\``);
    }
    if (
      typeof candidate.createClientSession !== 'function' ||
      typeof candidate.createServerSession !== 'function'
    ) {
      throw new TypeError('An extension needs createClientSession() and createServerSession()');
    }
    if (this.registered.some((existing) => existing.name === extension.name)) {
      throw new TypeError(`An extension named "${extension.name}" is already registered`);
    }
    this.registered = [...this.registered, extension];
  }

  get isEmpty(): boolean {
    return this.registered.length === 0;
  }

  /** Whether any extension was negotiated: then every data message passes through the pipeline. */
  get isActive(): boolean {
    return this.active.length > 0;
  }

  /** Names of the negotiated extensions, in pipeline order. */
  get activeNames(): string[] {
    return this.active.map((entry) => entry.extension.name);
  }

  /** RSV bits the negotiated extensions claim (RFC 6455 §5.2: any other set bit fails with 1002). */
  get allowedRsvBits(): number {
    let bits = 0;
    for (const { extension } of this.active) bits |= rsvBitsOf(extension);
    return bits;
  }

  // --- client ----------------------------------------------------------------------------------

  /** The client's Sec-WebSocket-Extensions offer, or undefined when nothing is registered. */
  generateOffer(): string | undefined {
    const offers: ExtensionOffer[] = [];
    const clientSessions: { extension: Extension; session: ClientExtensionSession }[] = [];
    this.clientSessions = clientSessions;
    for (const extension of this.registered) {
      const session = extension.createClientSession(this.options);
      if (session === null) continue;
      clientSessions.push({ extension, session });
      const generated = session.generateOffer();
      for (const params of Array.isArray(generated) ? generated : [generated]) {
        offers.push({ name: extension.name, params });
      }
    }
    return offers.length === 0 ? undefined : serializeExtensionHeader(offers);
  }

  /**
   * Activates what the server's response accepted. Throws ExtensionNegotiationError when the response
   * names an extension not offered, names one twice, uses conflicting RSV bits or parameters the
   * extension rejects (RFC 6455 §9.1: the client then fails the connection).
   */
  activate(header: string | undefined): void {
    const parsed = parseExtensionHeader(header);
    if (!parsed.ok)
      throw new ExtensionNegotiationError(`Invalid Sec-WebSocket-Extensions header: ${parsed.reason}`);
    const activated: { extension: Extension; session: ExtensionSession }[] = [];
    let claimedBits = 0;
    for (const response of parsed.offers) {
      const entry = this.clientSessions.find((candidate) => candidate.extension.name === response.name);
      if (entry === undefined) {
        throw new ExtensionNegotiationError(
          `Server accepted extension "${response.name}", which was not offered`,
        );
      }
      if (activated.some((done) => done.extension === entry.extension)) {
        throw new ExtensionNegotiationError(`Server accepted extension "${response.name}" twice`);
      }
      const bits = rsvBitsOf(entry.extension);
      if ((claimedBits & bits) !== 0) {
        throw new ExtensionNegotiationError(
          `Extension "${response.name}" conflicts with another on its RSV bits`,
        );
      }
      if (entry.session.activate(response.params) !== true) {
        throw new ExtensionNegotiationError(`Server sent unacceptable parameters for "${response.name}"`);
      }
      claimedBits |= bits;
      activated.push(entry);
    }
    for (const entry of this.clientSessions) {
      if (!activated.includes(entry)) entry.session.close();
    }
    this.clientSessions = NONE;
    this.setActive(activated);
  }

  // --- server ----------------------------------------------------------------------------------

  /**
   * Chooses extensions from the client's offer and returns the response header, or undefined when none
   * is accepted. Throws ExtensionNegotiationError for a header that breaks the §9.1 grammar.
   */
  generateResponse(header: string | undefined): string | undefined {
    const parsed = parseOffer(header);
    const offersByName = new Map<string, ExtensionParams[]>();
    const order: string[] = [];
    for (const offer of parsed.offers) {
      let list = offersByName.get(offer.name);
      if (list === undefined) {
        list = [];
        offersByName.set(offer.name, list);
        order.push(offer.name);
      }
      list.push(offer.params);
    }
    const activated: { extension: Extension; session: ExtensionSession }[] = [];
    const responses: ExtensionOffer[] = [];
    let claimedBits = 0;
    // RFC 6455 §9.1: the order of the client's offers is its preference order.
    for (const name of order) {
      const extension = this.registered.find((candidate) => candidate.name === name);
      if (extension === undefined) continue;
      const bits = rsvBitsOf(extension);
      if ((claimedBits & bits) !== 0) continue;
      const session = extension.createServerSession(offersByName.get(name)!, this.options);
      if (session === null) continue;
      claimedBits |= bits;
      activated.push({ extension, session });
      responses.push({ name, params: session.generateResponse() });
    }
    this.setActive(activated);
    return responses.length === 0 ? undefined : serializeExtensionHeader(responses);
  }

  // --- the pipeline ----------------------------------------------------------------------------

  /** Where processed messages come out, in order. Set once by the driver before messages flow. */
  onProcessed(incoming: MessageCallback, outgoing: MessageCallback): void {
    this.incomingResult = incoming;
    this.outgoingResult = outgoing;
    this.buildPipelines();
  }

  /** Incoming messages pass through the sessions in reverse negotiation order (RFC 6455 §9). */
  processIncomingMessage(message: ExtensionMessage): void {
    if (this.incomingHead === undefined) this.incomingResult(null, message);
    else this.incomingHead.push(message);
  }

  /** Outgoing messages pass through the sessions in negotiation order. */
  processOutgoingMessage(message: ExtensionMessage): void {
    if (this.outgoingHead === undefined) this.outgoingResult(null, message);
    else this.outgoingHead.push(message);
  }

  /** Releases every session (at the end of the connection). Safe to call twice. */
  close(): void {
    for (const { session } of this.active) {
      try {
        session.close();
      } catch {
        // A session failing to release must not stop the others, nor the connection's shutdown.
      }
    }
    for (const { session } of this.clientSessions) session.close();
    this.active = NONE;
    this.clientSessions = NONE;
    this.incomingHead = undefined;
    this.outgoingHead = undefined;
  }

  private setActive(activated: { extension: Extension; session: ExtensionSession }[]): void {
    this.active = activated;
    this.buildPipelines();
  }

  private buildPipelines(): void {
    let incoming: MessageCallback = (error, message) => this.incomingResult(error, message);
    let incomingHead: OrderedStage | undefined;
    for (const { session } of this.active) {
      const stage = new OrderedStage(
        (message, callback) => session.processIncomingMessage(message, callback),
        incoming,
      );
      incoming = forwardTo(stage);
      incomingHead = stage;
    }
    let outgoing: MessageCallback = (error, message) => this.outgoingResult(error, message);
    let outgoingHead: OrderedStage | undefined;
    for (let index = this.active.length - 1; index >= 0; index--) {
      const { session } = this.active[index]!;
      const stage = new OrderedStage(
        (message, callback) => session.processOutgoingMessage(message, callback),
        outgoing,
      );
      outgoing = forwardTo(stage);
      outgoingHead = stage;
    }
    this.incomingHead = incomingHead;
    this.outgoingHead = outgoingHead;
  }
}

/** An error skips the remaining stages but keeps its place in the order. */
function forwardTo(stage: OrderedStage): MessageCallback {
  return (error, message) => {
    if (error === null && message !== undefined) stage.push(message);
    else stage.pushError(error ?? new Error('Extension returned no message'));
  };
}

function rsvBitsOf(extension: Extension): number {
  return (extension.rsv1 ? RSV1 : 0) | (extension.rsv2 ? RSV2 : 0) | (extension.rsv3 ? RSV3 : 0);
}

/** Until onProcessed() is called, results go nowhere; one shared function, not two closures per connection. */
function ignoreResult(): void {}

const NONE: readonly never[] = Object.freeze([]);
