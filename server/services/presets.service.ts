import { PresetValues, type Preset, type RenderQuery } from '../api/index.js';
import type { PresetRow, PresetsRepo } from '../db/presets.repo.js';
import { AppError } from '../errors.js';
import type { Clock } from '../util/clock.js';
import { checkOperations } from '../../workers/operations.js';
import { maxPixelsFor } from '../../workers/output-caps.js';

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
  /** --max-output-pixels: a preset's w×h is judged against it as render judges its own. */
  maxOutputPixels: number;
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

export function createPresetsService({ repo, clock, maxOutputPixels }: PresetsServiceDeps): PresetsService {
  return {
    async put(name, values) {
      const problem = presetValuesProblem(values, maxOutputPixels);
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
 * The checks of a preset's values beyond their schema (each value's range, 8192 a side), as
 * render makes them of the same parameters (services/render/render-request.ts): the operation
 * table's checks of the arguments together (a content position only with fit cover), and the
 * output caps. No source is known yet, so the caps are judged on the box, as an upload
 * variant's are (services/variants.ts): w×h within the format's cap (for `auto`, chosen per
 * request, within --max-output-pixels). Render judges the actual output again when asked.
 */
export function presetValuesProblem(values: PresetValues, maxOutputPixels: number): string | undefined {
  const format = values.format && values.format !== 'auto' ? values.format : undefined;
  // The operation table judges a whole output spec: the format does not matter to its checks.
  const problem = checkOperations({
    ...(values.w !== undefined && { width: values.w }),
    ...(values.h !== undefined && { height: values.h }),
    fit: values.fit ?? 'inside',
    ...(values.position && { position: values.position }),
    format: format ?? 'jpeg',
    ...(values.q !== undefined && { quality: values.q }),
    withoutEnlargement: true,
  });
  if (problem) return problem;
  if (values.w && values.h) {
    const cap = format ? maxPixelsFor(format, maxOutputPixels) : maxOutputPixels;
    if (values.w * values.h > cap) {
      return `w×h: ${values.w}×${values.h} = ${values.w * values.h} pixels is over the limit of ${cap} pixels${format ? ` for ${format}` : ''} (--max-output-pixels)`;
    }
  }
  return undefined;
}

/**
 * A render's parameters with the preset they name filled in (CONTRACT §10): the preset as it is
 * now gives what the request leaves out; what the request gives wins. Unknown preset: 400.
 */
export async function withPreset(params: RenderQuery, presets: Pick<PresetsService, 'resolve'>): Promise<Omit<RenderQuery, 'preset'>> {
  const { preset, ...given } = params;
  if (!preset) return given;
  return { ...(await presets.resolve(preset, 'preset')), ...given };
}
