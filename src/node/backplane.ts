// Owns the backplane interface: how a WebSocketServer's topic messages reach the servers of the other
// processes of a fleet (node:cluster IPC in src/node/cluster-backplane.ts, Redis pub/sub in
// src/node/redis-backplane.ts).

/**
 * A channel between processes for topic messages, given to `new WebSocketServer({ backplane })`. The
 * server hands it every publish as an encoded envelope (src/node/backplane-envelope.ts) and delivers
 * what it receives to its own subscribers only. An implementation keeps each publisher's order; it may
 * echo a process's own envelopes back (the server drops those whose origin is its own).
 */
export interface Backplane {
  /** This process's id in the fleet, written into every envelope it sends (1-255 UTF-8 bytes). */
  readonly origin: string;
  /** Sends one encoded envelope of a publish on `topic` to the other processes. */
  send(envelope: Buffer, topic: string): void;
  /**
   * Starts delivering the other processes' envelopes to `receive`; returns the function that stops it.
   * `fail` is told of what goes wrong in the backplane itself (the server emits it as `'error'`).
   */
  open(receive: (envelope: Buffer) => void, fail?: (error: Error) => void): () => void;
  /**
   * `topic` got its first local subscriber: a backplane that routes by topic (Redis: a channel per
   * topic) starts receiving it. Optional: a backplane that receives everything leaves it out.
   */
  topicAdded?(topic: string): void;
  /** `topic` lost its last local subscriber. */
  topicRemoved?(topic: string): void;
}
