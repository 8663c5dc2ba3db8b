import type { NextFunction, Request, Response } from 'express';
import type { Role } from '../../api/index.js';
import type { KeysService, Principal } from '../../services/keys.service.js';
import type { VerifiedLink } from '../../services/links/links.service.js';
import { AppError } from '../../errors.js';

/** `Authorization: Bearer KEY` or `X-Api-Key: KEY`. */
export function keyFromRequest(req: Request): string | undefined {
  const header = req.headers.authorization;
  if (header) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return match?.[1];
  }
  const apiKey = req.headers['x-api-key'];
  return Array.isArray(apiKey) ? apiKey[0] : apiKey;
}

/** Checks a signed link's request (services/links/links.service.ts `verify`). */
export type VerifySignedLink = (imageId: string, query: ReadonlyArray<readonly [string, string]>) => Promise<VerifiedLink>;

/**
 * The one request a signature may stand in for a key: `GET /v1/image/{id}/render` with `sig` in
 * its query. Matched on the exact path express will route (lower case, no trailing slash): a
 * path the pattern misses falls back to needing a key, never the other way round.
 */
const SIGNED_RENDER = /^\/image\/([^/]+)\/render$/;

/** The signed link a request carries, when it is one (method, path and a `sig` parameter). */
function signedRenderOf(req: Request): { imageId: string; query: Array<[string, string]> } | undefined {
  if (req.method !== 'GET') return undefined;
  const match = SIGNED_RENDER.exec(req.path);
  const at = req.originalUrl.indexOf('?');
  if (!match || at < 0) return undefined;
  const query = [...new URLSearchParams(req.originalUrl.slice(at + 1))];
  if (!query.some(([k]) => k === 'sig')) return undefined;
  let imageId: string;
  try {
    imageId = decodeURIComponent(match[1]!);
  } catch {
    return undefined;
  }
  return { imageId, query };
}

/** The signed link this request was let through by, if it was (the render route answers it as public). */
export function signedLinkOf(res: Response): VerifiedLink | undefined {
  return res.locals.signedLink as VerifiedLink | undefined;
}

/**
 * Every /v1 request: a known, unrevoked key or 401. A signed link's render request needs no key:
 * its signature is checked instead (403 changed, 410 expired, 404 image gone), and it goes on as
 * the image's owner, for that route only. A key sent with it is not looked at.
 */
export function authenticate(keys: KeysService, verifySignedLink?: VerifySignedLink) {
  return async (req: Request, res: Response, next: NextFunction) => {
    const signed = verifySignedLink && signedRenderOf(req);
    if (signed) {
      try {
        const link = await verifySignedLink(signed.imageId, signed.query);
        res.locals.principal = link.principal;
        res.locals.signedLink = link;
        return next();
      } catch (err) {
        return next(err);
      }
    }
    const plain = keyFromRequest(req);
    if (!plain) return next(new AppError('unauthorized', 'send an API key: Authorization: Bearer KEY'));
    const principal = await keys.authenticate(plain);
    if (!principal) return next(new AppError('unauthorized', 'unknown or revoked API key'));
    res.locals.principal = principal;
    next();
  };
}

export function principalOf(res: Response): Principal {
  const principal = res.locals.principal as Principal | undefined;
  if (!principal) throw new AppError('unauthorized', 'not authenticated');
  return principal;
}

/** Roles allowed on a route; any other known key gets 403. */
export function requireRole(...roles: Role[]) {
  return (_req: Request, res: Response, next: NextFunction) => {
    const principal = principalOf(res);
    if (!roles.includes(principal.role)) {
      return next(new AppError('forbidden', `role "${principal.role}" may not do this; needs ${roles.join(' or ')}`));
    }
    next();
  };
}

/** Who may do what, in one place (CONTRACT §2). */
export const ROLE_RULES = {
  images: ['user', 'admin'],
  stats: ['business', 'admin'],
  keys: ['admin'],
  import: ['admin'],
  sync: ['admin'],
  webhooks: ['user', 'admin'],
  nodes: ['admin'],
  presets: ['admin'],
} as const satisfies Record<string, readonly Role[]>;
