import { Router } from 'express';
import { IdParams, NewKeyRequest, type CreatedKey, type KeyList } from '../../api/index.js';
import type { KeysService } from '../../services/keys.service.js';
import { ROLE_RULES, requireRole } from '../middleware/auth.js';
import { jsonBody, noQuery, parseBody, parseParams } from '../validate.js';

export function keysRouter(keys: KeysService): Router {
  const router = Router();
  const allowed = requireRole(...ROLE_RULES.keys);

  router.post('/keys', allowed, noQuery, jsonBody, (req, res) => {
    const input = parseBody(NewKeyRequest, req.body ?? {});
    const created: CreatedKey = keys.create(input);
    res.status(201).location(`/v1/keys/${created.id}`).json(created);
  });

  router.get('/keys', allowed, noQuery, (_req, res) => {
    const list: KeyList = { items: keys.list() };
    res.json(list);
  });

  router.delete('/keys/:id', allowed, noQuery, (req, res) => {
    keys.revoke(parseParams(IdParams, req.params).id);
    res.status(204).end();
  });

  return router;
}
