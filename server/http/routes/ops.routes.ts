import { Router } from 'express';
import { Health, Readiness as ReadinessBody } from '../../api/index.js';
import { answer } from '../answer.js';
import type { Metrics } from '../metrics.js';

export interface Readiness {
  /** This node's id (--node-id), named in the answer: behind a load balancer, which node answered. */
  node: string;
  /** Each check answers true when usable; any false makes /readyz answer 503. */
  checks: Record<string, () => boolean | Promise<boolean>>;
}

/** Health, readiness and metrics: no auth, for load balancers and Prometheus. */
export function opsRouter(readiness: Readiness, metrics: Metrics): Router {
  const router = Router();

  router.get('/healthz', (_req, res) => {
    answer(res, Health, { status: 'ok' });
  });

  router.get('/readyz', async (_req, res) => {
    const results: Record<string, boolean> = {};
    for (const [name, check] of Object.entries(readiness.checks)) {
      try {
        results[name] = await check();
      } catch {
        results[name] = false;
      }
    }
    const ready = Object.values(results).every(Boolean);
    answer(res, ReadinessBody, { status: ready ? 'ready' : 'not_ready', node: readiness.node, checks: results }, ready ? 200 : 503);
  });

  router.get('/metrics', async (_req, res) => {
    res.setHeader('Content-Type', metrics.registry.contentType);
    res.send(await metrics.registry.metrics());
  });

  return router;
}
