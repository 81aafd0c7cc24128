// Owns the observation of one case: everything the tester saw the peer do, as plain data a judge can read
// (and a unit test can write by hand).

import { createHash } from 'node:crypto';
import type { DeflateAgreement } from './deflate.js';
import type { Violation } from './frame-reader.js';
import { previewBytes } from './wire-log.js';

/** Something the peer sent, or a point the case reached while the connection was still open. */
export type ObservedEvent =
  | {
      type: 'message';
      binary: boolean;
      data: Buffer;
      isCompressed?: boolean;
      frameCount?: number;
      at?: number;
    }
  | { type: 'ping'; data: Buffer; at?: number }
  | { type: 'pong'; data: Buffer; at?: number }
  /**
   * A wait in the case ended with the connection still open (Autobahn's "timeout" events): a peer that
   * should have failed the connection before it shows up as a marker it should not have let happen.
   */
  | { type: 'marker'; tag: string; at?: number };

/** How the connection closed. */
export interface CloseObservation {
  /** The tester's first close frame, if it sent one (`code` undefined for an empty body). */
  testerClose?: { code: number | undefined; at: number } | undefined;
  /** The peer's first close frame. */
  peerClose?: { code: number | undefined; reason: string; at: number } | undefined;
  /** Who started closing: the first close frame, or the first end of TCP when no close frame came first. */
  initiator: 'tester' | 'peer' | 'none';
  /** Who ended the TCP connection first; `open` if the case ended some other way (a timeout). */
  tcpClosedBy: 'peer' | 'tester' | 'open';
  /** The tester stopped waiting for the peer to fail the connection and dropped it (Autobahn's "kill"). */
  wasKilled: boolean;
  /** The tester, as a client, waited in vain for the server to close TCP after the closing handshake. */
  serverKeptTcpOpen: boolean;
}

/** The opening handshake as the tester saw it. */
export interface HandshakeObservation {
  /** The request head: what the tester sent (testing servers) or received (testing clients). */
  request: string;
  /** The response head: what the tester received (testing servers) or sent (testing clients). */
  response?: string | undefined;
  /** The response status; undefined when none came. */
  status?: number | undefined;
  /** Response (testing servers) or request (testing clients) header fields by lowercase name. */
  headers: Record<string, string[]>;
  /** What the peer's side of the handshake got wrong, each with its rule. */
  problems: string[];
  /** How the handshake ended. */
  outcome: 'open' | 'refused' | 'dropped' | 'timeout' | 'error';
  /** The agreed permessage-deflate parameters, when it was agreed. */
  compression?: DeflateAgreement | undefined;
  /** Why the tester could not finish the handshake (connection errors, unreadable responses). */
  error?: string | undefined;
}

export interface Observation {
  events: ObservedEvent[];
  violations: Violation[];
  close: CloseObservation;
  handshake?: HandshakeObservation | undefined;
  /** Failures the case itself established (a wrong echo in a loop of a thousand messages). */
  failures: string[];
  /** Set when the case needs a feature the peer did not negotiate. */
  unimplemented?: string | undefined;
  /** The case ran out of time as a whole. */
  timedOut: boolean;
  notes: string[];
  durationMilliseconds: number;
}

/** An observation with nothing in it: the starting point for synthetic observations in tests. */
export function emptyObservation(): Observation {
  return {
    events: [],
    violations: [],
    close: { initiator: 'none', tcpClosedBy: 'open', wasKilled: false, serverKeptTcpOpen: false },
    failures: [],
    timedOut: false,
    notes: [],
    durationMilliseconds: 0,
  };
}

/** An event as it goes into a JSON report: payloads as previews, lengths and hashes. */
export type EventSummary =
  | { type: 'message'; binary: boolean; length: number; preview: string; sha1?: string; compressed?: boolean }
  | { type: 'ping' | 'pong'; length: number; preview: string }
  | { type: 'marker'; tag: string };

/** Payloads above this size are summarised by their SHA-1 instead of shown. */
const HASHED_LENGTH = 96;

export function summarizeEvent(event: {
  type: string;
  data?: Buffer;
  binary?: boolean;
  tag?: string;
  isCompressed?: boolean;
}): EventSummary {
  if (event.type === 'marker') return { type: 'marker', tag: event.tag ?? '' };
  const data = event.data ?? Buffer.alloc(0);
  if (event.type === 'message') {
    return {
      type: 'message',
      binary: event.binary === true,
      length: data.length,
      preview: previewBytes(data),
      ...(data.length > HASHED_LENGTH ? { sha1: createHash('sha1').update(data).digest('hex') } : {}),
      ...(event.isCompressed === true ? { compressed: true } : {}),
    };
  }
  return { type: event.type === 'ping' ? 'ping' : 'pong', length: data.length, preview: previewBytes(data) };
}

/** One line for an event, for expected-versus-observed texts. */
export function describeEvent(event: {
  type: string;
  data?: Buffer;
  binary?: boolean;
  tag?: string;
}): string {
  const summary = summarizeEvent(event);
  if (summary.type === 'marker') return `[still open after wait ${summary.tag}]`;
  if (summary.type === 'message') {
    return `${summary.binary ? 'binary' : 'text'} message (${summary.length} bytes) ${summary.sha1 === undefined ? summary.preview : `sha1 ${summary.sha1.slice(0, 12)}`}`;
  }
  return `${summary.type} (${summary.length} bytes) ${summary.preview}`;
}
