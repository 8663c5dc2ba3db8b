import { z } from 'zod';
import { STATS_GROUP_KEYS } from './vocabulary.js';

const isRealDay = (d: string) => {
  const ms = Date.parse(`${d}T00:00:00Z`);
  return !Number.isNaN(ms) && new Date(ms).toISOString().slice(0, 10) === d;
};

const IsoDay = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a date like 2026-03-01')
  .refine(isRealDay, 'not a real date')
  .meta({ description: 'A UTC day, YYYY-MM-DD' });

/**
 * `GET /v1/stats`, `GET /v1/stats.csv`. `groupBy` comes back in canonical order without
 * repeats, so the answer does not depend on how the client wrote it. Defaults that depend on
 * today (`to` = today, `from` = 29 days before `to`, 30 days in all) are the statistics service's.
 */
export const StatsQuery = z.strictObject({
  from: IsoDay.optional().meta({ description: 'First day, inclusive; default 29 days before `to`' }),
  to: IsoDay.optional().meta({ description: 'Last day, inclusive; default today (UTC)' }),
  groupBy: z
    .union([z.string(), z.array(z.string())])
    .optional()
    .transform((v, ctx) => {
      const parts = (Array.isArray(v) ? v.join(',') : (v ?? '')).split(',').map((s) => s.trim()).filter(Boolean);
      const unknown = parts.find((p) => !(STATS_GROUP_KEYS as readonly string[]).includes(p));
      if (unknown) {
        ctx.addIssue({ code: 'custom', message: `unknown group "${unknown}"; use any of ${STATS_GROUP_KEYS.join(', ')}` });
        return z.NEVER;
      }
      return STATS_GROUP_KEYS.filter((k) => parts.includes(k));
    })
    .meta({ description: `Comma-separated groupings, any of ${STATS_GROUP_KEYS.join(', ')}` }),
});
export type StatsQuery = z.output<typeof StatsQuery>;

const Count = z.number().int().min(0);
const Millis = z.number().min(0).nullable().meta({ description: 'Processing time in ms; null without processed images' });

const Counters = {
  uploaded: Count.meta({ description: 'Uploads accepted' }),
  processed: Count.meta({ description: 'Images processed' }),
  failed: Count.meta({ description: 'Images whose processing failed' }),
  rejected: Count.meta({ description: 'Uploads refused' }),
  bytesIn: Count.meta({ description: 'Bytes of accepted originals' }),
  bytesOut: Count.meta({ description: 'Bytes of processed files written' }),
  p50Ms: Millis,
  p95Ms: Millis,
};

export const StatsTotals = z.strictObject(Counters).meta({ id: 'StatsTotals' });
export type StatsTotals = z.infer<typeof StatsTotals>;

/** One group: the keys it is grouped by, and its counters. */
export const StatsGroup = z
  .strictObject({
    customer: z.string().optional(),
    format: z.string().optional().meta({ description: 'The uploaded format as sharp names it; raw for camera RAWs' }),
    rawFormat: z.string().optional().meta({ description: 'Beside format raw: the maker\'s format' }),
    day: z.string().optional().meta({ description: 'YYYY-MM-DD (UTC)' }),
    ...Counters,
  })
  .meta({ id: 'StatsGroup' });
export type StatsGroup = z.infer<typeof StatsGroup>;

/** `GET /v1/stats` (CONTRACT §3). */
export const StatsReport = z
  .strictObject({
    from: z.string(),
    to: z.string(),
    groupBy: z.array(z.enum(STATS_GROUP_KEYS)),
    totals: StatsTotals,
    groups: z.array(StatsGroup),
  })
  .meta({ id: 'StatsReport' });
export type StatsReport = z.infer<typeof StatsReport>;
