import type { NextFunction, Request, Response } from 'express';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { AppError } from '../../errors.js';
import { principalOf, signedLinkOf } from './auth.js';

/**
 * `--rate-limit N`: at most N requests a second per API key; more get 429 `too_many_requests`
 * with `Retry-After` (whole seconds until the key has room again). Mounted after authentication,
 * so it counts keys, not addresses: one customer's script cannot starve another behind the same
 * NAT. Counted in this process's memory (a fixed one-second window per key).
 *
 * A signed link has no key: its requests are counted per client address instead (not per link
 * or image, which would let one page's visitors, or one scraper, use up everyone's allowance of
 * a popular image), apart from every key's count.
 */
export function rateLimitPerKey(requestsPerSecond: number) {
  const limiter = new RateLimiterMemory({ points: requestsPerSecond, duration: 1 });
  return async (req: Request, res: Response, next: NextFunction) => {
    const link = signedLinkOf(res) !== undefined;
    try {
      await limiter.consume(link ? `link-address:${req.ip ?? ''}` : principalOf(res).keyId);
      next();
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) return next(err);
      const seconds = Math.max(1, Math.ceil(err.msBeforeNext / 1000));
      next(
        new AppError('too_many_requests', `more than ${requestsPerSecond} requests a second ${link ? 'of signed links from this address' : 'with this key'}; try again in ${seconds} s`, {
          'Retry-After': String(seconds),
        }),
      );
    }
  };
}
