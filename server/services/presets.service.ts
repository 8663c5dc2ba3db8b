import { PresetValues, type Preset } from '../api/index.js';
import type { PresetRow, PresetsRepo } from '../db/presets.repo.js';
import { AppError } from '../errors.js';
import type { Clock } from '../util/clock.js';

/**
 * Presets (CONTRACT §10): named render parameters, one list for the whole installation (an
 * admin of any customer manages it, every customer's renders and uploads may name them). A name
 * is resolved when it is used, and what it resolved to is what that use keeps: an upload's
 * variant is fixed at upload time, a signed link at its creation; only a render request that
 * names `preset=` follows the preset as it is at that request.
 */
export interface PresetsService {
  put(name: string, values: PresetValues): Promise<Preset>;
  list(): Promise<Preset[]>;
  /** 404 when there is no such preset. */
  remove(name: string): Promise<void>;
  /** The preset's values, or 400 naming it: a request that names an unknown preset is malformed. */
  resolve(name: string, where?: string): Promise<PresetValues>;
}

export interface PresetsServiceDeps {
  repo: PresetsRepo;
  clock: Clock;
  /**
   * The checks render makes of its parameters beyond their schema (the output caps, a content
   * position without cover): the problem as render words it, or undefined. Given by the
   * composition root, so a preset is judged exactly as render judges the same values.
   */
  problemOf(values: PresetValues): string | undefined;
}

/** A stored preset's values, read back through the schema that wrote them. */
function valuesOf(row: PresetRow): PresetValues {
  return PresetValues.parse(JSON.parse(row.params));
}

function presetOf(row: PresetRow): Preset {
  return {
    name: row.name,
    ...valuesOf(row),
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}

export function createPresetsService({ repo, clock, problemOf }: PresetsServiceDeps): PresetsService {
  return {
    async put(name, values) {
      const problem = problemOf(values);
      if (problem) throw new AppError('invalid_request', problem);
      return presetOf(await repo.put(name, JSON.stringify(values), clock.now()));
    },
    async list() {
      return (await repo.list()).map(presetOf);
    },
    async remove(name) {
      if (!(await repo.remove(name))) throw new AppError('not_found', `no preset "${name}"`);
    },
    async resolve(name, where = 'preset') {
      const row = await repo.find(name);
      if (!row) throw new AppError('invalid_request', `${where}: no preset "${name.slice(0, 64)}" (GET /v1/presets lists them)`);
      return valuesOf(row);
    },
  };
}

/**
 * The checks of a preset's values beyond their schema, as render makes them of the same
 * parameters: a content position needs fit cover; w×h within the output cap of the format
 * (for `auto`, --max-output-pixels: the format is chosen per request, and render checks that
 * one's cap then).
 */
export function presetValuesProblem(values: PresetValues, limits: { maxOutputPixels: number; maxPixelsFor(format: 'webp' | 'avif' | 'jpeg' | 'png', maxOutputPixels: number): number }): string | undefined {
  if ((values.position === 'entropy' || values.position === 'attention') && values.fit !== 'cover') {
    return `position: ${values.position} picks a crop by content, so it needs fit cover`;
  }
  if (values.w && values.h) {
    const cap = !values.format || values.format === 'auto' ? limits.maxOutputPixels : limits.maxPixelsFor(values.format, limits.maxOutputPixels);
    if (values.w * values.h > cap) return `w×h: ${values.w}×${values.h} = ${values.w * values.h} pixels is over the limit of ${cap} pixels${values.format && values.format !== 'auto' ? ` for ${values.format}` : ''} (--max-output-pixels)`;
  }
  return undefined;
}
