import { z } from 'zod';
import { AppError } from '../errors.js';
import { OUTPUT_FORMATS } from '../media/formats.js';
import type { VariantSpec } from '../../workers/types.js';
import { MAX_OUTPUT_SIDE, maxPixelsFor } from '../../workers/output-caps.js';

export const MAX_VARIANTS = 10;
const FORMAT_NAMES = { avif: 'AVIF', webp: 'WebP', jpeg: 'JPEG', png: 'PNG' } as const;

export interface VariantLimits {
  /** --max-output-pixels: width × height of one variant at most. */
  maxOutputPixels: number;
}

export const DEFAULT_VARIANTS: VariantSpec[] = [
  { name: 'thumb', width: 320, height: 320, fit: 'inside', format: 'webp', withoutEnlargement: true },
  { name: 'display', width: 2048, height: 2048, fit: 'inside', format: 'webp', quality: 80, withoutEnlargement: true },
];

const side = z
  .number()
  .int()
  .min(1)
  .max(MAX_OUTPUT_SIDE, `at most ${MAX_OUTPUT_SIDE} pixels a side (the output cap)`);

const VariantSpecSchema = z
  .object({
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'name: 1–32 lower-case letters, digits, "_" or "-"')
      .refine((n) => n !== 'original', 'name "original" is reserved for the uploaded file'),
    width: side.optional(),
    height: side.optional(),
    fit: z.enum(['cover', 'contain', 'fill', 'inside', 'outside']).default('inside'),
    format: z.enum(OUTPUT_FORMATS).default('webp'),
    quality: z.number().int().min(1).max(100).optional(),
    withoutEnlargement: z.boolean().default(true),
  })
  .strict();

const VariantListSchema = z
  .array(VariantSpecSchema)
  .min(1, 'give at least one variant')
  .max(MAX_VARIANTS, `at most ${MAX_VARIANTS} variants`)
  .refine((list) => new Set(list.map((v) => v.name)).size === list.length, 'variant names must be unique');

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
  const result = VariantListSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const where = issue.path.length ? `variants[${issue.path.join('].')}` : 'variants';
    throw new AppError('invalid_request', `${where}: ${issue.message}`);
  }
  for (const [i, spec] of result.data.entries()) {
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
