// The public entry of hybi: websocket-driver-compatible functions, the extension API and the modern API.

export { ClientDriver, type ClientDriverOptions } from './driver/client.js';
export type {
  CloseEvent,
  DriverOptions,
  DriverState,
  MessageEvent,
  PingEvent,
  ReadyState,
} from './driver/driver.js';
export { Driver } from './driver/driver.js';
export { Http2ClientDriver, type Http2Request } from './driver/http2-client.js';
export { type Http2Respond, Http2ServerDriver } from './driver/http2-server.js';
export { client, http, isSecureRequest, isWebSocket, server, validateOptions } from './driver/index.js';
export { HttpProxy, type ProxyOptions } from './driver/proxy.js';
export { ServerDriver, type ServerRequest } from './driver/server.js';
export type {
  ClientExtensionSession,
  Extension,
  ExtensionMessage,
  ExtensionParams,
  ExtensionParamValue,
  ExtensionSession,
  ExtensionSessionOptions,
  ServerExtensionSession,
} from './extensions/extension.js';
export { type PerMessageDeflateOptions, permessageDeflate } from './extensions/permessage-deflate.js';
export type { ClientOptions, Http2Mode } from './node/client-options.js';
export { connect, connectAny, connectHttp2 } from './node/connect.js';
export { DEFAULT_HEARTBEAT, type HeartbeatOptions } from './node/heartbeat.js';

// The Node dialer of `new WebSocket(url)`: loading it registers it with the WebSocket face, which
// imports nothing of src/node itself.
import './node/dialer.js';

export type { Backplane } from './node/backplane.js';
export {
  type BackplaneDrop,
  ClusterBackplane,
  type ClusterBackplaneEvents,
  type ClusterBackplaneOptions,
  type ClusterRelayOptions,
  clusterBackplane,
  DEFAULT_MAX_IPC_QUEUED_BYTES,
  relayClusterBackplane,
} from './node/cluster-backplane.js';
export { type Http2ClientOptions, Http2UnsupportedError } from './node/http2-client.js';
export {
  type AttachHttp2Options,
  acceptHttp2Stream,
  attachHttp2,
  type Http2AcceptOptions,
  type Http2ConnectionOwner,
  Http2StreamLink,
  Http2WebSocketHost,
  type Http2WebSocketHostEvents,
  type Http2WebSocketRequest,
  type HttpProtocol,
  httpProtocolOf,
} from './node/http2-server.js';
export {
  defaultHttp2SessionPool,
  Http2SessionPool,
  type Http2SessionPoolOptions,
} from './node/http2-session-pool.js';
export {
  type EndReason,
  type ReconnectClock,
  type ReconnectingEvents,
  type ReconnectingOptions,
  type ReconnectingSendable,
  ReconnectingWebSocket,
} from './node/reconnecting-websocket.js';
export {
  DEFAULT_REDIS_CHANNEL_PREFIX,
  DEFAULT_REDIS_MAX_QUEUED_BYTES,
  RedisBackplane,
  type RedisBackplaneDrop,
  type RedisBackplaneEvents,
  type RedisBackplaneLoss,
  type RedisBackplaneOptions,
  type RedisPublisherLike,
  type RedisSubscriberLike,
  redisBackplane,
} from './node/redis-backplane.js';
export {
  type AcceptOptions,
  acceptSocket,
  acceptUpgrade,
  type UpgradeRequestInfo,
  type VerifyRejection,
  type VerifyResult,
  WebSocketServer,
  type WebSocketServerEvents,
  type WebSocketServerOptions,
} from './node/server.js';
export { type ShutdownOptions, type ShutdownResult, shutdown } from './node/shutdown.js';
export { linkSocket, SocketLink, type SocketLinkOptions } from './node/socket-link.js';
export { DEFAULT_MAX_TOPICS_PER_SOCKET } from './node/topics.js';
export { HandshakeError, ProtocolError } from './protocol/errors.js';
export { CloseCode, Opcode } from './protocol/opcodes.js';
export { PreparedMessage, prepareMessage } from './protocol/prepared-message.js';
export {
  type BinaryType,
  // The driver's CloseEvent type keeps its name (websocket-driver compatibility); these are the DOM-style classes.
  CloseEvent as WebSocketCloseEvent,
  type CloseEventInit,
  ErrorEvent as WebSocketErrorEvent,
  type ErrorEventInit,
  type SendableData,
  type TransportCloseEvent,
  type TransportEvents,
  type TypedMessageEvent,
  WebSocket,
  type WebSocketData,
  type WebSocketEventMap,
  type WebSocketListener,
  type WebSocketOptions,
  type WebSocketTransport,
} from './websocket.js';
export type { PublishOptions, TopicData } from './websocket-topics.js';
