import { Router } from 'express';
import { CreatedKey, IdParams, KeyList, NewKeyRequest } from '../../api/index.js';
import { answer } from '../answer.js';
import type { KeysService } from '../../services/keys.service.js';
import { ROLE_RULES, requireRole } from '../middleware/auth.js';
import { jsonBody, noQuery, parseBody, parseParams } from '../validate.js';

export function keysRouter(keys: KeysService): Router {
  const router = Router();
  const allowed = requireRole(...ROLE_RULES.keys);

  router.post('/keys', allowed, noQuery, jsonBody, async (req, res) => {
    const input = parseBody(NewKeyRequest, req.body ?? {});
    const created = await keys.create(input);
    answer(res.location(`/v1/keys/${created.id}`), CreatedKey, created, 201);
  });

  router.get('/keys', allowed, noQuery, async (_req, res) => {
    answer(res, KeyList, { items: await keys.list() });
  });

  router.delete('/keys/:id', allowed, noQuery, async (req, res) => {
    await keys.revoke(parseParams(IdParams, req.params).id);
    res.status(204).end();
  });

  return router;
}
