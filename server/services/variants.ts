import { MAX_OUTPUT_SIDE, MAX_VARIANTS, OUTPUT_FORMATS, VariantList, type VariantSpec } from '../api/index.js';
import { AppError } from '../errors.js';
import { maxPixelsFor } from '../../workers/output-caps.js';
import { checkOperations } from '../../workers/operations.js';
const FORMAT_NAMES = { avif: 'AVIF', webp: 'WebP', jpeg: 'JPEG', png: 'PNG' } as const;

export interface VariantLimits {
  /** --max-output-pixels: width × height of one variant at most. */
  maxOutputPixels: number;
}

export const DEFAULT_VARIANTS: VariantSpec[] = [
  { name: 'thumb', width: 320, height: 320, fit: 'inside', format: 'webp', withoutEnlargement: true },
  { name: 'display', width: 2048, height: 2048, fit: 'inside', format: 'webp', quality: 80, withoutEnlargement: true },
];

/**
 * Parses the `variants` form field / query parameter / tus metadata / import body. Absent means
 * the defaults; anything malformed, or a variant over the output caps, is a 400 naming the
 * problem. A size that depends on the source (one side, `outside`, none) cannot be judged here:
 * the worker scales such a variant down to the caps (workers/output-caps.ts).
 */
export function parseVariants(raw: string | undefined, limits: VariantLimits): VariantSpec[] {
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
    const where = issue.path.length ? `variants[${issue.path.join('].')}` : 'variants';
    throw new AppError('invalid_request', `${where}: ${issue.message}`);
  }
  for (const [i, spec] of result.data.entries()) {
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
  return result.data;
}

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
