import { Router } from 'express';
import type { Health, Readiness as ReadinessBody } from '../../api/index.js';
import type { Metrics } from '../metrics.js';

export interface Readiness {
  /** Each check answers true when usable; any false makes /readyz answer 503. */
  checks: Record<string, () => boolean | Promise<boolean>>;
}

/** Health, readiness and metrics: no auth, for load balancers and Prometheus. */
export function opsRouter(readiness: Readiness, metrics: Metrics): Router {
  const router = Router();

  router.get('/healthz', (_req, res) => {
    const body: Health = { status: 'ok' };
    res.json(body);
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
    const body: ReadinessBody = { status: ready ? 'ready' : 'not_ready', checks: results };
    res.status(ready ? 200 : 503).json(body);
  });

  router.get('/metrics', async (_req, res) => {
    res.setHeader('Content-Type', metrics.registry.contentType);
    res.send(await metrics.registry.metrics());
  });

  return router;
}
