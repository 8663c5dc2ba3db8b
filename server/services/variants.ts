import { MAX_OUTPUT_SIDE, MAX_VARIANTS, OUTPUT_FORMATS, PresetVariantSpec, VariantList, VariantSpec, type PresetValues, type VariantRequest } from '../api/index.js';
import { AppError } from '../errors.js';
import { maxPixelsFor } from '../../workers/output-caps.js';
import { checkOperations } from '../../workers/operations.js';
const FORMAT_NAMES = { avif: 'AVIF', webp: 'WebP', jpeg: 'JPEG', png: 'PNG' } as const;

export interface VariantLimits {
  /** --max-output-pixels: width × height of one variant at most. */
  maxOutputPixels: number;
}

/** A preset's values by name, or a 400 naming `where` when there is none (services/presets.service.ts `resolve`). */
export type PresetLookup = (name: string, where: string) => Promise<PresetValues>;

export const DEFAULT_VARIANTS: VariantSpec[] = [
  { name: 'thumb', width: 320, height: 320, fit: 'inside', format: 'webp', withoutEnlargement: true },
  { name: 'display', width: 2048, height: 2048, fit: 'inside', format: 'webp', quality: 80, withoutEnlargement: true },
];

/** The first problem of a list entry, checked with the schema its shape asks for (a union's own message says only "Invalid input"). */
function entryProblem(entry: unknown, i: number): string | undefined {
  const schema = entry !== null && typeof entry === 'object' && 'preset' in entry ? PresetVariantSpec : VariantSpec;
  const result = schema.safeParse(entry);
  if (result.success) return undefined;
  const issue = result.error.issues[0]!;
  const message = issue.code === 'unrecognized_keys' ? `unknown field ${issue.keys.map((k) => JSON.stringify(k.slice(0, 64))).join(', ')}` : issue.message;
  return `variants[${i}]${issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}: ${message}`;
}

/**
 * The variant a preset makes: the same output as `render?preset=NAME` (the render request's
 * mapping, services/render/render-request.ts: w → width, h → height, q → quality, never
 * enlarged). A preset whose format is `auto` (or unset) is chosen per request from Accept, and
 * a variant is written once: it cannot be a variant.
 */
export function variantOfPreset(name: string, preset: string, values: PresetValues, where: string): VariantSpec {
  const format = values.format;
  if (!format || format === 'auto') {
    throw new AppError(
      'invalid_request',
      `${where}: preset "${preset}" has format ${format ?? 'auto (none given)'}, chosen per request from Accept; a variant is written once, so its preset needs a fixed format (webp, avif, jpeg or png)`,
    );
  }
  return {
    name,
    ...(values.w !== undefined && { width: values.w }),
    ...(values.h !== undefined && { height: values.h }),
    fit: values.fit ?? 'inside',
    ...(values.position && { position: values.position }),
    format,
    ...(values.q !== undefined && { quality: values.q }),
    withoutEnlargement: true,
  };
}

/**
 * Parses the `variants` form field / query parameter / tus metadata / import body. Absent means
 * the defaults; anything malformed, an unknown preset, or a variant over the output caps, is a
 * 400 naming the problem. Presets are resolved here, so what an upload keeps is fixed when it is
 * accepted. A size that depends on the source (one side, `outside`, none) cannot be judged here:
 * the worker scales such a variant down to the caps (workers/output-caps.ts).
 */
export async function parseVariants(raw: string | undefined, limits: VariantLimits, presets: PresetLookup): Promise<VariantSpec[]> {
  if (raw === undefined || raw.trim() === '') return DEFAULT_VARIANTS;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new AppError('invalid_request', 'variants: not valid JSON');
  }
  const result = VariantList.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const entry = issue.path.length ? (json as unknown[])[issue.path[0] as number] : undefined;
    const problem = issue.path.length ? entryProblem(entry, issue.path[0] as number) : undefined;
    throw new AppError('invalid_request', problem ?? `variants: ${issue.message}`);
  }
  const specs: VariantSpec[] = [];
  for (const [i, request] of result.data.entries()) {
    specs.push(isPresetVariant(request) ? variantOfPreset(request.name, request.preset, await presets(request.preset, `variants[${i}].preset`), `variants[${i}]`) : request);
  }
  for (const [i, spec] of specs.entries()) {
    // What the arguments must be together (the operation table's own checks, as for a render).
    const problem = checkOperations(spec);
    if (problem) throw new AppError('invalid_request', `variants[${i}]: ${problem}`);
    if (!spec.width || !spec.height) continue;
    const pixels = spec.width * spec.height;
    const cap = maxPixelsFor(spec.format, limits.maxOutputPixels);
    if (pixels > cap) {
      const which =
        cap < limits.maxOutputPixels
          ? `the ${FORMAT_NAMES[spec.format]} limit of ${cap} pixels (its encoder needs the most memory per pixel; docs/security.md)`
          : `the limit of ${cap} pixels per variant (--max-output-pixels)`;
      throw new AppError('invalid_request', `variants[${i}]: ${spec.width}×${spec.height} = ${pixels} pixels is over ${which}`);
    }
  }
  return specs;
}

const isPresetVariant = (request: VariantRequest): request is PresetVariantSpec => 'preset' in request;

/** The output caps as a client may check them before it asks (GET /v1/me). */
export function outputLimits(limits: VariantLimits) {
  return {
    maxSide: MAX_OUTPUT_SIDE,
    maxVariants: MAX_VARIANTS,
    maxPixels: Object.fromEntries(OUTPUT_FORMATS.map((format) => [format, maxPixelsFor(format, limits.maxOutputPixels)])) as Record<
      (typeof OUTPUT_FORMATS)[number],
      number
    >,
  };
}
