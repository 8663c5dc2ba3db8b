import http from 'node:http';
import { answerClientErrorsInApiForm } from '../client-errors.js';
import { limitBodyTime } from './body-deadline.js';
import { capConnectionsPerAddress } from './per-address.js';
import { keepEarlyAnswersReadable } from './early-answers.js';
import { applyIdleTimeout } from './idle-timeout.js';

export interface ConnectionLimits {
  /** --headers-timeout: request headers must have arrived this long after the first byte. */
  headersTimeoutMs: number;
  /** --idle-timeout: see idle-timeout.ts. */
  idleTimeoutMs: number;
  /** --max-connections: more are refused (closed at once) until some close. */
  maxConnections: number;
  /** --max-connections-per-address: see per-address.ts. */
  maxConnectionsPerAddress: number;
}

/**
 * Requests one connection may carry; its last answer says `Connection: close`. High enough that a
 * busy keep-alive client (a page of thumbnails, a load tester) rarely meets it: Node answers a
 * request that arrives past it on the same connection with a bare 503, which clients that send
 * before reading the close (autocannon at a thousand requests a second) took for failures.
 */
export const MAX_REQUESTS_PER_SOCKET = 10_000;
const KEEP_ALIVE_TIMEOUT_MS = 5_000;

/**
 * The HTTP server with every connection-level limit (CONTRACT §13): header and idle timeouts, a
 * deadline for non-upload bodies, connection and per-connection request caps, and early answers
 * that stay readable.
 */
export function createHttpServer(handler: http.RequestListener, limits: ConnectionLimits): http.Server {
  const server = http.createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      // Uploads of several gigabytes take as long as they take: Node's whole-request deadline
      // cannot spare them, so it is off and body-deadline.ts applies one to the other routes.
      requestTimeout: 0,
      // Node looks for connections past headersTimeout only this often (30 s by default, which
      // would let half-sent headers stay up to 30 s past the limit).
      connectionsCheckingInterval: Math.min(1_000, Math.max(100, Math.floor(limits.headersTimeoutMs / 4))),
    },
    handler,
  );
  // Between requests a connection is idle too: it never waits longer than --idle-timeout.
  server.keepAliveTimeout = Math.min(KEEP_ALIVE_TIMEOUT_MS, limits.idleTimeoutMs);
  server.maxRequestsPerSocket = MAX_REQUESTS_PER_SOCKET;
  server.maxConnections = limits.maxConnections;
  capConnectionsPerAddress(server, limits.maxConnectionsPerAddress);
  applyIdleTimeout(server, limits.idleTimeoutMs);
  limitBodyTime(server, limits.headersTimeoutMs);
  keepEarlyAnswersReadable(server);
  answerClientErrorsInApiForm(server);
  // "Expect: 100-continue" (curl sends it for large bodies): the route decides, after auth and
  // the cheap checks, whether to invite the body (see http/middleware/upload.ts).
  server.on('checkContinue', (req, res) => server.emit('request', req, res));
  return server;
}
