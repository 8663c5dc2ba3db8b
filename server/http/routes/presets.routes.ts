import { Router } from 'express';
import { Preset, PresetList, PresetParamsPath, PresetValues } from '../../api/index.js';
import type { PresetsService } from '../../services/presets.service.js';
import { answer } from '../answer.js';
import { ROLE_RULES, requireRole } from '../middleware/auth.js';
import { jsonBody, noQuery, parseBody, parseParams } from '../validate.js';

/** Presets (CONTRACT §10): role admin; one list for the installation. */
export function presetsRouter(presets: PresetsService): Router {
  const router = Router();
  const allowed = requireRole(...ROLE_RULES.presets);

  router.get('/presets', allowed, noQuery, async (_req, res) => {
    answer(res, PresetList, { items: await presets.list() });
  });

  router.put('/presets/:name', allowed, noQuery, jsonBody, async (req, res) => {
    const { name } = parseParams(PresetParamsPath, req.params);
    answer(res, Preset, await presets.put(name, parseBody(PresetValues, req.body ?? {})));
  });

  router.delete('/presets/:name', allowed, noQuery, async (req, res) => {
    await presets.remove(parseParams(PresetParamsPath, req.params).name);
    res.status(204).end();
  });

  return router;
}
