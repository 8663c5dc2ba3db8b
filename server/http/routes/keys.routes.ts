import { Router } from 'express';
import type { KeysService } from '../../services/keys.service.js';
import { NewKeyInput } from '../../services/keys.service.js';
import { ROLE_RULES, requireRole } from '../middleware/auth.js';
import { jsonBody, noQuery, parseBody } from '../validate.js';

export function keysRouter(keys: KeysService): Router {
  const router = Router();
  const allowed = requireRole(...ROLE_RULES.keys);

  router.post('/keys', allowed, noQuery, jsonBody, async (req, res) => {
    const input = parseBody(NewKeyInput, req.body ?? {});
    const created = await keys.create(input);
    res.status(201).location(`/v1/keys/${created.id}`).json(created);
  });

  router.get('/keys', allowed, noQuery, async (_req, res) => {
    res.json({ items: await keys.list() });
  });

  router.delete('/keys/:id', allowed, noQuery, async (req, res) => {
    await keys.revoke(String(req.params.id));
    res.status(204).end();
  });

  return router;
}
