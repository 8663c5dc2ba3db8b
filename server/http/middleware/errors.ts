import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import type { ErrorBody } from '../../api/index.js';
import type { DatabaseErrors } from '../../db/port.js';
import { AppError, isAppError } from '../../errors.js';
import { translateFileSystemError } from '../../storage/fs-errors.js';
import { closesAfterEarlyAnswer } from '../connection/early-answers.js';

/** The one error body of the API (its schema: server/api/errors.ts). */
export function errorBody(err: AppError, requestId: unknown): ErrorBody {
  return { error: { code: err.code, message: err.message, requestId: String(requestId ?? '') } };
}

/**
 * Turns anything thrown by a route into a JSON error of the catalogue; the single place that
 * does. The database's failures are read through its port, whichever adapter runs underneath.
 */
export function errorHandler(logger: Logger, database: DatabaseErrors) {
  // Express recognises error handlers by their four parameters.
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const appError = toAppError(err, database);
    if (appError.code === 'internal_error' || database.isDamage(err)) logger.error({ err, requestId: req.id }, 'request failed');
    // Translated outages (a busy database, a full or failing disk) say what failed underneath.
    else if (appError.status >= 500 && appError !== err) logger.warn({ err, requestId: req.id, code: appError.code }, 'request refused: server resource unavailable');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    // Whatever the route had prepared for its answer (a download's type, ETag, year-long caching,
    // attachment name) does not describe this error.
    for (const name of REPRESENTATION_HEADERS) res.removeHeader(name);
    res.setHeader('Cache-Control', 'no-store');
    for (const [name, value] of Object.entries(appError.headers)) res.setHeader(name, value);
    // Refused before its body was read: the rest is drained after the answer (connection/early-answers.ts).
    if (closesAfterEarlyAnswer(req)) res.setHeader('Connection', 'close');
    res.status(appError.status).json(errorBody(appError, req.id));
  };
}

const REPRESENTATION_HEADERS = ['Content-Type', 'Content-Length', 'Content-Disposition', 'Content-Range', 'ETag', 'Last-Modified', 'Expires', 'Accept-Ranges'];

/** Errors from body parsers and the like, which carry a status but are not AppErrors. */
export function toAppError(err: unknown, database: DatabaseErrors): AppError {
  if (isAppError(err)) return err;
  const outage = database.translateError(err) ?? translateFileSystemError(err);
  if (outage) return outage;
  const e = err as { status?: number; type?: string; message?: string };
  if (e?.type === 'entity.parse.failed') return new AppError('invalid_request', 'body is not valid JSON');
  if (e?.type === 'entity.too.large') return new AppError('payload_too_large', 'the JSON body is larger than 1 MB');
  // send() refusing a Range past the end of a local file; it names the size in its headers.
  if (e?.status === 416) return new AppError('range_not_satisfiable', 'the range is outside the file', (e as { headers?: Record<string, string> }).headers ?? {});
  // Anything else the request itself caused, as body parsers and the router say (an unsupported
  // charset, an undecodable path segment, a body shorter than its Content-Length).
  if (e?.status === 404) return new AppError('not_found', e.message || 'not found');
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) return new AppError('invalid_request', e.message || 'bad request');
  return new AppError('internal_error', 'internal error; the server log has the details');
}
