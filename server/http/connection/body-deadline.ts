import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { AppError } from '../../errors.js';
import { errorBody } from '../middleware/errors.js';

const unbounded = new WeakSet<IncomingMessage>();

/**
 * An upload's body takes as long as it takes (only `--idle-timeout` applies to it): the upload
 * routes call this before reading it.
 */
export function allowSlowBody(req: IncomingMessage): void {
  unbounded.add(req);
}

/**
 * Node's requestTimeout for every route but the uploads: the body of any other request (a JSON
 * body of at most 1 MB) must have arrived within `timeoutMs` of its headers. A client trickling
 * a byte now and then would otherwise keep the socket and a body parser waiting forever, out of
 * reach of the idle timeout. Node's own requestTimeout cannot tell the routes apart, so it stays
 * off and this takes its place. A late body is answered 408 `request_timeout` and the connection closed.
 */
export function limitBodyTime(server: Server, timeoutMs: number): void {
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    if (!hasBody(req)) return;
    const timer = setTimeout(() => {
      if (req.complete || unbounded.has(req)) return;
      if (res.headersSent) return void res.socket?.destroy();
      const error = new AppError('request_timeout', `the request body did not arrive within ${Math.round(timeoutMs / 1000)} s`);
      res.statusCode = error.status;
      res.setHeader('Content-Type', 'application/json; charset=utf-8');
      res.setHeader('Connection', 'close');
      res.end(JSON.stringify(errorBody(error, (req as { id?: unknown }).id)));
    }, timeoutMs);
    timer.unref();
    res.once('close', () => clearTimeout(timer));
  });
}

function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}
