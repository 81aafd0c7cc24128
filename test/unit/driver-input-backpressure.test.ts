// The driver's input side under backpressure: io.write says stop while received bytes wait behind a message
// in the extension pipeline or a paused consumer, 'drain' says go, and a transport's end drops the backlog.

import { describe, expect, it } from 'vitest';
import type { Extension, ExtensionMessage, MessageCallback } from '../../src/extensions/extension.js';
import * as hybi from '../../src/index.js';
import { Connection } from '../../src/protocol/connection.js';
import { MAX_QUEUED_INPUT_BYTES } from '../../src/protocol/frame-parser.js';
import { upgradeRequest } from '../support/upgrade-request.js';

/**
 * An extension on RSV1 that holds every incoming message until the test releases it: the asynchronous
 * stage (zlib, in permessage-deflate) made deterministic.
 */
function holdingExtension() {
  const held: { message: ExtensionMessage; callback: MessageCallback }[] = [];
  let received = 0;
  const extension: Extension = {
    name: 'x-hold',
    type: 'permessage',
    rsv1: true,
    rsv2: false,
    rsv3: false,
    createClientSession: () => null,
    createServerSession: () => ({
      generateResponse: () => ({}),
      processIncomingMessage(message, callback) {
        received++;
        held.push({ message, callback });
      },
      processOutgoingMessage: (message, callback) => callback(null, message),
      close() {},
    }),
  };
  return {
    extension,
    /** Messages the extension was given so far. */
    get received() {
      return received;
    },
    get heldCount() {
      return held.length;
    },
    release(): void {
      const next = held.shift();
      if (next === undefined) throw new Error('nothing held');
      next.callback(null, { ...next.message, rsv1: false });
    },
  };
}

function openDriver(hold?: ReturnType<typeof holdingExtension>) {
  const headers = hold === undefined ? {} : { 'sec-websocket-extensions': 'x-hold' };
  const driver = hybi.http(upgradeRequest(headers, '/chat'));
  if (hold !== undefined) driver.addExtension(hold.extension);
  const messages: unknown[] = [];
  const closes: number[] = [];
  let drains = 0;
  driver.on('message', (event) => messages.push(event.data));
  driver.on('close', (event) => closes.push(event.code));
  driver.on('error', () => {});
  driver.io.on('drain', () => drains++);
  driver.start();
  return {
    driver,
    messages,
    closes,
    get drains() {
      return drains;
    },
  };
}

/** Masked client text frames, RSV1 set when `rsv1`, in one chunk as one socket read would bring them. */
function frames(texts: readonly string[], rsv1: boolean): Buffer {
  const client = new Connection({ role: 'client' });
  return Buffer.concat(texts.flatMap((text) => client.sendText(text, rsv1 ? 0x40 : 0)));
}

describe('io.write under backpressure', () => {
  it('returns false while a message waits for the extension with bytes behind it, and drains once they are read', () => {
    const hold = holdingExtension();
    const opened = openDriver(hold);
    expect(opened.driver.io.write(frames(['one', 'two', 'three'], true))).toBe(false);
    // Only the first message was handed on; the others wait unparsed behind it.
    expect(hold.received).toBe(1);
    hold.release();
    expect(opened.messages).toEqual(['one']);
    expect(hold.received).toBe(2);
    expect(opened.drains).toBe(0);
    hold.release();
    // The last message is in the extension and nothing is left unread: the transport may read again.
    expect(opened.drains).toBe(1);
    hold.release();
    expect(opened.messages).toEqual(['one', 'two', 'three']);
    expect(opened.drains).toBe(1);
  });

  it('returns true when the chunk ends with the message being processed: nothing is held behind it', () => {
    const hold = holdingExtension();
    const opened = openDriver(hold);
    expect(opened.driver.io.write(frames(['only'], true))).toBe(true);
    // The next chunk is taken, and held until the first message is done.
    expect(opened.driver.io.write(frames(['next'], true))).toBe(false);
    hold.release();
    hold.release();
    expect(opened.messages).toEqual(['only', 'next']);
    expect(opened.drains).toBe(1);
  });

  it('delivers nothing to a paused consumer and says stop, then delivers in order on resume', () => {
    const opened = openDriver();
    opened.driver.pauseInput();
    expect(opened.driver.io.write(frames(['a', 'b', 'c'], false))).toBe(false);
    expect(opened.messages).toEqual([]);
    opened.driver.resumeInput();
    expect(opened.messages).toEqual(['a', 'b', 'c']);
    expect(opened.drains).toBe(1);
  });

  it('stops delivering within a chunk when a listener pauses, so one read cannot flood a paused consumer', () => {
    const opened = openDriver();
    opened.driver.once('message', () => opened.driver.pauseInput());
    expect(opened.driver.io.write(frames(['a', 'b', 'c'], false))).toBe(false);
    expect(opened.messages).toEqual(['a']);
    opened.driver.resumeInput();
    expect(opened.messages).toEqual(['a', 'b', 'c']);
  });

  it('holds bytes that arrive before the handshake completes and says stop until it does', () => {
    const driver = hybi.server();
    const messages: unknown[] = [];
    let drains = 0;
    driver.on('message', (event) => messages.push(event.data));
    driver.io.on('drain', () => drains++);
    const head = Buffer.from(
      `GET /chat HTTP/1.1\r\n${Object.entries(upgradeRequest({}, '/chat').headers)
        .map(([name, value]) => `${name}: ${value}`)
        .join('\r\n')}\r\n\r\n`,
      'latin1',
    );
    expect(driver.io.write(Buffer.concat([head, frames(['early'], false)]))).toBe(false);
    driver.start();
    expect(messages).toEqual(['early']);
    expect(drains).toBe(1);
  });
});

describe('the transport ending with a backlog', () => {
  it('delivers the message in the extension, drops the unread ones, and closes with 1006', () => {
    const hold = holdingExtension();
    const opened = openDriver(hold);
    opened.driver.io.write(frames(['in flight', 'backlog 1', 'backlog 2'], true));
    opened.driver.io.end();
    expect(opened.closes).toEqual([]);
    hold.release();
    expect(opened.messages).toEqual(['in flight']);
    expect(opened.closes).toEqual([1006]);
    // The backlog never reached the extension: no zlib work for a peer that is gone.
    expect(hold.received).toBe(1);
  });

  it('drops what a paused consumer had not read yet and closes with 1006 at once', () => {
    const opened = openDriver();
    opened.driver.pauseInput();
    opened.driver.io.write(frames(['unread'], false));
    opened.driver.io.end();
    expect(opened.closes).toEqual([1006]);
    opened.driver.resumeInput();
    expect(opened.messages).toEqual([]);
  });
});

describe('a transport that ignores io.write', () => {
  it(`fails with 1008 once more than ${MAX_QUEUED_INPUT_BYTES} bytes queue behind a held message`, () => {
    const hold = holdingExtension();
    const opened = openDriver(hold);
    const written: Buffer[] = [];
    opened.driver.io.on('data', (chunk: Buffer) => written.push(chunk));
    opened.driver.io.write(frames(['held'], true));
    const chunk = frames(
      Array.from({ length: 1000 }, () => 'x'.repeat(60)),
      true,
    );
    // The first chunk is the one being parsed; the bound counts those queued behind it.
    for (let written = 0; written <= MAX_QUEUED_INPUT_BYTES + chunk.length; written += chunk.length) {
      expect(opened.driver.io.write(Buffer.from(chunk))).toBe(false);
    }
    hold.release();
    expect(opened.messages).toEqual(['held']);
    expect(opened.closes).toEqual([1008]);
    // RFC 6455 §7.1.7: the close frame carrying 1008 went out first.
    const closeFrame = Buffer.concat(written);
    expect(closeFrame[0]).toBe(0x88);
    expect(closeFrame.readUInt16BE(2)).toBe(1008);
  });
});
