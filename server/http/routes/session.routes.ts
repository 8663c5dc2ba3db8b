import { Router } from 'express';
import { principalOf } from '../middleware/auth.js';
import { noQuery } from '../validate.js';

export interface SessionLimits {
  maxUploadBytes: number;
  maxInputPixels: number;
  /** What a variant may be (services/variants.ts outputLimits), for checking before asking. */
  output: { maxSide: number; maxVariants: number; maxPixels: Record<string, number> };
}

/**
 * `GET /v1/me`: who the key is (customer, role) and the upload limits, so a client can show
 * what the key may do and refuse an oversized file before sending it. Any valid key may ask.
 */
export function sessionRouter(limits: SessionLimits): Router {
  const router = Router();
  router.get('/me', noQuery, (_req, res) => {
    const { keyId, customer, role } = principalOf(res);
    res.setHeader('Cache-Control', 'no-store');
    res.json({ keyId, customer, role, limits });
  });
  return router;
}
