import { Router } from 'express';
import { IdParams, NewWatchFolderRequest, type WatchFolder, type WatchFolderList } from '../../api/index.js';
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

  router.get('/watch', admin, noQuery, (_req, res) => {
    const list: WatchFolderList = { items: watch.list() };
    res.json(list);
  });

  router.get('/watch/:id', admin, noQuery, (req, res) => {
    const folder: WatchFolder = watch.get(parseParams(IdParams, req.params).id);
    res.json(folder);
  });

  router.post('/watch', admin, local, noQuery, jsonBody, async (req, res) => {
    const body = parseBody(NewWatchFolderRequest, req.body ?? {});
    const { created, folder } = await watch.add(body.path, body.poll);
    res.status(created ? 201 : 200).location(`/v1/watch/${folder.id}`).json(folder);
  });

  router.delete('/watch/:id', admin, local, noQuery, async (req, res) => {
    await watch.remove(parseParams(IdParams, req.params).id);
    res.status(204).end();
  });

  return router;
}
