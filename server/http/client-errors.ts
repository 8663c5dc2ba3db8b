import crypto from 'node:crypto';
import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { AppError, type ErrorCode } from '../errors.js';
import { errorBody } from './middleware/errors.js';

/** What Node's HTTP parser reports before there is a request, and how the API answers it. */
function codeFor(err: NodeJS.ErrnoException): ErrorCode {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return 'headers_too_large';
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return 'request_timeout';
    default:
      return 'invalid_request';
  }
}

const MESSAGES: Partial<Record<ErrorCode, string>> = {
  headers_too_large: 'the request line and headers are larger than the server accepts (16 KB)',
  request_timeout: 'the request did not arrive in time',
  invalid_request: 'the request is not valid HTTP',
};

/**
 * Requests Node refuses before they reach the app (headers over 16 KB, malformed HTTP, headers
 * that did not arrive within `--headers-timeout`) are answered in the API's error form too,
 * with a code of the catalogue, instead of Node's bare status line (CONTRACT §3).
 */
export function answerClientErrorsInApiForm(server: Server) {
  // An `Expect` this server does not know (anything but 100-continue): Node would answer a bare 417.
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    const error = new AppError('expectation_failed', `Expect: ${String(req.headers.expect).slice(0, 100)} is not supported; send the request without it`);
    const requestId = crypto.randomUUID();
    res.writeHead(error.status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'X-Request-Id': requestId, Connection: 'close' });
    res.end(JSON.stringify(errorBody(error, requestId)));
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // A connection already gone, or one in the middle of another response: nothing to say.
    const inResponse = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
    if (err.code === 'ECONNRESET' || !socket.writable || inResponse) {
      socket.destroy();
      return;
    }
    const code = codeFor(err);
    const error = new AppError(code, MESSAGES[code] ?? 'bad request');
    const requestId = crypto.randomUUID();
    const body = JSON.stringify(errorBody(error, requestId));
    // Written, then closed for good: a client that keeps its side open (a slow-loris holding
    // half-sent headers) must not keep the socket either.
    const closeTimer = setTimeout(() => socket.destroy(), 1_000);
    closeTimer.unref();
    socket.end(
      `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? 'Error'}\r\n` +
        'Content-Type: application/json; charset=utf-8\r\n' +
        'Cache-Control: no-store\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Request-Id: ${requestId}\r\n` +
        'Connection: close\r\n\r\n' +
        body,
      () => {
        clearTimeout(closeTimer);
        socket.destroy();
      },
    );
  });
}
