// Owns a WebSocketServer's topics: which sockets subscribe to which topic, and publishing to them.

import { PreparedMessage, prepareMessage } from '../protocol/prepared-message.js';
import { joinTopics, type WebSocket } from '../websocket.js';
import type { PublishOptions, TopicData, TopicHost } from '../websocket-topics.js';
import type { Backplane } from './backplane.js';
import { decodeEnvelope, encodeEnvelope } from './backplane-envelope.js';

/** Default of `maxTopicsPerSocket`: generous for rooms and channels, small enough to bound a socket. */
export const DEFAULT_MAX_TOPICS_PER_SOCKET = 1024;

const COMPRESSED = { compress: true } as const;
const UNCOMPRESSED = { compress: false } as const;

/**
 * The topic registry of one server. Memory is spent on subscriptions only: a topic exists while it has
 * a subscriber (one Map entry and one Set), a socket has a Set of its topics from its first subscribe
 * until its last unsubscribe or its close; a socket that never subscribes costs nothing here.
 *
 * Bounds: a socket holds at most `maxTopicsPerSocket` topics (more are refused, `subscribe` returns
 * false), so the registry holds at most that many entries per connection, whatever a peer asks the
 * application for; topic names are the application's strings and cost their length once per topic.
 *
 * A publish is framed once (`prepareMessage`) and written with `send()`, so a slow subscriber behaves
 * as with any `send()`: the message is queued on it (its `bufferedAmount` grows, and its send buffer is
 * bounded as `send()` documents), the publish never waits, and the other subscribers do not wait for it.
 */
export class TopicRegistry implements TopicHost<WebSocket> {
  /** Subscribers by topic; a topic without subscribers has no entry. */
  private readonly subscribers = new Map<string, Set<WebSocket>>();
  /** Topics by socket, for sockets with at least one subscription (insertion order: subscription order). */
  private readonly topicsBySocket = new Map<WebSocket, Set<string>>();
  private readonly maxTopicsPerSocket: number;
  private readonly backplane: Backplane | undefined;
  /** Stops the backplane's delivery to this registry. */
  private readonly closeBackplane: (() => void) | undefined;
  /** The envelope sequence of this registry's publishes (per publisher, wraps at 2³²). */
  private sequence = 0;
  private readonly onBackplaneError: (error: Error) => void;
  /** False once closed: topics that empty afterwards (sockets closing with the server) are not told. */
  private isBackplaneOpen = true;

  /**
   * With a `backplane`, every publish also goes to the other processes, and theirs reach the sockets
   * here; an envelope from them that cannot be decoded is reported to `onBackplaneError` and dropped.
   */
  constructor(
    maxTopicsPerSocket: number = DEFAULT_MAX_TOPICS_PER_SOCKET,
    backplane?: Backplane,
    onBackplaneError: (error: Error) => void = () => {},
  ) {
    if (!Number.isInteger(maxTopicsPerSocket) || maxTopicsPerSocket < 1) {
      throw new RangeError(
        `maxTopicsPerSocket must be a positive integer, got ${String(maxTopicsPerSocket)}`,
      );
    }
    this.maxTopicsPerSocket = maxTopicsPerSocket;
    this.backplane = backplane;
    this.onBackplaneError = onBackplaneError;
    this.closeBackplane = backplane?.open(this.receiveEnvelope, onBackplaneError);
  }

  /** Stops receiving from the backplane (the server is closing); local topics keep working. */
  close(): void {
    this.isBackplaneOpen = false;
    this.closeBackplane?.();
  }

  /** Makes `socket`'s topic methods act on this registry (called as the server accepts it). */
  adopt(socket: WebSocket): void {
    joinTopics(socket, this);
  }

  /** How many topics have at least one subscriber. */
  get topicCount(): number {
    return this.subscribers.size;
  }

  subscribe(socket: WebSocket, topic: string): boolean {
    assertTopic(topic);
    // A closing socket is about to be forgotten: subscribing it now would outlive its 'close'.
    if (socket.readyState !== 1) return false;
    let topics = this.topicsBySocket.get(socket);
    if (topics?.has(topic) === true) return true;
    if (topics === undefined) {
      topics = new Set();
      this.topicsBySocket.set(socket, topics);
      socket.addEventListener('close', this.forgetSocket, { once: true });
    } else if (topics.size >= this.maxTopicsPerSocket) {
      return false;
    }
    topics.add(topic);
    let members = this.subscribers.get(topic);
    if (members === undefined) {
      members = new Set();
      this.subscribers.set(topic, members);
      if (this.isBackplaneOpen) this.backplane?.topicAdded?.(topic);
    }
    members.add(socket);
    return true;
  }

  unsubscribe(socket: WebSocket, topic: string): boolean {
    assertTopic(topic);
    const topics = this.topicsBySocket.get(socket);
    if (topics === undefined || !topics.delete(topic)) return false;
    this.leave(socket, topic);
    if (topics.size === 0) {
      this.topicsBySocket.delete(socket);
      socket.removeEventListener('close', this.forgetSocket);
    }
    return true;
  }

  isSubscribed(socket: WebSocket, topic: string): boolean {
    return this.topicsBySocket.get(socket)?.has(topic) === true;
  }

  topicsOf(socket: WebSocket): readonly string[] {
    const topics = this.topicsBySocket.get(socket);
    return topics === undefined ? [] : [...topics];
  }

  /** How many sockets are subscribed to `topic`. */
  subscriberCount(topic: string): number {
    return this.subscribers.get(topic)?.size ?? 0;
  }

  publish(topic: string, data: TopicData, options: PublishOptions, except: WebSocket | undefined): number {
    assertTopic(topic);
    const members = this.subscribers.get(topic);
    if (members === undefined && this.backplane === undefined) return 0;
    // Framed once for every subscriber; a connection with permessage-deflate compresses it itself, since
    // its compressed bytes depend on its own LZ77 window (RFC 7692 §7.2.3: context takeover).
    const message = data instanceof PreparedMessage ? data : prepareMessage(data);
    // Encoded before anything is sent, so that a topic too long for the envelope throws with nothing sent.
    const envelope =
      this.backplane === undefined
        ? undefined
        : encodeEnvelope({
            origin: this.backplane.origin,
            sequence: this.sequence,
            topic,
            opcode: message.opcode,
            payload: message.data,
          });
    const count =
      members === undefined ? 0 : sendToMembers(members, message, options.compress !== false, except);
    if (envelope !== undefined) {
      this.sequence = (this.sequence + 1) >>> 0;
      this.backplane?.send(envelope, topic);
    }
    return count;
  }

  /** A publish from another process: to the subscribers here only (it is not sent on again). */
  private readonly receiveEnvelope = (bytes: Buffer): void => {
    const decoded = decodeEnvelope(bytes);
    if (!decoded.ok) {
      this.onBackplaneError(new Error(`A backplane envelope was refused: ${decoded.reason}`));
      return;
    }
    const { envelope } = decoded;
    // A transport that echoes our own publishes (Redis does): those subscribers had them already.
    if (envelope.origin === this.backplane?.origin) return;
    const members = this.subscribers.get(envelope.topic);
    if (members === undefined) return;
    sendToMembers(members, new PreparedMessage(envelope.opcode, envelope.payload), true, undefined);
  };

  /** Removes a closed socket from all its topics: one shared listener, no closure per socket. */
  private readonly forgetSocket = (event: Event): void => {
    const socket = event.target as WebSocket;
    const topics = this.topicsBySocket.get(socket);
    if (topics === undefined) return;
    this.topicsBySocket.delete(socket);
    for (const topic of topics) this.leave(socket, topic);
  };

  private leave(socket: WebSocket, topic: string): void {
    const members = this.subscribers.get(topic);
    if (members === undefined) return;
    members.delete(socket);
    if (members.size === 0) {
      this.subscribers.delete(topic);
      if (this.isBackplaneOpen) this.backplane?.topicRemoved?.(topic);
    }
  }
}

/** Sends `message` to every open member but `except`; returns how many it was sent to. */
function sendToMembers(
  members: ReadonlySet<WebSocket>,
  message: PreparedMessage,
  compress: boolean,
  except: WebSocket | undefined,
): number {
  const sendOptions = compress ? COMPRESSED : UNCOMPRESSED;
  let count = 0;
  // A socket that closes meanwhile is deleted from `members` by its 'close' listener: Set iteration
  // skips deleted entries, so nothing is sent twice or to a forgotten socket.
  for (const socket of members) {
    if (socket === except || socket.readyState !== 1) continue;
    socket.send(message, sendOptions);
    count++;
  }
  return count;
}

function assertTopic(topic: unknown): asserts topic is string {
  if (typeof topic !== 'string') {
    throw new TypeError(`A topic is a string, got ${topic === null ? 'null' : typeof topic}`);
  }
}

/**
 * A server's `clients`: adding a socket also gives it the server's topics. Every way a socket joins a
 * server (an HTTP/1.1 upgrade, an RFC 8441 stream from the HTTP/2 host) adds it here, so none is missed.
 */
export class TopicClients extends Set<WebSocket> {
  private readonly registry: TopicRegistry;

  constructor(registry: TopicRegistry) {
    super();
    this.registry = registry;
  }

  override add(socket: WebSocket): this {
    this.registry.adopt(socket);
    return super.add(socket);
  }
}
