// prepareMessage: a message framed once, sent as the same bytes by every server connection; clients
// and connections with permessage-deflate frame it themselves.

import { describe, expect, it } from 'vitest';
import * as hybi from '../../src/index.js';
import { Connection } from '../../src/protocol/connection.js';
import { computeAcceptKey } from '../../src/protocol/handshake.js';
import { Opcode } from '../../src/protocol/opcodes.js';
import { PreparedMessage, prepareMessage } from '../../src/protocol/prepared-message.js';
import { UPGRADE_KEY as KEY, upgradeRequest } from '../support/upgrade-request.js';

function received(bytes: readonly Buffer[], role: 'client' | 'server') {
  return new Connection({ role }).receive(Buffer.concat(bytes));
}

describe('prepareMessage', () => {
  it('frames text once, as a server frame a client connection reads back', () => {
    const message = prepareMessage('héllo ✓');
    expect(message.opcode).toBe(Opcode.Text);
    expect(message.frame).toHaveLength(1);
    expect(received(message.frame, 'client')).toEqual([{ type: 'text', data: 'héllo ✓' }]);
  });

  it('keeps a large binary payload uncopied, behind its own header', () => {
    const payload = Buffer.alloc(70_000, 7);
    const message = prepareMessage(payload);
    expect(message.frame).toHaveLength(2);
    expect(message.frame[1]).toBe(payload);
    expect(message.frame[0]).toEqual(Buffer.from([0x82, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]));
    const events = received(message.frame, 'client');
    expect(events[0]?.type === 'binary' && events[0].data.equals(payload)).toBe(true);
  });

  it('gives every server connection the same buffers, and each masking client its own masked frame', () => {
    const message = prepareMessage(new Uint8Array([1, 2, 3]));
    const first = new Connection({ role: 'server' }).sendPrepared(message);
    const second = new Connection({ role: 'server' }).sendPrepared(message);
    expect(first[0]).toBe(second[0]);
    const fromClient = new Connection({ role: 'client' }).sendPrepared(message);
    expect(fromClient[0]![1]! & 0x80).toBe(0x80);
    const events = received(fromClient, 'server');
    expect(events[0]?.type === 'binary' && [...events[0].data]).toEqual([1, 2, 3]);
  });

  it('is refused by a connection that may not send data any more', () => {
    const connection = new Connection({ role: 'server' });
    connection.sendClose(1000);
    expect(() => connection.sendPrepared(prepareMessage('late'))).toThrow(/Cannot send/);
  });

  it('takes only strings and byte arrays, and only the text and binary opcodes', () => {
    expect(() => prepareMessage(42 as unknown as string)).toThrow(TypeError);
    expect(() => new PreparedMessage(Opcode.Ping, Buffer.alloc(0))).toThrow(TypeError);
  });
});

describe('Driver#sendPrepared', () => {
  function openServerDriver(extensionOffer?: string) {
    const driver = hybi.http(
      upgradeRequest(extensionOffer === undefined ? {} : { 'sec-websocket-extensions': extensionOffer }),
      { perMessageDeflate: extensionOffer !== undefined },
    );
    const written: Buffer[] = [];
    driver.io.on('data', (chunk: Buffer) => written.push(chunk));
    driver.start();
    const head = Buffer.concat(written.splice(0)).toString('latin1');
    expect(head).toContain(computeAcceptKey(KEY));
    return { driver, written };
  }

  it('writes the shared frame on a connection without extensions', () => {
    const { driver, written } = openServerDriver();
    const message = prepareMessage('to everyone');
    expect(driver.sendPrepared(message)).toBe(true);
    expect(written).toEqual([...message.frame]);
    expect(written[0]).toBe(message.frame[0]);
  });

  it('compresses it for this connection when permessage-deflate was negotiated', async () => {
    const { driver, written } = openServerDriver('permessage-deflate');
    const text = 'to everyone, '.repeat(200);
    const compressedFrame = new Promise((resolve) => driver.io.once('data', resolve));
    expect(driver.sendPrepared(prepareMessage(text))).toBe(true);
    await compressedFrame;
    const frame = Buffer.concat(written);
    // RSV1 set (RFC 7692 §6) and far fewer bytes than the text.
    expect(frame[0]).toBe(0xc1);
    expect(frame.length).toBeLessThan(text.length / 4);
  });

  it('returns false once the driver is closing', () => {
    const { driver } = openServerDriver();
    driver.close();
    expect(driver.sendPrepared(prepareMessage('late'))).toBe(false);
  });
});
