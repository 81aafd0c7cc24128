// Proves the tester's own machinery: the permissive frame reader reports what a peer breaks instead of
// choking on it, and its extension grammar and permessage-deflate negotiation follow RFC 6455 §9.1 and RFC 7692.

import { describe, expect, it } from 'vitest';
import { acceptAsServer, agreeAsClient, readDeflateParameters } from '../../src/conformance/deflate.js';
import { parseExtensionList } from '../../src/conformance/extension-offer.js';
import { type PeerEvent, PeerFrameReader, type Violation } from '../../src/conformance/frame-reader.js';
import { FrameWriter } from '../../src/conformance/frame-writer.js';
import { acceptKeyFor } from '../../src/conformance/handshake.js';
import { negotiateAsClient } from '../../src/conformance/negotiation.js';
import { WireLog } from '../../src/conformance/wire-log.js';

async function read(
  peerRole: 'client' | 'server',
  frames: Buffer[],
): Promise<{ events: PeerEvent[]; violations: Violation[] }> {
  const events: PeerEvent[] = [];
  const violations: Violation[] = [];
  const reader = new PeerFrameReader({
    peerRole,
    wireLog: new WireLog(),
    deflate: undefined,
    maxMessageLength: 1 << 20,
    onEvent: (event) => events.push(event),
    onViolation: (violation) => violations.push(violation),
  });
  // One byte at a time: the reader must not depend on how TCP splits the stream.
  for (const byte of Buffer.concat(frames)) reader.push(Buffer.from([byte]));
  await reader.settled();
  return { events, violations };
}

const serverFrames = new FrameWriter(false);
const clientFrames = new FrameWriter(true);

describe('PeerFrameReader', () => {
  it('reads a masked frame from a server and reports RFC 6455 §5.1 instead of failing', async () => {
    const { events, violations } = await read('server', [
      clientFrames.encode({ opcode: 0x1, payload: 'hi' }).bytes,
    ]);
    expect(events).toEqual([
      expect.objectContaining({ type: 'message', binary: false, data: Buffer.from('hi') }),
    ]);
    expect(violations.map((violation) => violation.rule)).toEqual(['RFC 6455 §5.1']);
  });

  it('reports an unmasked frame from a client', async () => {
    const { violations } = await read('client', [serverFrames.encode({ opcode: 0x2, payload: 'x' }).bytes]);
    expect(violations[0]?.message).toBe('the client sent an unmasked frame');
  });

  it('reports reserved opcodes, RSV bits, and oversized or fragmented control frames', async () => {
    const { violations } = await read('server', [
      serverFrames.encode({ opcode: 0x3 }).bytes,
      serverFrames.encode({ opcode: 0x1, rsv: 2, payload: 'a' }).bytes,
      serverFrames.encode({ opcode: 0x9, payload: Buffer.alloc(126) }).bytes,
      serverFrames.encode({ opcode: 0xa, isFinal: false }).bytes,
    ]);
    expect(violations.map((violation) => violation.message)).toEqual([
      'frame with reserved opcode 3',
      'frame with RSV bits 2 set',
      'control frame with a 126-byte payload (at most 125)',
      'fragmented control frame (opcode 10)',
    ]);
  });

  it('reports invalid UTF-8 in a text message and an invalid close code', async () => {
    const { events, violations } = await read('server', [
      serverFrames.encode({ opcode: 0x1, payload: Buffer.from('eda080', 'hex') }).bytes,
      serverFrames.encode({ opcode: 0x8, payload: Buffer.from([0x03, 0xed]) }).bytes,
    ]);
    expect(violations.map((violation) => violation.rule)).toEqual(['RFC 6455 §8.1', 'RFC 6455 §7.4']);
    expect(events.at(-1)).toEqual(expect.objectContaining({ type: 'close', code: 1005 }));
  });

  it('reports continuation frames with nothing to continue and data after the close frame', async () => {
    const { violations } = await read('server', [
      serverFrames.encode({ opcode: 0x0, payload: 'orphan' }).bytes,
      serverFrames.encode({ opcode: 0x8, payload: Buffer.from([0x03, 0xe8]) }).bytes,
      serverFrames.encode({ opcode: 0x1, payload: 'late' }).bytes,
    ]);
    expect(violations.map((violation) => violation.rule)).toEqual(['RFC 6455 §5.4', 'RFC 6455 §5.5.1']);
  });

  it('assembles fragments with a ping between them in order', async () => {
    const { events, violations } = await read('server', [
      serverFrames.encode({ opcode: 0x1, isFinal: false, payload: 'frag' }).bytes,
      serverFrames.encode({ opcode: 0x9, payload: 'ping' }).bytes,
      serverFrames.encode({ opcode: 0x0, payload: 'ment' }).bytes,
    ]);
    expect(violations).toEqual([]);
    expect(events.map((event) => event.type)).toEqual(['ping', 'message']);
    expect(events[1]).toEqual(expect.objectContaining({ data: Buffer.from('fragment'), frameCount: 2 }));
  });
});

describe('extension negotiation', () => {
  it('parses quoted values and rejects quoted values that are not tokens (RFC 6455 §9.1)', () => {
    expect(parseExtensionList('permessage-deflate; server_max_window_bits="10", x-other')).toEqual({
      ok: true,
      elements: [
        { name: 'permessage-deflate', parameters: [['server_max_window_bits', '10']] },
        { name: 'x-other', parameters: [] },
      ],
    });
    expect(parseExtensionList('permessage-deflate; a="b c"').ok).toBe(false);
  });

  it('finds the offers a server must decline (RFC 7692 §7)', () => {
    const invalid = [
      'permessage-deflate; x-unknown',
      'permessage-deflate; server_max_window_bits=7',
      'permessage-deflate; server_max_window_bits=010',
      'permessage-deflate; server_max_window_bits',
      'permessage-deflate; server_no_context_takeover=1',
      'permessage-deflate; client_no_context_takeover; client_no_context_takeover',
    ];
    for (const offer of invalid) {
      const list = parseExtensionList(offer);
      expect(list.ok && readDeflateParameters(list.elements[0]!, true).ok, offer).toBe(false);
    }
    const valueless = parseExtensionList('permessage-deflate; client_max_window_bits');
    expect(valueless.ok && readDeflateParameters(valueless.elements[0]!, true).ok).toBe(true);
    expect(valueless.ok && readDeflateParameters(valueless.elements[0]!, false).ok).toBe(false);
  });

  it('fails a response that drops an offered server_no_context_takeover or raises the window', () => {
    const offer = {
      serverNoContextTakeover: true,
      clientNoContextTakeover: false,
      serverMaxWindowBits: 10,
      clientMaxWindowBits: undefined,
    };
    const answer = (header: string) => {
      const list = parseExtensionList(header);
      if (!list.ok) throw new Error(list.reason);
      return agreeAsClient(offer, list.elements[0]!, header);
    };
    expect(answer('permessage-deflate; server_max_window_bits=10').ok).toBe(false);
    expect(answer('permessage-deflate; server_no_context_takeover; server_max_window_bits=12').ok).toBe(
      false,
    );
    expect(
      answer(
        'permessage-deflate; server_no_context_takeover; server_max_window_bits=9; client_max_window_bits=9',
      ).ok,
    ).toBe(false);
    const agreed = answer('permessage-deflate; server_no_context_takeover; server_max_window_bits=9');
    expect(agreed.ok && agreed.agreement.peerMaxWindowBits).toBe(9);
  });

  it('as a server, honours what an offer demands and asks only what it allows', () => {
    const offers = [
      {
        serverNoContextTakeover: true,
        clientNoContextTakeover: false,
        serverMaxWindowBits: 12,
        clientMaxWindowBits: true as const,
      },
    ];
    const accepted = acceptAsServer(
      offers,
      [{ requestNoContextTakeover: true, requestMaxWindowBits: 8 }],
      (element) =>
        element.parameters.map(([name, value]) => (value === true ? name : `${name}=${value}`)).join('; '),
    );
    expect(accepted?.agreement).toEqual(
      expect.objectContaining({
        ownNoContextTakeover: true,
        ownMaxWindowBits: 12,
        peerNoContextTakeover: true,
        peerMaxWindowBits: 8,
      }),
    );
    const withoutWindowOffer = [{ ...offers[0]!, clientMaxWindowBits: undefined }];
    expect(
      acceptAsServer(
        withoutWindowOffer,
        [{ requestNoContextTakeover: false, requestMaxWindowBits: 8 }],
        () => '',
      ),
    ).toBeUndefined();
  });

  it('reports a response accepting an extension that was not offered (RFC 6455 §9.1)', () => {
    expect(negotiateAsClient('permessage-deflate', ['x-unoffered']).problems).toEqual([
      'RFC 6455 §9.1: the server accepted "x-unoffered", which was not offered',
    ]);
    expect(negotiateAsClient('permessage-deflate; x-bad', ['permessage-deflate']).problems[0]).toMatch(
      /had to decline/,
    );
  });

  it('computes Sec-WebSocket-Accept as RFC 6455 §1.3 shows', () => {
    expect(acceptKeyFor('dGhlIHNhbXBsZSBub25jZQ==')).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });
});
