import { Router } from 'express';
import { IdParams, NewWatchFolderRequest, WatchFolder, WatchFolderList } from '../../api/index.js';
import { answer } from '../answer.js';
import type { WatchService } from '../../watch/watch.service.js';
import { ROLE_RULES, requireRole } from '../middleware/auth.js';
import { requireLoopback } from '../middleware/loopback.js';
import { jsonBody, noQuery, parseBody, parseParams } from '../validate.js';

/**
 * Watch folders for the UI's settings: list them with their counts (admin), add and remove
 * folders (admin, and only from this machine, as adding one makes the server read local files).
 */
export function watchRouter(watch: WatchService): Router {
  const router = Router();
  const admin = requireRole(...ROLE_RULES.import);
  const local = requireLoopback('changing watch folders');

  router.get('/watch', admin, noQuery, async (_req, res) => {
    answer(res, WatchFolderList, { items: await watch.list() });
  });

  router.get('/watch/:id', admin, noQuery, async (req, res) => {
    answer(res, WatchFolder, await watch.get(parseParams(IdParams, req.params).id));
  });

  router.post('/watch', admin, local, noQuery, jsonBody, async (req, res) => {
    const body = parseBody(NewWatchFolderRequest, req.body ?? {});
    const { created, folder } = await watch.add(body.path, body.poll);
    answer(res.location(`/v1/watch/${folder.id}`), WatchFolder, folder, created ? 201 : 200);
  });

  router.delete('/watch/:id', admin, local, noQuery, async (req, res) => {
    await watch.remove(parseParams(IdParams, req.params).id);
    res.status(204).end();
  });

  return router;
}
