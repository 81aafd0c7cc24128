// Owns the numbers of RFC 6455: opcodes, close codes, and the predicates that classify them.

/** Frame opcodes, RFC 6455 §5.2 and §11.8. */
export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/** Close status codes, RFC 6455 §7.4.1 and the IANA "WebSocket Close Code Number Registry". */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  UnsupportedData: 1003,
  /** Never on the wire: reported when a close frame carried no code (RFC 6455 §7.1.5). */
  NoStatusReceived: 1005,
  /** Never on the wire: reported when the connection ended without a close frame (RFC 6455 §7.1.5). */
  Abnormal: 1006,
  InvalidPayload: 1007,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  MandatoryExtension: 1010,
  InternalError: 1011,
  ServiceRestart: 1012,
  TryAgainLater: 1013,
  BadGateway: 1014,
  /** Never on the wire: TLS handshake failure (RFC 6455 §7.4.1). */
  TlsHandshake: 1015,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** RFC 6455 §5.5: control frames have the most significant opcode bit set. */
export function isControlOpcode(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}

/** RFC 6455 §5.2: opcodes 0x3-0x7 and 0xB-0xF are reserved; everything else is defined. */
export function isKnownOpcode(opcode: number): boolean {
  return opcode <= 0x2 || (opcode >= 0x8 && opcode <= 0xa);
}

/**
 * Whether a close code may appear in a close frame on the wire.
 * RFC 6455 §7.4.1/§7.4.2 and the IANA registry: 1000-1003 and 1007-1014 are defined for use;
 * 1004 is reserved, 1005/1006/1015 must never be sent; 1016-2999 are reserved for future RFCs;
 * 3000-3999 are registered for libraries and frameworks; 4000-4999 are private use.
 */
export function isValidCloseCode(code: number): boolean {
  if (!Number.isInteger(code)) return false;
  if (code >= 1000 && code <= 1003) return true;
  if (code >= 1007 && code <= 1014) return true;
  return code >= 3000 && code <= 4999;
}

/** RFC 6455 §5.5: all control frames MUST have a payload length of 125 bytes or less. */
export const MAX_CONTROL_PAYLOAD = 125;
