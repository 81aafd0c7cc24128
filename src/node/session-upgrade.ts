// Owns the server's answer to an HTTP/1.1 upgrade node:http parsed, on the lean path: the request
// checked and negotiated (RFC 6455 §4.2.2), the 101 or the HTTP error written, and the WebSocket opened
// on a SessionLink, with no Driver or classic stream in between.

import type { Duplex } from 'node:stream';
import { configuredProtocolsOf } from '../driver/driver.js';
import { type ServerRequest, webSocketUrlOf } from '../driver/server.js';
import { HandshakeError } from '../protocol/errors.js';
import { buildRejectionResponse, buildServerResponse, validateClientRequest } from '../protocol/handshake.js';
import type { Session } from '../session/session.js';
import { WebSocket } from '../websocket.js';
import type { PreparedOptions } from './admission.js';
import { SessionLink } from './session-link.js';

/**
 * Answers `request` on `socket` and returns the open WebSocket; throws the HandshakeError it answered
 * with (400, 426 ...) when the request cannot be accepted. `head` is what node:http read past the
 * request head (frames a client sent eagerly): parsed once the socket is open.
 */
export function openUpgradedSocket(
  request: ServerRequest,
  socket: Duplex,
  head: Buffer,
  prepared: PreparedOptions,
): WebSocket {
  const link = new SessionLink(
    socket,
    'server',
    webSocketUrlOf(request),
    prepared.sessionOptions,
    prepared.linkOptions,
  );
  const session = link.session;
  const response = serverResponse(request, session, prepared);
  if (response instanceof HandshakeError) {
    // As the Driver answers: the status written, then the session fails and the link ends the socket
    // (it still reads, to see the client's FIN; the close timeout bounds the wait).
    link.sessionWrite([buildRejectionResponse(response)]);
    session.failHandshake(response);
    link.start(undefined);
    throw response;
  }
  // The WebSocket listens before the session opens: frames that came with the request follow at once.
  const webSocket = new WebSocket(link);
  link.sessionWrite([response]);
  session.open();
  link.start(head);
  return webSocket;
}

/** The 101 for a valid request whose offer the session accepted, or the HTTP error to answer. */
function serverResponse(
  request: ServerRequest,
  session: Session,
  prepared: PreparedOptions,
): Buffer | HandshakeError {
  const check = validateClientRequest(request);
  if (!check.ok) return check.error;
  const configured = configuredProtocolsOf(prepared.driverOptions);
  const agreed = session.acceptOffer(check.offeredProtocols, configured, check.extensionHeader);
  if (agreed instanceof HandshakeError) return agreed;
  const headers: Record<string, string> = {};
  for (const [name, value] of prepared.headers) headers[name] = value;
  return buildServerResponse({
    key: check.key,
    protocol: agreed.protocol,
    extensionHeader: agreed.extensionHeader,
    headers,
  });
}
