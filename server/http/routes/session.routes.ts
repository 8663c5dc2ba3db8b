import { Router } from 'express';
import { Me } from '../../api/index.js';
import { answer } from '../answer.js';
import { principalOf } from '../middleware/auth.js';
import { noQuery } from '../validate.js';

/** The upload limits of the answer; `output` is what a variant may be (services/variants.ts outputLimits). */
export type SessionLimits = Me['limits'];

/**
 * `GET /v1/me`: who the key is (customer, role) and the upload limits, so a client can show
 * what the key may do and refuse an oversized file before sending it. Any valid key may ask.
 */
export function sessionRouter(limits: SessionLimits): Router {
  const router = Router();
  router.get('/me', noQuery, (_req, res) => {
    const { keyId, customer, role } = principalOf(res);
    res.setHeader('Cache-Control', 'no-store');
    answer(res, Me, { keyId, customer, role, limits });
  });
  return router;
}
