// Owns the contract between a WebSocket and the topics of the server that accepted it: the socket's
// subscribe/publish methods delegate to this, so the class needs nothing from the node floor above it.

import type { PreparedMessage } from './protocol/prepared-message.js';

/** What a topic message may be: text, binary, or a message framed once already (`prepareMessage`). */
export type TopicData = string | Uint8Array | PreparedMessage;

/** Options of a publish. */
export interface PublishOptions {
  /** `false` skips permessage-deflate for this message, as `send(data, { compress: false })` does. */
  compress?: boolean;
}

/**
 * The topics a server keeps for its sockets. Implemented by `WebSocketServer`'s topic registry
 * (src/node/topics.ts); a WebSocket holds one pointer to it, set when the server accepts the socket.
 * `Socket` is the WebSocket class (`TopicHost<WebSocket>`): a parameter, so that this file, which
 * websocket.ts imports, does not import websocket.ts back.
 */
export interface TopicHost<Socket> {
  subscribe(socket: Socket, topic: string): boolean;
  unsubscribe(socket: Socket, topic: string): boolean;
  isSubscribed(socket: Socket, topic: string): boolean;
  topicsOf(socket: Socket): readonly string[];
  /** Sends to every open subscriber of `topic` but `except`; returns how many it was sent to. */
  publish(topic: string, data: TopicData, options: PublishOptions, except: Socket | undefined): number;
}
