// Owns the contract between a WebSocket and the topics of the server that accepted it: the socket's
// subscribe/publish methods delegate to this, so the class needs nothing from the node floor above it.

import type { PreparedMessage } from './protocol/prepared-message.js';
import type { WebSocket } from './websocket.js';

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
 */
export interface TopicHost {
  subscribe(socket: WebSocket, topic: string): boolean;
  unsubscribe(socket: WebSocket, topic: string): boolean;
  isSubscribed(socket: WebSocket, topic: string): boolean;
  topicsOf(socket: WebSocket): readonly string[];
  /** Sends to every open subscriber of `topic` but `except`; returns how many it was sent to. */
  publish(topic: string, data: TopicData, options: PublishOptions, except: WebSocket | undefined): number;
}
