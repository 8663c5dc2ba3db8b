import { Router } from 'express';
import { NodeList } from '../../api/index.js';
import type { NodeView } from '../../cluster/node-registry.js';
import { answer } from '../answer.js';
import { ROLE_RULES, requireRole } from '../middleware/auth.js';
import { noQuery } from '../validate.js';

const iso = (ms: number) => new Date(ms).toISOString();

/** `GET /v1/nodes`: the node registry, for operators and the UI's Status page. */
export function nodesRouter(registry: { list(): Promise<NodeView[]> }): Router {
  const router = Router();
  router.get('/nodes', requireRole(...ROLE_RULES.nodes), noQuery, async (_req, res) => {
    const items = (await registry.list()).map((n) => ({ ...n, startedAt: iso(n.startedAt), lastSeenAt: iso(n.lastSeenAt) }));
    answer(res, NodeList, { items });
  });
  return router;
}
