// Owns the common shape of what a receiver made of a byte stream, so that hybi's and ws's answers compare.

/** A delivered event; payloads as hex so that a difference prints readably. */
export type ReceivedEvent =
  | { type: 'text'; data: string }
  | { type: 'binary'; data: string }
  | { type: 'ping'; data: string }
  | { type: 'pong'; data: string };

/** Where the receiver stands after the last byte: still open, closed by the peer's close frame, or failed. */
export type Verdict =
  | { kind: 'open' }
  | { kind: 'closed'; code: number; reason: string }
  | { kind: 'failed'; code: number };

export interface ReceiverOutcome {
  events: ReceivedEvent[];
  verdict: Verdict;
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
