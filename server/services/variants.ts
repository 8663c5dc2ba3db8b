import { z } from 'zod';
import { AppError } from '../errors.js';
import { OUTPUT_FORMATS } from '../media/formats.js';
import type { VariantSpec } from '../../workers/types.js';

const MAX_VARIANTS = 10;
const MAX_SIDE = 16383; // WebP's limit, the strictest of the output formats

export const DEFAULT_VARIANTS: VariantSpec[] = [
  { name: 'thumb', width: 320, height: 320, fit: 'inside', format: 'webp', withoutEnlargement: true },
  { name: 'display', width: 2048, height: 2048, fit: 'inside', format: 'webp', quality: 80, withoutEnlargement: true },
];

const side = z.number().int().min(1).max(MAX_SIDE);

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
 * Parses the `variants` form field / query parameter / tus metadata. Absent means the defaults;
 * anything malformed is a 400 naming the problem.
 */
export function parseVariants(raw: string | undefined): VariantSpec[] {
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
  return result.data;
}
