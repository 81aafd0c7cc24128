// Owns the DOM-style events a WebSocket dispatches beyond Node's globals: CloseEvent, ErrorEvent, their init
// types, and a MessageEvent whose `data` is typed (with WebSocketData, what that data may be).

/** Node 20's types do not make the WHATWG EventInit global. */
type EventInitOptions = NonNullable<ConstructorParameters<typeof Event>[1]>;

/** A received message as handed to the application: a string for text, binary as `binaryType` says. */
export type WebSocketData = string | Buffer | ArrayBuffer | Blob;

/** A MessageEvent whose `data` is typed: the global MessageEvent of Node 20's types is not generic. */
export type TypedMessageEvent<T> = MessageEvent & { readonly data: T };

/** What `new CloseEvent(type, init)` takes: the standard's CloseEventInit. */
export interface CloseEventInit extends EventInitOptions {
  code?: number;
  reason?: string;
  wasClean?: boolean;
}

/**
 * The standard's CloseEvent (Node 20 has no global one): the close code, reason, and whether the closing
 * handshake completed. Exported from hybi as `WebSocketCloseEvent`.
 *
 * @example
 * ```ts
 * socket.onclose = (event) => console.log(event.code, event.reason, event.wasClean);
 * ```
 */
export class CloseEvent extends Event {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;

  constructor(type: string, init: CloseEventInit = {}) {
    super(type, init);
    this.code = init.code ?? 0;
    this.reason = init.reason ?? '';
    this.wasClean = init.wasClean ?? false;
  }
}

/** What `new ErrorEvent(type, init)` takes: the error and its message. */
export interface ErrorEventInit extends EventInitOptions {
  error?: unknown;
  message?: string;
}

/**
 * The 'error' event. Browsers fire a bare Event; this one also carries the `error` and its `message`
 * (as undici's WebSocket does), so that a server can log why a connection failed. Exported from hybi as
 * `WebSocketErrorEvent`.
 *
 * @example
 * ```ts
 * socket.onerror = (event) => console.error('connection failed:', event.error);
 * ```
 */
export class ErrorEvent extends Event {
  readonly error: unknown;
  readonly message: string;

  constructor(type: string, init: ErrorEventInit = {}) {
    super(type, init);
    this.error = init.error;
    this.message = init.message ?? '';
  }
}
