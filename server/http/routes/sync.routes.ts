import { Router } from 'express';
import { SyncRetryResponse, SyncStatus } from '../../api/index.js';
import { answer } from '../answer.js';
import type { S3Sync } from '../../sync/s3-sync.js';
import { ROLE_RULES, requireRole } from '../middleware/auth.js';
import { noQuery } from '../validate.js';

/** S3 sync status for operators and the UI's status view; `{enabled: false}` without a bucket. */
export function syncRouter(sync: Pick<S3Sync, 'status' | 'retryFailed'> | undefined): Router {
  const router = Router();
  const allowed = requireRole(...ROLE_RULES.sync);

  router.get('/sync', allowed, noQuery, async (_req, res) => {
    answer(res, SyncStatus, sync ? await sync.status() : { enabled: false });
  });

  router.post('/sync/retry', allowed, noQuery, async (_req, res) => {
    answer(res, SyncRetryResponse, { requeued: sync ? await sync.retryFailed() : 0 }, 202);
  });

  return router;
}
