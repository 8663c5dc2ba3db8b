import { pipeline } from 'node:stream/promises';
import { Router, type Request, type Response } from 'express';
import { ImageParams, RenderQuery } from '../../api/index.js';
import type { Principal } from '../../services/keys.service.js';
import { withPreset, type PresetsService } from '../../services/presets.service.js';
import type { RenderParams } from '../../services/render/render-request.js';
import type { RenderService } from '../../services/render/render.service.js';
import type { Clock } from '../../util/clock.js';
import { ROLE_RULES, principalOf, requireRole, signedLinkOf } from '../middleware/auth.js';
import { parseParams, parseQuery } from '../validate.js';

export interface RenderAnswerOptions {
  /**
   * `Cache-Control` of the answer, given the stored render's expiry (undefined for a 304, which
   * does not open it); by default `private` up to it (an answer to a key is the key holder's),
   * and none on a 304. A signed link answers `public` instead, on 304s too.
   */
  cacheControl?: (expiresAt: number | undefined, now: number) => string;
}

/**
 * A signed link's answers may be kept by any cache (a CDN, a browser) for as long as the link
 * lives and the stored render is kept, whichever ends first: never past the link's expiry, so a
 * cache does not serve it after it would answer 410.
 */
export function linkCacheControl(linkExpiresAt: number) {
  return (renderExpiresAt: number | undefined, now: number) =>
    `public, max-age=${Math.max(0, Math.floor((Math.min(linkExpiresAt, renderExpiresAt ?? Infinity) - now) / 1000))}`;
}

/**
 * Answers a render request on `res` (GET or HEAD): 304 when If-None-Match names its ETag (no
 * pixel decoded), else the stored render (`Darkroom-Cache: hit`) or a new one (`miss`), with
 * Content-Type, Content-Length, the strong ETag and, for `format=auto`, `Vary: Accept`. Errors
 * are thrown for the one error handler. Every way of asking for a render answers through here:
 * the route below with a key, and a signed link with the principal its link stands for and the
 * parameters it carries (a preset merged into them first).
 */
export async function sendRender(req: Request, res: Response, renders: RenderService, clock: Clock, ask: { principal: Principal; imageId: string; params: RenderParams }, options: RenderAnswerOptions = {}): Promise<void> {
  const ifNoneMatch = typeof req.headers['if-none-match'] === 'string' ? req.headers['if-none-match'] : undefined;
  const outcome = await renders.render(ask.principal, ask.imageId, ask.params, req.headers.accept, ifNoneMatch);
  const { render } = outcome;
  if (render.negotiated) res.setHeader('Vary', 'Accept');
  res.setHeader('ETag', render.etag);
  if (outcome.kind === 'not_modified') {
    if (options.cacheControl) res.setHeader('Cache-Control', options.cacheControl(undefined, clock.now()));
    res.status(304).end();
    return;
  }
  const { blob } = outcome;
  let handedOn = false;
  try {
    const now = clock.now();
    res.status(200);
    res.setHeader('Content-Type', outcome.contentType);
    res.setHeader('Content-Length', String(blob.size));
    res.setHeader('Darkroom-Cache', outcome.cache);
    res.setHeader('Cache-Control', options.cacheControl?.(outcome.expiresAt, now) ?? `private, max-age=${Math.max(0, Math.floor((outcome.expiresAt - now) / 1000))}`);
    // A rendered SVG is a raster image, but an answer of this origin is never a live document.
    res.setHeader('Content-Security-Policy', "default-src 'none'; sandbox");
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const controller = new AbortController();
    const onClose = () => controller.abort();
    res.once('close', onClose);
    try {
      handedOn = true;
      // The stream owns the blob from here and closes it when it ends or fails.
      await pipeline(await blob.stream(undefined, controller.signal), res);
    } catch (err) {
      if (!res.headersSent) throw err;
      res.destroy();
    } finally {
      res.off('close', onClose);
    }
  } finally {
    if (!handedOn) await blob.close();
  }
}

/**
 * `GET /v1/image/{id}/render` (CONTRACT §10), asked with a key or through a signed link (the
 * auth middleware checked its signature and stands its principal in for a key: the image's
 * owner; its parameters are the link's query without `expires` and `sig`). A `preset` is
 * merged into the parameters here, as it is at this request.
 */
export function renderRouter(deps: { renders: RenderService; clock: Clock; presets: Pick<PresetsService, 'resolve'> }): Router {
  const router = Router();
  router.get('/image/:id/render', requireRole(...ROLE_RULES.images), async (req, res) => {
    const { id } = parseParams(ImageParams, req.params);
    const link = signedLinkOf(res);
    const params = await withPreset(parseQuery(RenderQuery, link ? link.query : req.query), deps.presets);
    await sendRender(req, res, deps.renders, deps.clock, { principal: principalOf(res), imageId: id, params }, link ? { cacheControl: linkCacheControl(link.expiresAt) } : {});
  });
  return router;
}
