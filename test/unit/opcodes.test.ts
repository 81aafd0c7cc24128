import { describe, expect, it } from 'vitest';
import { isControlOpcode, isKnownOpcode, isValidCloseCode, Opcode } from '../../src/protocol/opcodes.js';

describe('opcodes', () => {
  it('classifies close, ping and pong as control opcodes and nothing else', () => {
    const control = [];
    for (let opcode = 0; opcode < 16; opcode++)
      if (isControlOpcode(opcode) && isKnownOpcode(opcode)) control.push(opcode);
    expect(control).toEqual([Opcode.Close, Opcode.Ping, Opcode.Pong]);
  });

  it('treats 0x3-0x7 and 0xB-0xF as reserved', () => {
    const reserved = [];
    for (let opcode = 0; opcode < 16; opcode++) if (!isKnownOpcode(opcode)) reserved.push(opcode);
    expect(reserved).toEqual([3, 4, 5, 6, 7, 11, 12, 13, 14, 15]);
  });
});

describe('isValidCloseCode (RFC 6455 §7.4.1, §7.4.2 and the IANA registry)', () => {
  it.each([1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999])(
    'accepts %i on the wire',
    (code) => expect(isValidCloseCode(code)).toBe(true),
  );
  it.each([0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535, 1000.5])(
    'rejects %s on the wire',
    (code) => expect(isValidCloseCode(code)).toBe(false),
  );
});
