import { Router } from 'express';
import { ImportRequest, UploadQuery, UploadResponse } from '../../api/index.js';
import type { ImportService } from '../../services/import.service.js';
import type { IngestPipeline } from '../../services/ingest/pipeline.js';
import { parseVariants, type PresetLookup, type VariantLimits } from '../../services/variants.js';
import { ROLE_RULES, principalOf, requireRole } from '../middleware/auth.js';
import { requireLoopback } from '../middleware/loopback.js';
import { jsonBody, parseBody, parseQuery } from '../validate.js';
import { answer } from '../answer.js';
import { uploadAnswer } from './images.routes.js';

export interface ImportRoutesDeps {
  importer: ImportService;
  limits: VariantLimits;
  /** Presets named as variants, resolved when the import is accepted. */
  presets: PresetLookup;
  /** Counts a refusal of the request (bad paths, bad variants) like any refused upload. */
  ingest: Pick<IngestPipeline, 'refused'>;
}

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
        const body = parseBody(ImportRequest, req.body ?? {});
        const rawVariants = body.variants ?? parseQuery(UploadQuery, req.query).variants;
        const variants = await parseVariants(typeof rawVariants === 'string' || rawVariants === undefined ? rawVariants : JSON.stringify(rawVariants), deps.limits, deps.presets);
        const records = await deps.importer.importPaths(body.paths, principalOf(res), variants);
        answer(res.location(`/v1/image/${records[0]!.id}`), UploadResponse, uploadAnswer(records), 202);
      } catch (err) {
        throw deps.ingest.refused(principalOf(res), err);
      }
    },
  );
  return router;
}
