import { Router, type Request } from 'express';
import { ImageParams, NewLinkRequest, SignedLink } from '../../api/index.js';
import type { LinksService } from '../../services/links/links.service.js';
import { answer } from '../answer.js';
import { ROLE_RULES, principalOf, requireRole } from '../middleware/auth.js';
import { jsonBody, noQuery, parseBody, parseParams } from '../validate.js';

export interface LinksRoutesOptions {
  /** --public-url: where clients reach this server; without it, the request's own protocol and Host. */
  publicUrl?: string;
}

/** `POST /v1/image/{id}/links` (CONTRACT §10): whoever may read the image may hand out a signed link to a render of it. */
export function linksRouter(links: LinksService, options: LinksRoutesOptions): Router {
  const router = Router();
  const origin = (req: Request) => options.publicUrl ?? `${req.protocol}://${req.get('host')}`;

  router.post('/image/:id/links', requireRole(...ROLE_RULES.images), noQuery, jsonBody, async (req, res) => {
    const { id } = parseParams(ImageParams, req.params);
    const link = await links.create(principalOf(res), id, parseBody(NewLinkRequest, req.body ?? {}), origin(req));
    answer(res, SignedLink, link, 201);
  });

  return router;
}
