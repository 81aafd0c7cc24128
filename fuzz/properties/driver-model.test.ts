// Owns the model-based property of the driver: random sequences of sends, pings, closes, peer closes, peer
// aborts and chunked arrivals, checked step by step against a model of RFC 6455's closing handshake.

import fc from 'fast-check';
import { expect } from 'vitest';
import * as hybi from '../../src/index.js';
import { Connection } from '../../src/protocol/connection.js';
import { upgradeRequest } from '../../test/support/upgrade-request.js';
import { type ChunkSplitter, chunkSplitterArbitrary, splitChunks } from '../arbitraries/chunks.js';
import { closeReasonArbitrary, validCloseCodeArbitrary } from '../arbitraries/close.js';
import { encodeFrame, FrameOpcode } from '../arbitraries/frames.js';
import { type Message, messageArbitrary } from '../arbitraries/messages.js';
import { hex } from '../support/outcome.js';
import { fuzzTest } from '../support/settings.js';

/** What travels on the wire, as the model sees it. */
type WireItem =
  | { kind: 'message'; message: Message }
  | { kind: 'ping' | 'pong'; payload: string }
  | { kind: 'close'; code: number | undefined; reason: string }
  /** An unmasked frame from the client: RFC 6455 §5.1 makes the server fail with 1002. */
  | { kind: 'violation' };

/** One line of an event log; the driver's and the peer's are compared against the model's. */
type LogEntry = string;

interface Model {
  /** The server driver sent its close frame (or replied to the peer's). */
  driverHasSentClose: boolean;
  /** The driver emitted 'close'. */
  isDriverClosed: boolean;
  peerHasSentClose: boolean;
  isPeerClosed: boolean;
  isTransportGone: boolean;
  /** Frames written but not yet delivered, each way. */
  toDriver: WireItem[];
  toPeer: WireItem[];
  driverLog: LogEntry[];
  peerLog: LogEntry[];
}

/** The system under test: a server driver without a socket, and a client Connection as its peer. */
interface Real {
  driver: hybi.Driver;
  peer: Connection;
  toDriver: Buffer[];
  toPeer: Buffer[];
  driverLog: LogEntry[];
  peerLog: LogEntry[];
  /** Invariant violations seen by the listeners (bytes or events after 'close'). */
  violations: string[];
}

function describeMessage(message: Message): string {
  return message.type === 'text' ? `text ${JSON.stringify(message.data)}` : `binary ${hex(message.data)}`;
}

/** The close a reply echoes, as `Connection.receiveClose` does (RFC 6455 §5.5.1), and what a close event reports. */
function closeEntry(code: number | undefined, reason: string): LogEntry {
  return `close ${code ?? 1005} ${JSON.stringify(code === undefined ? '' : reason)}`;
}

function createReal(): Real {
  const driver = hybi.http(upgradeRequest());
  const real: Real = {
    driver,
    peer: new Connection({ role: 'client' }),
    toDriver: [],
    toPeer: [],
    driverLog: [],
    peerLog: [],
    violations: [],
  };
  let isClosed = false;
  let hasOpened = false;
  driver.io.on('data', (chunk: Buffer) => {
    if (isClosed) real.violations.push(`wrote ${chunk.length} bytes after close`);
    // The 101 response is written before 'open'; frames after.
    if (hasOpened) real.toPeer.push(Buffer.from(chunk));
  });
  driver.on('open', () => {
    hasOpened = true;
  });
  const after = (what: string): void => {
    if (isClosed) real.violations.push(`${what} after close`);
  };
  driver.on('message', (event) => {
    after('message');
    const data = event.data;
    real.driverLog.push(
      describeMessage(typeof data === 'string' ? { type: 'text', data } : { type: 'binary', data }),
    );
  });
  driver.on('ping', (event) => {
    after('ping');
    real.driverLog.push(`ping ${hex(event.payload)}`);
  });
  driver.on('pong', (event) => {
    after('pong');
    real.driverLog.push(`pong ${hex(event.payload)}`);
  });
  driver.on('error', () => {
    after('error');
    real.driverLog.push('error');
  });
  driver.on('close', (event) => {
    after('a second close');
    isClosed = true;
    real.driverLog.push(`close ${event.code} ${JSON.stringify(event.reason)}`);
  });
  driver.start();
  return real;
}

function initialModel(): Model {
  return {
    driverHasSentClose: false,
    isDriverClosed: false,
    peerHasSentClose: false,
    isPeerClosed: false,
    isTransportGone: false,
    toDriver: [],
    toPeer: [],
    driverLog: [],
    peerLog: [],
  };
}

function expectAgreement(model: Model, real: Real): void {
  expect(real.violations).toEqual([]);
  expect(real.driverLog).toEqual(model.driverLog);
  expect(real.peerLog).toEqual(model.peerLog);
}

type DriverCommand = fc.Command<Model, Real>;

/** The application sends a message; true only while the driver is open (RFC 6455 §5.5.1: no data after close). */
class SendCommand implements DriverCommand {
  constructor(readonly message: Message) {}
  check(): boolean {
    return true;
  }
  run(model: Model, real: Real): void {
    const message = this.message;
    const isSent =
      message.type === 'text' ? real.driver.text(message.data) : real.driver.binary(message.data);
    const isOpen = !model.driverHasSentClose && !model.isDriverClosed;
    expect(isSent).toBe(isOpen);
    if (isOpen) model.toPeer.push({ kind: 'message', message });
    expectAgreement(model, real);
  }
  toString(): string {
    return `send(${describeMessage(this.message).slice(0, 40)})`;
  }
}

class PingCommand implements DriverCommand {
  constructor(readonly payload: string) {}
  check(): boolean {
    return true;
  }
  run(model: Model, real: Real): void {
    const isSent = real.driver.ping(Buffer.from(this.payload, 'hex'));
    const isOpen = !model.driverHasSentClose && !model.isDriverClosed;
    expect(isSent).toBe(isOpen);
    if (isOpen) model.toPeer.push({ kind: 'ping', payload: this.payload });
    expectAgreement(model, real);
  }
  toString(): string {
    return `ping(${this.payload})`;
  }
}

class CloseCommand implements DriverCommand {
  constructor(
    readonly code: number,
    readonly reason: string,
  ) {}
  check(): boolean {
    return true;
  }
  run(model: Model, real: Real): void {
    const isStarted = real.driver.close(this.reason, this.code);
    const isOpen = !model.driverHasSentClose && !model.isDriverClosed;
    expect(isStarted).toBe(isOpen);
    if (isOpen) {
      model.driverHasSentClose = true;
      model.toPeer.push({ kind: 'close', code: this.code, reason: this.reason });
    }
    expect(real.driver.readyState).toBe(model.isDriverClosed ? 3 : model.driverHasSentClose ? 2 : 1);
    expectAgreement(model, real);
  }
  toString(): string {
    return `close(${this.code}, ${JSON.stringify(this.reason)})`;
  }
}

/** The peer writes a message, ping or close frame (it stays unread until a DeliverToDriver). */
class PeerSendCommand implements DriverCommand {
  constructor(readonly item: Exclude<WireItem, { kind: 'violation' }>) {}
  check(model: Model): boolean {
    return !model.peerHasSentClose && !model.isPeerClosed;
  }
  run(model: Model, real: Real): void {
    const item = this.item;
    real.toDriver.push(...peerBytes(real.peer, item).map((chunk) => Buffer.from(chunk)));
    model.toDriver.push(item);
    if (item.kind === 'close') model.peerHasSentClose = true;
    expectAgreement(model, real);
  }
  toString(): string {
    const item = this.item;
    return `peer ${item.kind === 'message' ? describeMessage(item.message).slice(0, 40) : JSON.stringify(item)}`;
  }
}

/** The frame a client Connection writes for `item`. */
function peerBytes(peer: Connection, item: Exclude<WireItem, { kind: 'violation' }>): Buffer[] {
  switch (item.kind) {
    case 'message':
      return item.message.type === 'text'
        ? peer.sendText(item.message.data)
        : peer.sendBinary(item.message.data);
    case 'ping':
      return peer.sendPing(Buffer.from(item.payload, 'hex'));
    case 'pong':
      return peer.sendPong(Buffer.from(item.payload, 'hex'));
    case 'close':
      return peer.sendClose(item.code, item.reason);
  }
}

/** The peer breaks the protocol: an unmasked frame from a client (RFC 6455 §5.1). */
class PeerViolationCommand implements DriverCommand {
  check(model: Model): boolean {
    return !model.isPeerClosed;
  }
  run(model: Model, real: Real): void {
    real.toDriver.push(
      encodeFrame({ isFinal: true, rsv: 0, opcode: FrameOpcode.Text, payload: Buffer.from('x') }),
    );
    model.toDriver.push({ kind: 'violation' });
    expectAgreement(model, real);
  }
  toString(): string {
    return 'peer violation';
  }
}

/** What the peer wrote arrives at the driver, cut into chunks. */
class DeliverToDriverCommand implements DriverCommand {
  constructor(readonly splitter: ChunkSplitter) {}
  check(): boolean {
    return true;
  }
  run(model: Model, real: Real): void {
    const bytes = Buffer.concat(real.toDriver.splice(0));
    for (const chunk of splitChunks(bytes, this.splitter)) real.driver.io.write(chunk);
    for (const item of model.toDriver.splice(0)) {
      if (model.isDriverClosed || model.isTransportGone) break;
      switch (item.kind) {
        case 'message':
          model.driverLog.push(describeMessage(item.message));
          break;
        case 'ping':
          model.driverLog.push(`ping ${item.payload}`);
          // RFC 6455 §5.5.2: answered with a pong, unless a close was sent already.
          if (!model.driverHasSentClose) model.toPeer.push({ kind: 'pong', payload: item.payload });
          break;
        case 'pong':
          model.driverLog.push(`pong ${item.payload}`);
          break;
        case 'close':
          // RFC 6455 §5.5.1: reply with a close echoing the code (and the reason, as websocket-driver
          // does), unless ours went out first.
          if (!model.driverHasSentClose) {
            model.toPeer.push({
              kind: 'close',
              code: item.code,
              reason: item.code === undefined ? '' : item.reason,
            });
          }
          model.driverHasSentClose = true;
          model.isDriverClosed = true;
          model.driverLog.push(closeEntry(item.code, item.reason));
          break;
        case 'violation':
          // RFC 6455 §7.1.7: fail the connection with a close frame carrying 1002.
          if (!model.driverHasSentClose) model.toPeer.push({ kind: 'close', code: 1002, reason: '' });
          model.driverHasSentClose = true;
          model.isDriverClosed = true;
          model.driverLog.push('error', closeEntry(1002, 'Received an unmasked frame from a client'));
          break;
      }
    }
    expectAgreement(model, real);
  }
  toString(): string {
    return `deliver to driver ${JSON.stringify(this.splitter)}`;
  }
}

/** What the driver wrote arrives at the peer, which answers pings and closes as a Connection does. */
class DeliverToPeerCommand implements DriverCommand {
  check(): boolean {
    return true;
  }
  run(model: Model, real: Real): void {
    for (const event of real.peer.receive(Buffer.concat(real.toPeer.splice(0)))) {
      if (event.type === 'write') real.toDriver.push(...event.data.map((chunk) => Buffer.from(chunk)));
      else if (event.type === 'text') real.peerLog.push(describeMessage({ type: 'text', data: event.data }));
      else if (event.type === 'binary')
        real.peerLog.push(describeMessage({ type: 'binary', data: event.data }));
      else if (event.type === 'ping' || event.type === 'pong')
        real.peerLog.push(`${event.type} ${hex(event.data)}`);
      else if (event.type === 'close') real.peerLog.push(closeEntry(event.code, event.reason));
      else real.peerLog.push(`${event.type}`);
    }
    for (const item of model.toPeer.splice(0)) {
      if (model.isPeerClosed) break;
      switch (item.kind) {
        case 'message':
          model.peerLog.push(describeMessage(item.message));
          break;
        case 'ping':
          model.peerLog.push(`ping ${item.payload}`);
          if (!model.peerHasSentClose) model.toDriver.push({ kind: 'pong', payload: item.payload });
          break;
        case 'pong':
          model.peerLog.push(`pong ${item.payload}`);
          break;
        case 'close':
          if (!model.peerHasSentClose) {
            model.toDriver.push({
              kind: 'close',
              code: item.code,
              reason: item.code === undefined ? '' : item.reason,
            });
          }
          model.peerHasSentClose = true;
          model.isPeerClosed = true;
          model.peerLog.push(closeEntry(item.code, item.reason));
          break;
        case 'violation':
          break;
      }
    }
    expectAgreement(model, real);
  }
  toString(): string {
    return 'deliver to peer';
  }
}

/** The transport ends without a closing handshake: 1006 unless the driver closed already (RFC 6455 §7.1.5). */
class AbortCommand implements DriverCommand {
  check(model: Model): boolean {
    return !model.isTransportGone;
  }
  run(model: Model, real: Real): void {
    real.driver.io.end();
    if (!model.isDriverClosed) model.driverLog.push(closeEntry(1006, ''));
    model.isDriverClosed = true;
    model.isTransportGone = true;
    expectAgreement(model, real);
  }
  toString(): string {
    return 'abort';
  }
}

const payloadArbitrary = fc.uint8Array({ maxLength: 20 }).map(hex);

const commandArbitraries: fc.Arbitrary<DriverCommand>[] = [
  messageArbitrary({ maxLength: 40 }).map((message) => new SendCommand(message)),
  payloadArbitrary.map((payload) => new PingCommand(payload)),
  fc
    .tuple(validCloseCodeArbitrary(), closeReasonArbitrary())
    .map(([code, reason]) => new CloseCommand(code, reason)),
  fc
    .oneof(
      messageArbitrary({ maxLength: 40 }).map((message): WireItem => ({ kind: 'message', message })),
      payloadArbitrary.map((payload): WireItem => ({ kind: 'ping', payload })),
      payloadArbitrary.map((payload): WireItem => ({ kind: 'pong', payload })),
      fc
        .tuple(fc.option(validCloseCodeArbitrary(), { nil: undefined }), closeReasonArbitrary())
        .map(
          ([code, reason]): WireItem => ({ kind: 'close', code, reason: code === undefined ? '' : reason }),
        ),
    )
    .map((item) => new PeerSendCommand(item as Exclude<WireItem, { kind: 'violation' }>)),
  fc.constant(new PeerViolationCommand()),
  chunkSplitterArbitrary().map((splitter) => new DeliverToDriverCommand(splitter)),
  fc.constant(new DeliverToPeerCommand()),
  fc.constant(new AbortCommand()),
];

function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;
}

fuzzTest(
  'driver model: one close event, codes echoed, nothing delivered or sent after close, nothing left behind',
  { runs: 1000, file: import.meta.url },
  () =>
    fc.property(fc.commands(commandArbitraries, { maxCommands: 40 }), (commands) => {
      const timersBefore = activeTimers();
      const setup = () => ({ model: initialModel(), real: createReal() });
      let real: Real | undefined;
      fc.modelRun(() => {
        const made = setup();
        real = made.real;
        return made;
      }, commands);
      const finished = real!;
      // However the run ended, the transport goes away: exactly one 'close' in all.
      finished.driver.io.end();
      expect(finished.violations).toEqual([]);
      expect(finished.driverLog.filter((entry) => entry.startsWith('close ')).length).toBe(1);
      // Once the messages stream is made, the driver adds one 'message' and one 'close' listener of its own.
      const ownListeners = finished.driver.existingMessages === undefined ? 0 : 1;
      for (const name of ['message', 'ping', 'pong', 'close', 'error', 'open'] as const) {
        const expected = name === 'message' || name === 'close' ? 1 + ownListeners : 1;
        expect(finished.driver.listenerCount(name)).toBe(expected);
      }
      expect(finished.driver.io.listenerCount('data')).toBe(1);
      expect(activeTimers()).toBe(timersBefore);
    }),
);
