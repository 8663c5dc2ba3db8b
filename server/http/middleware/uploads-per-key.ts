import type { NextFunction, Request, Response } from 'express';
import { AppError } from '../../errors.js';
import { principalOf } from './auth.js';

/**
 * `--max-uploads-per-key`: upload requests one key may have in flight at once (POST/PUT
 * /v1/image, tus POST and PATCH). An upload holds a connection, a temp file and buffers for as
 * long as its client keeps sending, however slowly; without a bound one key could hold a
 * thousand of them and the server's `--max-connections` with them. More get 429 with
 * `Retry-After` before their body is read.
 */
export function limitUploadsPerKey(max: number) {
  const inFlight = new Map<string, number>();
  return (_req: Request, res: Response, next: NextFunction) => {
    const { keyId } = principalOf(res);
    const count = inFlight.get(keyId) ?? 0;
    if (count >= max) {
      return next(new AppError('too_many_requests', `at most ${max} uploads at once per key; wait for one to finish`, { 'Retry-After': '5' }));
    }
    inFlight.set(keyId, count + 1);
    res.once('close', () => {
      const left = (inFlight.get(keyId) ?? 1) - 1;
      if (left > 0) inFlight.set(keyId, left);
      else inFlight.delete(keyId);
    });
    next();
  };
}
