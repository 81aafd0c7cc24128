// Owns the `hybi/fuzz` entry: the fast-check arbitraries and helpers users aim at their own WebSocket code.
//
// Needs fast-check installed by the user (a peer dependency; hybi itself has none at runtime).

export {
  type ChunkSplitter,
  type ChunkSplitterOptions,
  chunkSplitterArbitrary,
  splitChunks,
} from './arbitraries/chunks.js';
export {
  closePayload,
  closeReasonArbitrary,
  fitCloseReason,
  invalidCloseCodeArbitrary,
  validCloseCodeArbitrary,
} from './arbitraries/close.js';
export {
  type DeflateParameterSet,
  type DeflatePayload,
  deflateMessage,
  deflateParameterSetArbitrary,
  deflatePayloadArbitrary,
} from './arbitraries/deflate.js';
export {
  type ExtensionGrammarOptions,
  type ExtensionOfferSpec,
  type ExtensionParamSpec,
  extensionHeaderTextArbitrary,
  extensionOffersArbitrary,
  isExtensionHeaderGrammatical,
} from './arbitraries/extension-header.js';
export {
  controlFrameArbitrary,
  encodedHeaderLength,
  encodeFrame,
  encodeFrames,
  type FrameArbitraryOptions,
  FrameOpcode,
  type FrameSpec,
  hostileFrameArbitrary,
  isControlFrameOpcode,
  type LengthEncoding,
  maskingKeyArbitrary,
  RsvBit,
} from './arbitraries/frames.js';
export {
  type HandshakeRequest,
  type HandshakeVerdict,
  handshakeRequestArbitrary,
  tokenArbitrary,
  websocketKeyArbitrary,
} from './arbitraries/handshake.js';
export {
  astralCharacterArbitrary,
  binaryArbitrary,
  largeBinaryArbitrary,
  largeTextArbitrary,
  type Message,
  type MessageArbitraryOptions,
  messageArbitrary,
  messageBytes,
  textArbitrary,
} from './arbitraries/messages.js';
export {
  applyMutations,
  expectedFailureCode,
  mutationTarget,
  type NoiseMutation,
  noiseMutationArbitrary,
  type StreamMutation,
  streamMutationArbitrary,
  type TargetedMutation,
  type TargetedMutationOptions,
  targetedMutationArbitrary,
} from './arbitraries/mutations.js';
export {
  type ExpectedEvent,
  type PlanFramesOptions,
  type PlanStep,
  planFrames,
  type StreamPlan,
  type StreamPlanOptions,
  streamPlanArbitrary,
} from './arbitraries/streams.js';
export {
  invalidUtf8SequenceArbitrary,
  invalidUtf8TextArbitrary,
  truncatedUtf8Arbitrary,
} from './arbitraries/utf8.js';
