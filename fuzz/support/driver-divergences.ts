// Owns the deliberate differences between hybi's Driver and websocket-driver 0.8's: from what
// websocket-driver did in each step of a script, what hybi must do. Every rule is listed in README.md
// ("Differences from websocket-driver") with the RFC section behind hybi's choice.

import {
  type AppAction,
  type DriverScript,
  describeAction,
  type PeerFrame,
  type StepObservation,
} from './driver-script.js';

/** The divergences, by name; README's "Differences from websocket-driver" gives each one with its reason. */
export const DRIVER_DIVERGENCE_NAMES = [
  'failure-reason-text',
  'unmasked-frame-is-1002',
  'masked-frame-to-client-fails',
  'violation-while-closing-fails',
  'transport-end-is-1006',
  'no-status-is-1005',
  'close-codes-1012-1014',
  'invalid-close-code-fails',
  'ping-callbacks-all-kept',
  'no-pong-after-close',
  'client-ready-state-before-start',
  'messages-while-closing-delivered',
  'pause-holds-input',
  'server-protocol-preference',
  'closed-driver-ignores-input',
  'raw-server-pong',
] as const;

export type DriverDivergenceName = (typeof DRIVER_DIVERGENCE_NAMES)[number];

/** Close codes websocket-driver 0.8 accepts from a peer: its ERROR_CODES list and 3000-4999. */
function isCodeWebsocketDriverKnows(code: number): boolean {
  return (
    [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011].includes(code) || (code >= 3000 && code <= 4999)
  );
}

/** Close codes hybi accepts from a peer (RFC 6455 §7.4.1, §7.4.2 and the IANA registry). */
function isCodeHybiAccepts(code: number): boolean {
  return isCodeWebsocketDriverKnows(code) || (code >= 1012 && code <= 1014);
}

/**
 * Walks a script's observations in order and says, for each of websocket-driver's, what hybi's must be.
 * It keeps what the rules need to know across steps: whether the driver has sent its close frame or has
 * closed, the ping callbacks waiting for their pong, the peer frames queued for the next delivery.
 */
export class DriverExpectation {
  readonly divergences = new Set<DriverDivergenceName>();
  private hasSentClose = false;
  private isOpen = false;
  /** While the application has paused `messages`: the readyState then, and what hybi holds back. */
  private pausedReadyState: number | undefined;
  private heldLog: string[] = [];
  /** Messages delivered so far (the player runs the 'message' listener's actions for the first few). */
  private messageCount = 0;
  private isClosed = false;
  private queuedFrames: PeerFrame[] = [];
  /** Ping callbacks by payload, in the order they were registered (by the `#id` in the log). */
  private readonly pendingCallbacks = new Map<string, number[]>();
  private readonly callbackPayloads = new Map<number, string>();

  /** How the player logs this driver's frames: a client masks them (RFC 6455 §5.3). */
  private readonly framePrefix: string;

  constructor(private readonly script: DriverScript) {
    this.framePrefix = script.mode === 'client' ? 'wrote masked ' : 'wrote ';
  }

  /** hybi's expected observation for step `index` (-1: the setup), given websocket-driver's. */
  expect(index: number, websocketDriver: StepObservation): StepObservation {
    const step = index < 0 ? undefined : this.script.steps[index];
    let log = [...websocketDriver.log];
    let readyState = websocketDriver.readyState;
    let protocol = websocketDriver.protocol;
    const script = this.script;
    if (script.mode !== 'client' && protocol !== undefined && protocol !== null) {
      // RFC 6455 §4.2.2 lets the server choose among the offered subprotocols: hybi takes the first of
      // its own list that the client offered (the server's preference), websocket-driver the first of
      // the client's offer that it supports.
      const preferred = script.protocols.find((name) => script.offeredProtocols.includes(name));
      if (preferred !== undefined && preferred !== protocol) {
        this.divergences.add('server-protocol-preference');
        const chosen = protocol;
        log = log.map((entry) =>
          entry.startsWith('wrote HTTP/1.1 101')
            ? entry.replace(`sec-websocket-protocol: ${chosen}`, `sec-websocket-protocol: ${preferred}`)
            : entry,
        );
        protocol = preferred;
      }
    }

    if (readyState === -1) {
      // websocket-driver's client is -1 until start(); hybi uses the WebSocket API's numbers only.
      this.divergences.add('client-ready-state-before-start');
      readyState = 0;
    }
    if (this.isClosed && (step?.kind === 'deliver' || step?.kind === 'violation')) {
      // websocket-driver still parses frames after close() ended a connection that never opened: it
      // reports pings and, for a data frame, throws (it has no extension pipeline yet). hybi reads
      // nothing once closed (RFC 6455 §7.1.4: the connection is closed).
      const isPaused = this.pausedReadyState !== undefined;
      const kept = log.flatMap((entry) => {
        if (entry === 'io.write -> false') return [entry];
        // Where websocket-driver threw, hybi's io.write answers as for any chunk: false while paused.
        return entry.startsWith('io.write threw') && isPaused ? ['io.write -> false'] : [];
      });
      if (kept.length !== log.length || log.some((entry) => entry.startsWith('io.write threw')))
        this.divergences.add('closed-driver-ignores-input');
      log = kept;
    }
    if (script.mode === 'server') log = this.expectRawServerPong(log);
    log = this.expectNoPongAfterClose(log);
    if (step?.kind === 'peer') this.queuedFrames.push(step.frame);
    if (step?.kind === 'deliver' && this.queuedFrames.length > 0) {
      log = this.expectDelivery(log);
      if (!this.isClosed) log = this.expectMessagesWhileClosing(log);
      this.queuedFrames = [];
    }
    if (step?.kind === 'end-transport' && !this.isClosed) {
      // RFC 6455 §7.1.5: a connection that ends without a closing handshake is closed with 1006.
      // websocket-driver reports nothing (faye-websocket, above it, does the same as hybi).
      this.divergences.add('transport-end-is-1006');
      log.push('close 1006 ""', ...this.closedListenerLog());
      readyState = 3;
    }
    if (step?.kind === 'violation' && !this.isClosed) {
      log = this.expectViolation(log);
      readyState = 3;
    }
    log = this.expectPingCallbacks(log);
    this.track(log);
    if (readyState === 3) this.isClosed = true;
    if (this.pausedReadyState !== undefined) {
      // hybi's messages.pause() stops delivery: what the peer sent waits (bounded) until resume(), and
      // only io.write's false says it arrived. websocket-driver's pause() only makes io.write return
      // false (README: "Differences from websocket-driver").
      if (step?.kind === 'deliver') {
        const held = log.filter((entry) => entry !== 'io.write -> false');
        if (held.length > 0) this.divergences.add('pause-holds-input');
        this.heldLog.push(...held);
        log = log.filter((entry) => entry === 'io.write -> false');
      }
      if (step?.kind === 'app' && step.action.kind === 'resume') {
        log = [...this.heldLog, ...log];
        this.heldLog = [];
        this.pausedReadyState = undefined;
      } else {
        readyState = this.pausedReadyState;
      }
    } else if (step?.kind === 'app' && step.action.kind === 'pause') {
      this.pausedReadyState = readyState;
    }
    return {
      step: websocketDriver.step,
      log: normalizeFailure(log, this.divergences),
      readyState,
      protocol,
    };
  }

  /** What both observations are compared as (failure texts set aside, `failure-reason-text`). */
  static normalize(observation: StepObservation): StepObservation {
    return { ...observation, log: normalizeFailure(observation.log, new Set()) };
  }

  private expectDelivery(log: string[]): string[] {
    if (this.isClosed) return log;
    // Both stop reading at the peer's close frame (RFC 6455 §5.5.1): only the first one matters.
    const close = this.queuedFrames.find((frame) => frame.kind === 'close');
    if (close === undefined || close.kind !== 'close') return log;
    const eventIndex = log.findIndex((entry) => entry.startsWith('close '));
    if (eventIndex === -1) return log;
    // A close event before the driver opened is the handshake's failure, not the peer's close frame.
    if (!this.isOpen && !log.slice(0, eventIndex).some((entry) => entry.startsWith('open '))) return log;
    // The 'close' event, after the messages stream's end (its listener comes first) and the reply.
    const endIndex = log[eventIndex - 1] === 'messages end' ? eventIndex - 1 : eventIndex;
    const replyIndex =
      !this.hasSentClose && CLOSE_FRAME_ENTRY.test(log[endIndex - 1] ?? '') ? endIndex - 1 : -1;
    const result = [...log];
    const code = close.code;
    if (code === undefined) {
      // RFC 6455 §7.1.5 and §7.4.1: a close frame without a code reports 1005, and the reply carries
      // none either; websocket-driver reports 1000 and replies with 1000.
      this.divergences.add('no-status-is-1005');
      result[eventIndex] = 'close 1005 ""';
      if (replyIndex !== -1) result[replyIndex] = `${this.framePrefix}close frame `;
    } else if (!isCodeWebsocketDriverKnows(code) && isCodeHybiAccepts(code)) {
      // 1012-1014 are registered (IANA WebSocket Close Code Number Registry, under RFC 6455 §11.7);
      // websocket-driver's list stops at 1011 and answers them with 1002.
      this.divergences.add('close-codes-1012-1014');
      const reason = JSON.stringify(close.reason);
      result[eventIndex] = `close ${code} ${reason}`;
      if (replyIndex !== -1) result[replyIndex] = `${this.framePrefix}close frame ${code} ${reason}`;
    } else if (!isCodeHybiAccepts(code)) {
      // RFC 6455 §7.4: a code that may not be sent is a protocol error: hybi fails the connection with
      // 1002 ('error', then 'close'); websocket-driver closes with 1002 as if the peer had sent it.
      this.divergences.add('invalid-close-code-fails');
      result[eventIndex] = 'close 1002 ""';
      result.splice(endIndex, 0, 'error');
    }
    return result;
  }

  /**
   * websocket-driver drops the data messages that arrive after its own close() (it stops its extension
   * pipeline, through which every message passes); hybi delivers them until the peer's close frame, as
   * ws does: RFC 6455 §1.4 and §7.1.2 let data in flight arrive while the closing handshake runs.
   * Its log then holds only what the control frames did, in order: the messages go in between.
   */
  private expectMessagesWhileClosing(log: string[]): string[] {
    const result: string[] = [];
    let cursor = 0;
    let count = this.messageCount;
    let isClosing = this.hasSentClose;
    /** Copies websocket-driver's entries up to the first that `isEnd` accepts (included, if found). */
    const takeThrough = (isEnd: (entry: string) => boolean): void => {
      while (cursor < log.length) {
        const entry = log[cursor++]!;
        result.push(entry);
        if (CLOSE_FRAME_ENTRY.test(entry)) isClosing = true;
        if (isEnd(entry)) return;
      }
    };
    /** Copies what a listener did after an event: entries up to the next event. */
    const takeListenerEntries = (): void => {
      while (cursor < log.length && !EVENT_ENTRY.test(log[cursor]!)) takeThrough(() => true);
    };
    for (const frame of this.queuedFrames) {
      // What came before this frame's events (the 'open' listener's calls, say) may have closed.
      takeListenerEntries();
      if (frame.kind === 'close') break;
      if (frame.kind === 'ping') takeThrough((entry) => entry.startsWith('ping "'));
      if (frame.kind === 'pong') takeThrough((entry) => entry.startsWith('pong "'));
      if (frame.kind !== 'text' && frame.kind !== 'binary') continue;
      if (frame.kind === 'text' && frame.pingBetween) {
        for (let index = 1; index < fragmentCount(frame); index++)
          takeThrough((entry) => entry.startsWith('ping "'));
      }
      if (!isClosing) {
        takeThrough((entry) => entry.startsWith('message '));
        count++;
        takeListenerEntries();
        continue;
      }
      this.divergences.add('messages-while-closing-delivered');
      const data =
        frame.kind === 'text'
          ? `text ${JSON.stringify(frame.data)}`
          : `binary ${Buffer.from(frame.data).toString('hex')}`;
      if (this.script.usesMessages) result.push(`messages data ${data}`);
      result.push(`message ${data}`);
      if (count++ < this.script.messageHandlerRuns) {
        for (const action of this.script.onMessage) result.push(closingActionLog(action));
      }
    }
    result.push(...log.slice(cursor));
    return result;
  }

  /**
   * websocket-driver's server() wraps an inner driver and forwards text, binary, ping and close to it,
   * but not pong: its pong() returns false and sends nothing. hybi's sends the pong (queued before
   * 'open', like every other send; RFC 6455 §5.5.3 allows an unsolicited pong).
   */
  private expectRawServerPong(log: string[]): string[] {
    const result: string[] = [];
    /** What was queued before 'open', in order: a pong's payload, or undefined for another send. */
    const queued: (string | undefined)[] = [];
    let state = this.isClosed
      ? 'closed'
      : this.hasSentClose
        ? 'closing'
        : this.isOpen
          ? 'open'
          : 'connecting';
    for (const entry of log) {
      if (
        state === 'connecting' &&
        /^(text|binary|binary-string|ping|messages\.write)\(.*-> true$/.test(entry)
      ) {
        queued.push(undefined);
      }
      if (entry.startsWith('open ') && queued.some((payload) => payload !== undefined)) {
        // The queue was written just before 'open': put the pongs back in their places in it.
        let start = result.length;
        while (start > 0 && /^wrote (text|binary|ping) frame/.test(result[start - 1]!)) start--;
        const flushed = result.splice(start);
        for (const payload of queued) {
          if (payload !== undefined) result.push(`wrote pong frame ${payload}`);
          else if (flushed.length > 0) result.push(flushed.shift()!);
        }
        result.push(...flushed);
      }
      if (entry.startsWith('open ')) state = 'open';
      if (CLOSE_FRAME_ENTRY.test(entry) && state !== 'closed') state = 'closing';
      if (/^close \d/.test(entry)) state = 'closed';
      const pong = /^pong\((.*)\) -> false$/.exec(entry);
      if (pong !== null && (state === 'open' || state === 'connecting')) {
        this.divergences.add('raw-server-pong');
        const payload =
          pong[1] === 'undefined' ? '' : Buffer.from(JSON.parse(pong[1]!) as string).toString('hex');
        if (state === 'open') result.push(`wrote pong frame ${payload}`);
        else queued.push(payload);
        result.push(entry.replace(/false$/, 'true'));
        continue;
      }
      result.push(entry);
    }
    return result;
  }

  private expectViolation(log: string[]): string[] {
    if (this.script.mode === 'client') {
      // RFC 6455 §5.1: "The client MUST close a connection if it detects a masked frame"; websocket-
      // driver's client reads masked frames as any other.
      this.divergences.add('masked-frame-to-client-fails');
    } else if (this.hasSentClose) {
      // websocket-driver ignores a protocol error once it is closing; hybi still fails the connection
      // (RFC 6455 §7.1.7), though it sends no second close frame.
      this.divergences.add('violation-while-closing-fails');
    } else {
      // RFC 6455 §5.1: an unmasked client frame is a protocol error (§7.4.1: 1002); websocket-driver
      // closes with 1003.
      this.divergences.add('unmasked-frame-is-1002');
    }
    const messagesEnd = this.script.usesMessages ? ['messages end'] : [];
    const reply = this.hasSentClose ? [] : [`${this.framePrefix}close frame 1002`];
    // What websocket-driver did instead (failed with 1003, ignored the frame, or read it) is replaced.
    void log;
    return [...reply, 'error', ...messagesEnd, 'close 1002 ""', ...this.closedListenerLog()];
  }

  /** What the 'close' listener logs once the driver is closed: every send returns false. */
  private closedListenerLog(): string[] {
    return this.script.onClose.map((action) => closedActionLog(action));
  }

  /**
   * websocket-driver keeps one callback per ping payload (the latest); hybi keeps every one and calls
   * them all, in order, when the pong comes (README: "Differences from websocket-driver").
   */
  private expectPingCallbacks(log: string[]): string[] {
    const result: string[] = [];
    for (const entry of log) {
      const registered = /^ping\((.*), callback\) #(\d+) -> true$/.exec(entry);
      if (registered !== null) {
        const payload = registered[1] === 'undefined' ? '' : (JSON.parse(registered[1]!) as string);
        const id = Number(registered[2]);
        this.callbackPayloads.set(id, payload);
        const list = this.pendingCallbacks.get(payload) ?? [];
        list.push(id);
        this.pendingCallbacks.set(payload, list);
        result.push(entry);
        continue;
      }
      const fired = /^ping callback #(\d+)$/.exec(entry);
      if (fired !== null) {
        const payload = this.callbackPayloads.get(Number(fired[1]))!;
        const all = this.pendingCallbacks.get(payload) ?? [];
        this.pendingCallbacks.delete(payload);
        if (all.length > 1) this.divergences.add('ping-callbacks-all-kept');
        for (const id of all) result.push(`ping callback #${id}`);
        continue;
      }
      result.push(entry);
    }
    return result;
  }

  /**
   * websocket-driver answers a ping with a pong even after its own close frame; hybi sends nothing after
   * its close frame (RFC 6455 §5.5.1: the close frame is the last one an endpoint sends).
   */
  private expectNoPongAfterClose(log: string[]): string[] {
    let hasSentClose = this.hasSentClose;
    const result: string[] = [];
    for (const entry of log) {
      if (CLOSE_FRAME_ENTRY.test(entry)) hasSentClose = true;
      if (hasSentClose && /^wrote (masked )?pong frame/.test(entry)) {
        this.divergences.add('no-pong-after-close');
        continue;
      }
      result.push(entry);
    }
    return result;
  }

  private track(log: readonly string[]): void {
    if (log.some((entry) => CLOSE_FRAME_ENTRY.test(entry))) this.hasSentClose = true;
    if (log.some((entry) => entry.startsWith('close '))) this.isClosed = true;
    if (log.some((entry) => entry.startsWith('open '))) this.isOpen = true;
    this.messageCount += log.filter((entry) => entry.startsWith('message ')).length;
  }
}

/** The log entry of a close frame the driver wrote (a client's are masked, RFC 6455 §5.3). */
const CLOSE_FRAME_ENTRY = /^wrote (masked )?close frame/;

/** An event's entry in the player's log (what a listener's own entries run up to). */
const EVENT_ENTRY = /^(message |messages data |messages end|ping "|pong "|ping callback #|close \d|error$)/;

/** The player's log entry for `action` made while the driver is closing: sends are refused. */
function closingActionLog(action: AppAction): string {
  if (action.kind === 'pause' || action.kind === 'resume') return describeAction(action);
  // The messages stream stays writable until 'close'; its write() answers whether to keep writing.
  return `${describeAction(action)} -> ${action.kind === 'messages-write'}`;
}

/** How many frames the peer cuts a text message into (as `peerBytes` does). */
function fragmentCount(frame: Extract<PeerFrame, { kind: 'text' }>): number {
  const length = Buffer.byteLength(frame.data, 'utf8');
  return new Set(frame.cuts.map((cut) => cut % (length + 1))).size + 1;
}

/** The player's log entry for `action` made once the driver is closed: every call returns false. */
function closedActionLog(action: AppAction): string {
  if (action.kind === 'pause' || action.kind === 'resume') return describeAction(action);
  return `${describeAction(action)} -> false`;
}

/**
 * In a step that failed (an 'error'), the texts differ: each library words its own error, and
 * websocket-driver puts it in the close frame it sends and in the close event, where hybi sends the code
 * alone (RFC 6455 §7.1.7 asks for a code; a reason is optional, and hybi keeps parser messages off the
 * wire). Compared: that it failed, the code, the order. Divergence `failure-reason-text`.
 */
function normalizeFailure(log: readonly string[], divergences: Set<DriverDivergenceName>): string[] {
  if (!log.includes('error')) return [...log];
  divergences.add('failure-reason-text');
  return log.map((entry) => {
    const frame = /^(wrote (masked )?close frame) (\d+)/.exec(entry);
    if (frame !== null) return `${frame[1]} ${frame[3]}`;
    const event = /^close (\d+) /.exec(entry);
    if (event !== null) return `close ${event[1]} <failure reason>`;
    return entry;
  });
}
