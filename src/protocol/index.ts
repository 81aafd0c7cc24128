// The `hybi/protocol` entry: the sans-IO core for those who bring their own I/O.

export { decodeCloseBody, encodeCloseBody, MAX_CLOSE_REASON_BYTES } from './close.js';
export {
  Connection,
  type ConnectionEvent,
  type ConnectionOptions,
  type ConnectionState,
  type Role,
} from './connection.js';
export { HandshakeError, ProtocolError } from './errors.js';
export * from './extended-connect.js';
export {
  type ExtensionHeaderResult,
  type ExtensionOffer,
  parseExtensionHeader,
  serializeExtensionHeader,
} from './extension-header.js';
export { decodeFrameHeader, encodeFrameHeader, type FrameHeader, frameHeaderLength } from './frame.js';
export { FrameParser, type FrameSink, type MaskExpectation } from './frame-parser.js';
export * from './handshake.js';
export {
  type HttpHeaders,
  HttpHeadParser,
  type HttpRequestHead,
  type HttpResponseHead,
} from './http-head.js';
export { applyMask, copyMasked, MaskKeyPool } from './mask.js';
export { CloseCode, isControlOpcode, isKnownOpcode, isValidCloseCode, Opcode } from './opcodes.js';
export { PreparedMessage, prepareMessage } from './prepared-message.js';
export { isValidUtf8, Utf8Validator } from './utf8.js';
