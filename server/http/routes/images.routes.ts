import fs from 'node:fs';
import { Router, type Request, type RequestHandler, type Response } from 'express';
import { create as contentDisposition } from 'content-disposition';
import { DownloadQuery, ImageMetadata, ImagePage, ImageParams, ImageRecord, ListImagesQuery, UploadQuery, UploadResponse } from '../../api/index.js';
import { AppError } from '../../errors.js';
import type { IngestPipeline } from '../../services/ingest/pipeline.js';
import type { ImagesService } from '../../services/images.service.js';
import type { ReceiveLimits } from '../../services/receive.js';
import { parseVariants, type PresetLookup, type VariantLimits } from '../../services/variants.js';
import type { Clock } from '../../util/clock.js';
import { ROLE_RULES, principalOf, requireRole } from '../middleware/auth.js';
import { readUpload } from '../middleware/upload.js';
import { answer } from '../answer.js';
import { sendRanged } from '../send-ranged.js';
import { noQuery, parseParams, parseQuery } from '../validate.js';

const idOf = (req: Request) => parseParams(ImageParams, req.params).id;

/** One record for one file, an array for several (CONTRACT §3). */
export const uploadAnswer = (records: ImageRecord[]): UploadResponse => (records.length === 1 ? records[0]! : records);

export interface ImagesRoutesDeps {
  /** Takes one of the key's upload slots for the request (--max-uploads-per-key), or answers 429. */
  uploadSlot: RequestHandler;
  ingest: IngestPipeline;
  images: ImagesService;
  clock: Clock;
  limits: ReceiveLimits & VariantLimits;
  /** Presets named as upload variants, resolved when the upload is accepted. */
  presets: PresetLookup;
  /** With S3 sync: a local original read counts as use, and an evicted one streams from the bucket. */
  originals?: {
    touch(sha256: string): Promise<void>;
    sendFromBucket(req: Request, res: Response, file: { sha256: string; bytes: number; etag: string }): Promise<void>;
  };
}

const ONE_YEAR_S = 365 * 24 * 3600;

export function imagesRouter(deps: ImagesRoutesDeps): Router {
  const { ingest, images, clock } = deps;
  const router = Router();
  const allowed = requireRole(...ROLE_RULES.images);

  async function upload(req: Request, res: Response) {
    const principal = principalOf(res);
    try {
      // Everything that can refuse the upload without its body is checked first.
      let variants = await parseVariants(parseQuery(UploadQuery, req.query).variants, deps.limits, deps.presets);
      await ingest.admit(principal, Number(req.headers['content-length']) || 0);
      const body = await readUpload(req, res, deps.limits, ingest);
      if (body.fields.variants !== undefined) {
        try {
          variants = await parseVariants(body.fields.variants, deps.limits, deps.presets);
        } catch (err) {
          await Promise.all(body.files.map((f) => fs.promises.rm(f.tmpPath, { force: true })));
          throw err;
        }
      }
      const records = await ingest.accept(principal, body.files, { source: 'upload', variants });
      answer(res.location(`/v1/image/${records[0]!.id}`), UploadResponse, uploadAnswer(records), 202);
    } catch (err) {
      throw ingest.refused(principal, err);
    }
  }

  const slot = deps.uploadSlot;
  router.post('/image', allowed, slot, upload);
  // `curl -T file URL` sends PUT; the same upload.
  router.put('/image', allowed, slot, upload);

  router.get('/images', allowed, async (req, res) => {
    const query = parseQuery(ListImagesQuery, req.query);
    answer(res, ImagePage, await images.list(principalOf(res), query));
  });

  const metadata = async (req: Request, res: Response) => {
    answer(res, ImageMetadata, await images.metadata(principalOf(res), idOf(req)));
  };
  router.get('/image/metadata/:id', allowed, noQuery, metadata);
  router.get('/image/:id/metadata', allowed, noQuery, metadata);

  router.get('/image/:id/download', allowed, async (req, res) => {
    const { variant } = parseQuery(DownloadQuery, req.query);
    const download = await images.download(principalOf(res), idOf(req), variant);
    const { blob } = download;
    let handedOn = false;
    try {
      const now = clock.now();
      const maxAge = download.expiresAt === null ? ONE_YEAR_S : Math.max(0, Math.floor((download.expiresAt - now) / 1000));
      res.setHeader('Content-Type', download.contentType);
      res.setHeader('ETag', download.etag);
      res.setHeader('Content-Disposition', contentDisposition(download.filename));
      res.setHeader('Expires', new Date(download.expiresAt ?? now + ONE_YEAR_S * 1000).toUTCString());
      res.setHeader('Cache-Control', `private, max-age=${maxAge}${download.immutable ? ', immutable' : ''}`);
      // An uploaded SVG is served as a download, never as a live document on this origin.
      res.setHeader('Content-Security-Policy', "default-src 'none'; sandbox");
      // Conditional GET against our own ETag.
      if (req.fresh) {
        res.status(304).end();
        return;
      }
      if (download.sha256 !== undefined) await deps.originals?.touch(download.sha256);
      if (!blob) {
        // Not in the primary store: an original the capacity tier keeps in the bucket only.
        if (download.sha256 === undefined || !deps.originals) throw new AppError('not_found', 'the file is gone');
        await deps.originals.sendFromBucket(req, res, { sha256: download.sha256, bytes: download.size, etag: download.etag });
        return;
      }
      await sendRanged(req, res, {
        size: download.size,
        etag: download.etag,
        // The stream owns the blob from here and closes it when it ends or fails.
        open: (range) => {
          handedOn = true;
          return blob.stream(range);
        },
      });
    } finally {
      // HEAD, 304, 416, or a failure before streaming: the handle was never handed on.
      if (blob && !handedOn) await blob.close();
    }
  });

  router.get('/image/:id', allowed, noQuery, async (req, res) => {
    answer(res, ImageRecord, await images.get(principalOf(res), idOf(req)));
  });

  router.delete('/image/:id', allowed, noQuery, async (req, res) => {
    await images.delete(principalOf(res), idOf(req));
    res.status(204).end();
  });

  router.post('/image/:id/reprocess', allowed, noQuery, async (req, res) => {
    const record = await images.reprocess(principalOf(res), idOf(req));
    answer(res.location(`/v1/image/${record.id}`), ImageRecord, record, 202);
  });

  return router;
}
