import { Router, type Request, type RequestHandler, type Response } from 'express';
import { NodeRequest, sendNodeResponse } from 'srvx/node';
import type { ResumableUploads } from '../tus/resumable-uploads.js';
import type { Principal } from '../../services/keys.service.js';
import { allowSlowBody } from '../connection/body-deadline.js';
import { ROLE_RULES, principalOf, requireRole } from '../middleware/auth.js';
import { tusErrorInApiForm } from '../tus/tus-errors.js';
import { noQuery } from '../validate.js';

const TUS_VERSION = '1.0.0';

/**
 * `/v1/uploads`: tus 1.0 resumable uploads (CONTRACT §3). Auth, roles and the checks that can
 * refuse an upload before its bytes are sent answer here as ordinary API errors; the protocol
 * itself is @tus/server's. Requests about an upload that is already complete are answered here
 * too, with its image id, so a client that lost the final answer still learns it.
 */
export function uploadsRouter(uploads: ResumableUploads, slot: RequestHandler): Router {
  const router = Router();
  const allowed = requireRole(...ROLE_RULES.images);

  /** The protocol itself is @tus/server's; its errors are answered in the API's form. */
  async function viaTus(principal: Principal, req: Request, res: Response) {
    const answer = await uploads.handle(principal, new NodeRequest({ req, res }), req);
    await sendNodeResponse(res, await tusErrorInApiForm(answer, req.id, uploads.answerHeadersFor(req)));
  }

  router.options(['/uploads', '/uploads/:id'], noQuery, (req, res) => viaTus(principalOf(res), req, res));

  router.post('/uploads', allowed, noQuery, slot, async (req, res) => {
    // The body of a creation request, if any, is the upload's first bytes.
    allowSlowBody(req);
    const principal = principalOf(res);
    await uploads.admitCreation(principal, req.headers);
    await viaTus(principal, req, res);
  });

  router.head('/uploads/:id', allowed, noQuery, async (req, res) => {
    const principal = principalOf(res);
    const done = await uploads.completed(principal, String(req.params.id));
    if (done) return void answerCompleted(res, 200, done);
    await viaTus(principal, req, res);
  });

  router.patch('/uploads/:id', allowed, noQuery, slot, async (req, res) => {
    allowSlowBody(req);
    const principal = principalOf(res);
    const id = String(req.params.id);
    const done = await uploads.completed(principal, id);
    // A repeat of the final part, whose answer was lost: the upload is complete, say so again.
    if (done && Number(req.headers['upload-offset']) === done.size) return void answerCompleted(res, 204, done);
    await viaTus(principal, req, res);
  });

  router.delete('/uploads/:id', allowed, noQuery, async (req, res) => {
    const principal = principalOf(res);
    const id = String(req.params.id);
    // A completed upload is an image now: ending the upload only forgets the upload's record.
    if (await uploads.forgetCompleted(principal, id)) return void res.status(204).setHeader('Tus-Resumable', TUS_VERSION).end();
    await viaTus(principal, req, res);
  });

  return router;
}

function answerCompleted(res: Response, status: 200 | 204, done: { size: number; imageId: string }) {
  res.setHeader('Tus-Resumable', TUS_VERSION);
  res.setHeader('Upload-Offset', String(done.size));
  res.setHeader('Upload-Length', String(done.size));
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Darkroom-Image-Id', done.imageId);
  res.status(status).end();
}
