// Owns the extension interface: the shape faye's websocket-extensions defined, typed, so that existing
// extensions (npm `permessage-deflate`) plug into hybi unchanged and hybi's own extensions use the same seam.

/** A parameter value from Sec-WebSocket-Extensions: `true` for a bare name, numbers for numeric values. */
export type ExtensionParamValue = true | string | number;

/** One offer's (or response's) parameters. A duplicated parameter becomes an array of its values. */
export type ExtensionParams = Record<string, ExtensionParamValue | ExtensionParamValue[]>;

/**
 * A whole message as it passes through extensions (websocket-extensions' *Message*).
 * `data` is the concatenated payload of all its frames. `compress` is hybi's per-message opt-out:
 * an extension that compresses leaves a message with `compress === false` untouched.
 */
export interface ExtensionMessage {
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  opcode: number;
  data: Buffer;
  compress?: boolean;
}

export type MessageCallback = (error: Error | null, message?: ExtensionMessage) => void;

/** The per-connection half of an extension (websocket-extensions' *Session*). */
export interface ExtensionSession {
  processIncomingMessage(message: ExtensionMessage, callback: MessageCallback): void;
  processOutgoingMessage(message: ExtensionMessage, callback: MessageCallback): void;
  close(): void;
}

export interface ClientExtensionSession extends ExtensionSession {
  /** The offer(s) to put in the client's Sec-WebSocket-Extensions header. */
  generateOffer(): ExtensionParams | ExtensionParams[];
  /** Configure from the server's response; anything but `true` rejects the response. */
  activate(params: ExtensionParams): boolean;
}

export interface ServerExtensionSession extends ExtensionSession {
  /** The parameters of the server's response for the offer it accepted. */
  generateResponse(): ExtensionParams;
}

/** Options every extension session is created with (websocket-extensions' `new Extensions(options)`). */
export interface ExtensionSessionOptions {
  /** Largest message (after processing, e.g. inflated) the connection accepts, in bytes. */
  maxLength?: number;
}

/**
 * An extension, registered on a driver with `addExtension`. Only `type: 'permessage'` exists.
 *
 * @example
 * ```ts
 * import deflate from 'permessage-deflate';
 * driver.addExtension(deflate);
 * ```
 */
export interface Extension {
  readonly name: string;
  readonly type: 'permessage';
  readonly rsv1: boolean;
  readonly rsv2: boolean;
  readonly rsv3: boolean;
  createClientSession(options?: ExtensionSessionOptions): ClientExtensionSession | null;
  /** Pick the first acceptable of the client's offers for this extension, or return null to decline all. */
  createServerSession(
    offers: ExtensionParams[],
    options?: ExtensionSessionOptions,
  ): ServerExtensionSession | null;
}
