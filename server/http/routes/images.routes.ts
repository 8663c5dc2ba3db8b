import fs from 'node:fs';
import { Router, type Request, type Response } from 'express';
import { create as contentDisposition } from 'content-disposition';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import type { IngestService } from '../../services/ingest.service.js';
import type { ImagesService } from '../../services/images.service.js';
import type { ReceiveLimits } from '../../services/receive.js';
import { parseVariants, type VariantLimits } from '../../services/variants.js';
import type { BlobStore } from '../../storage/fs-blob-store.js';
import type { Clock } from '../../util/clock.js';
import { ROLE_RULES, principalOf, requireRole } from '../middleware/auth.js';
import { readUpload } from '../middleware/upload.js';
import { parseQuery } from '../validate.js';

export interface ImagesRoutesDeps {
  ingest: IngestService;
  images: ImagesService;
  store: BlobStore;
  clock: Clock;
  limits: ReceiveLimits & VariantLimits;
  onUploadOutcome: (outcome: string) => void;
  /** With S3 sync: a local original read counts as use, and an evicted one streams from the bucket. */
  originals?: {
    touch(sha256: string): void;
    sendFromBucket(req: Request, res: Response, file: { sha256: string; bytes: number; etag: string }): Promise<void>;
  };
}

const ListQuery = z.object({
  status: z.enum(['queued', 'processing', 'done', 'failed']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().min(1).optional(),
  customer: z.string().min(1).optional(),
});

const DownloadQuery = z.object({ variant: z.string().min(1).max(64).default('display') });

const ONE_YEAR_S = 365 * 24 * 3600;

export function imagesRouter(deps: ImagesRoutesDeps): Router {
  const { ingest, images, store, clock } = deps;
  const router = Router();
  const allowed = requireRole(...ROLE_RULES.images);

  async function upload(req: Request, res: Response) {
    const principal = principalOf(res);
    try {
      // Everything that can refuse the upload without its body is checked first.
      const queryVariants = typeof req.query.variants === 'string' ? req.query.variants : undefined;
      let variants = parseVariants(queryVariants, deps.limits);
      await ingest.admit(principal, Number(req.headers['content-length']) || 0);
      const body = await readUpload(req, res, deps.limits, () => store.tmpPath()).catch((err: unknown) => {
        throw ingest.rejected(principal, err);
      });
      if (body.fields.variants !== undefined) {
        try {
          variants = parseVariants(body.fields.variants, deps.limits);
        } catch (err) {
          await Promise.all(body.files.map((f) => fs.promises.rm(f.tmpPath, { force: true })));
          throw err;
        }
      }
      const records = await ingest.accept(body.files, principal, variants, 'upload');
      deps.onUploadOutcome('accepted');
      res.status(202).location(`/v1/image/${records[0]!.id}`).json(records.length === 1 ? records[0] : records);
    } catch (err) {
      deps.onUploadOutcome(err instanceof AppError ? err.code : 'error');
      throw err;
    }
  }

  router.post('/image', allowed, upload);
  // `curl -T file URL` sends PUT; the same upload.
  router.put('/image', allowed, upload);

  router.get('/images', allowed, (req, res) => {
    const query = parseQuery(ListQuery, req.query);
    res.json(images.list(principalOf(res), query));
  });

  const metadata = (req: Request, res: Response) => {
    res.json(images.metadata(principalOf(res), String(req.params.id)));
  };
  router.get('/image/metadata/:id', allowed, metadata);
  router.get('/image/:id/metadata', allowed, metadata);

  router.get('/image/:id/download', allowed, (req, res, next) => {
    const { variant } = parseQuery(DownloadQuery, req.query);
    const file = images.download(principalOf(res), String(req.params.id), variant);
    const now = clock.now();
    const maxAge = file.expiresAt === null ? ONE_YEAR_S : Math.max(0, Math.floor((file.expiresAt - now) / 1000));
    res.setHeader('Content-Type', file.contentType);
    res.setHeader('ETag', file.etag);
    res.setHeader('Content-Disposition', contentDisposition(file.filename));
    res.setHeader('Expires', new Date(file.expiresAt ?? now + ONE_YEAR_S * 1000).toUTCString());
    res.setHeader('Cache-Control', `private, max-age=${maxAge}${file.immutable ? ', immutable' : ''}`);
    // An uploaded SVG is served as a download, never as a live document on this origin.
    res.setHeader('Content-Security-Policy', "default-src 'none'; sandbox");
    // Conditional GET against our own ETag (send() only knows its own); send() handles Range.
    if (req.fresh) {
      res.status(304).end();
      return;
    }
    const original = file.sha256 !== undefined ? { sha256: file.sha256, bytes: file.bytes, etag: file.etag } : undefined;
    if (original) deps.originals?.touch(original.sha256);
    res.sendFile(file.path, { etag: false, lastModified: false, cacheControl: false, dotfiles: 'allow' }, (err) => {
      if (!err) return;
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        // Not on local disk: an original the capacity tier keeps in the bucket only.
        if (original && deps.originals && !res.headersSent) return void deps.originals.sendFromBucket(req, res, original).catch(next);
        return next(new AppError('not_found', 'file is gone'));
      }
      if (!res.headersSent) return next(err);
    });
  });

  router.get('/image/:id', allowed, (req, res) => {
    res.json(images.get(principalOf(res), String(req.params.id)));
  });

  router.delete('/image/:id', allowed, (req, res) => {
    images.delete(principalOf(res), String(req.params.id));
    res.status(204).end();
  });

  router.post('/image/:id/reprocess', allowed, (req, res) => {
    const record = images.reprocess(principalOf(res), String(req.params.id));
    res.status(202).location(`/v1/image/${record.id}`).json(record);
  });

  return router;
}
