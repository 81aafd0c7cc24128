// Owns the backplane interface: how a WebSocketServer's topic messages reach the servers of the other
// processes of a fleet (node:cluster IPC in src/node/cluster-backplane.ts; Redis pub/sub later).

/**
 * A channel between processes for topic messages, given to `new WebSocketServer({ backplane })`. The
 * server hands it every publish as an encoded envelope (src/node/backplane-envelope.ts) and delivers
 * what it receives to its own subscribers only. An implementation keeps each publisher's order; it may
 * echo a process's own envelopes back (the server drops those whose origin is its own).
 */
export interface Backplane {
  /** This process's id in the fleet, written into every envelope it sends (1-255 UTF-8 bytes). */
  readonly origin: string;
  /** Sends one encoded envelope to the other processes. */
  send(envelope: Buffer): void;
  /** Starts delivering the other processes' envelopes to `receive`; returns the function that stops it. */
  open(receive: (envelope: Buffer) => void): () => void;
}
