import type { NextFunction, Request, Response } from 'express';
import type { Role } from '../../api/index.js';
import type { KeysService, Principal } from '../../services/keys.service.js';
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

/** Every /v1 request: a known, unrevoked key or 401. */
export function authenticate(keys: KeysService) {
  return async (req: Request, res: Response, next: NextFunction) => {
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
