// The Session on its own, with a recording host: what both faces rely on (held input before the opening,
// receive() saying stop while delivery is paused, the latest pong only while the output is full, 1006 when
// the transport ends, the server's close reply) without any Driver, stream or socket.

import { describe, expect, it } from 'vitest';
import { Connection } from '../../src/protocol/connection.js';
import { Opcode } from '../../src/protocol/opcodes.js';
import { Session, type SessionHost } from '../../src/session/session.js';

/** A host that records every report, in order. */
function recordingHost() {
  const reports: string[] = [];
  const written: Buffer[] = [];
  const host: SessionHost = {
    sessionWrite: (chunks) => {
      written.push(Buffer.concat(chunks));
    },
    sessionOpened: () => reports.push('open'),
    sessionMessage: (data) => reports.push(`message ${String(data)}`),
    sessionPing: (payload) => reports.push(`ping ${payload.toString()}`),
    sessionPong: (payload) => reports.push(`pong ${payload.toString()}`),
    sessionError: (error) => reports.push(`error ${error.message}`),
    sessionClosed: (code, reason) => reports.push(`closed ${code} ${reason}`),
    sessionOutgoingIdle: () => reports.push('idle'),
    sessionInputDrained: () => reports.push('drained'),
  };
  return { host, reports, written };
}

const client = (): Connection => new Connection({ role: 'client' });
const bytes = (chunks: Buffer[]): Buffer => Buffer.concat(chunks);

/** What a client reads from the server's frames (its own replies left out). */
function decode(frames: readonly Buffer[]) {
  const reader = client();
  return frames.flatMap((frame) => reader.receive(frame)).filter((event) => event.type !== 'write');
}

describe('Session', () => {
  it('holds bytes that arrive before the opening and reads them once open', () => {
    const { host, reports } = recordingHost();
    const session = new Session(host, 'server', { requireMasking: true });
    expect(session.receive(bytes(client().sendText('early')))).toBe(false);
    expect(reports).toEqual([]);
    session.open();
    expect(reports).toEqual(['open', 'message early', 'drained']);
  });

  it('says stop while delivery is paused and delivers what waited on resume', () => {
    const { host, reports } = recordingHost();
    const session = new Session(host, 'server', { requireMasking: true });
    session.open();
    session.pauseInput();
    const peer = client();
    expect(session.receive(bytes([...peer.sendText('one'), ...peer.sendText('two')]))).toBe(false);
    expect(reports).toEqual(['open']);
    session.resumeInput();
    expect(reports).toEqual(['open', 'message one', 'message two', 'drained']);
    expect(session.receive(bytes(peer.sendText('three')))).toBe(true);
  });

  it('keeps only the latest pong while the output is full, and writes it once drained (RFC 6455 §5.5.3)', () => {
    const { host, reports, written } = recordingHost();
    const session = new Session(host, 'server', { requireMasking: true });
    session.open();
    session.outputBlocked();
    const peer = client();
    session.receive(bytes([...peer.sendPing('a'), ...peer.sendPing('b'), ...peer.sendPing('c')]));
    expect(reports).toEqual(['open', 'ping a', 'ping b', 'ping c']);
    expect(written).toEqual([]);
    session.outputDrained();
    const events = decode(written);
    expect(events).toEqual([{ type: 'pong', data: Buffer.from('c') }]);
  });

  it('reports 1006 when the transport ends before a closing handshake (RFC 6455 §7.1.5)', () => {
    const { host, reports } = recordingHost();
    const session = new Session(host, 'server', { requireMasking: true });
    session.open();
    session.transportEnded();
    expect(reports).toEqual(['open', 'closed 1006 ']);
    expect(session.readyState).toBe(3);
  });

  it("answers the peer's close with its code and reports the close once", () => {
    const { host, reports, written } = recordingHost();
    const session = new Session(host, 'server', { requireMasking: true });
    session.open();
    session.receive(bytes(client().sendClose(4000, 'bye')));
    expect(reports).toEqual(['open', 'closed 4000 bye']);
    const reply = decode(written);
    expect(reply).toMatchObject([{ type: 'close', code: 4000, reason: 'bye' }]);
    session.transportEnded();
    expect(reports).toEqual(['open', 'closed 4000 bye']);
  });

  it('fails with 1002 on an unmasked client frame and writes the close frame', () => {
    const { host, reports, written } = recordingHost();
    const session = new Session(host, 'server', { requireMasking: true });
    session.open();
    const unmasked = new Connection({ role: 'client', masking: false });
    session.receive(bytes(unmasked.sendText('plain')));
    expect(reports[0]).toBe('open');
    expect(reports[1]).toMatch(/^error /);
    expect(reports[2]).toMatch(/^closed 1002 /);
    expect(decode(written)).toMatchObject([{ type: 'close', code: 1002 }]);
  });

  it('queues sends made while connecting and writes them at the opening, before reporting it', () => {
    const { host, reports, written } = recordingHost();
    const session = new Session(host, 'server', {});
    expect(session.send(Opcode.Text, 'queued', true)).toBe(true);
    expect(written).toEqual([]);
    session.open();
    expect(reports).toEqual(['open']);
    expect(decode(written)).toEqual([{ type: 'text', data: 'queued' }]);
  });
});
