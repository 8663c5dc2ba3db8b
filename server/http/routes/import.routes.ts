import { Router } from 'express';
import { z } from 'zod';
import type { ImportService } from '../../services/import.service.js';
import type { IngestPipeline } from '../../services/ingest/pipeline.js';
import { parseVariants, type VariantLimits } from '../../services/variants.js';
import { ROLE_RULES, principalOf, requireRole } from '../middleware/auth.js';
import { requireLoopback } from '../middleware/loopback.js';
import { jsonBody, parseBody, parseQuery } from '../validate.js';
import { UploadQuery } from './images.routes.js';

export interface ImportRoutesDeps {
  importer: ImportService;
  limits: VariantLimits;
  /** Counts a refusal of the request (bad paths, bad variants) like any refused upload. */
  ingest: Pick<IngestPipeline, 'refused'>;
}

/** Paths per request: like files in one multipart upload, accepted or refused together. */
const MAX_IMPORT_PATHS = 100;

const ImportBody = z
  .object({
    paths: z.array(z.string().min(1, 'paths: an empty path').max(4096)).min(1, 'paths: give at least one path').max(MAX_IMPORT_PATHS),
    // Like the upload's `variants`: a JSON string, or here also the array itself.
    variants: z.union([z.string(), z.array(z.unknown())]).optional(),
  })
  .strict();

/**
 * POST /v1/image/import {"paths": [...]}: ingest files on this machine by path, without
 * sending their bytes over HTTP. Admin key and a loopback client only; answers like
 * POST /v1/image.
 */
export function importRouter(deps: ImportRoutesDeps): Router {
  const router = Router();
  router.post(
    '/image/import',
    requireRole(...ROLE_RULES.import),
    requireLoopback('importing by path'),
    jsonBody,
    async (req, res) => {
      try {
        const body = parseBody(ImportBody, req.body ?? {});
        const rawVariants = body.variants ?? parseQuery(UploadQuery, req.query).variants;
        const variants = parseVariants(typeof rawVariants === 'string' || rawVariants === undefined ? rawVariants : JSON.stringify(rawVariants), deps.limits);
        const records = await deps.importer.importPaths(body.paths, principalOf(res), variants);
        res.status(202).location(`/v1/image/${records[0]!.id}`).json(records.length === 1 ? records[0] : records);
      } catch (err) {
        throw deps.ingest.refused(principalOf(res), err);
      }
    },
  );
  return router;
}
