/**
 * The API's enumerations and fixed limits as plain values, without zod: the schemas build on
 * them, and code that needs only a list (the UI's format picker, the worker's output caps)
 * imports them from here without loading zod. Each is defined once, for the whole project;
 * their types are beside their schemas (enums.ts), as `import type` costs nothing at run time.
 */

/** A key's role (CONTRACT §2): `user` works with its customer's images, `business` reads statistics, `admin` does everything. */
export const ROLES = ['user', 'business', 'admin'] as const;

/** Where an image is in its processing. */
export const IMAGE_STATUSES = ['queued', 'processing', 'done', 'failed'] as const;

/** Where one variant is: `expired` once its processed file passed --processed-ttl. */
export const VARIANT_STATUSES = ['pending', 'done', 'failed', 'expired'] as const;

/**
 * Formats an upload may be, named as sharp names them. `raw` is every camera RAW, with the
 * maker's format beside it (`rawFormat`).
 */
export const INPUT_FORMATS = ['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif', 'heif', 'svg', 'raw'] as const;

/** Formats a variant can be written in. */
export const OUTPUT_FORMATS = ['webp', 'avif', 'jpeg', 'png'] as const;

/** How a variant fits its box, as sharp's `fit`. */
export const FITS = ['cover', 'contain', 'fill', 'inside', 'outside'] as const;

/** Where a cropped image (fit cover) keeps its content, as sharp's `position`; entropy and attention only crop (CONTRACT §10). */
export const POSITIONS = ['center', 'top', 'right', 'bottom', 'left', 'entropy', 'attention'] as const;
/** The positions that pick by content, not by side: only with fit cover. */
export const CONTENT_POSITIONS = ['entropy', 'attention'] as const;

/** A render's `format`: an output format, or `auto` (chosen from Accept and the source's alpha). */
export const RENDER_FORMATS = ['auto', ...OUTPUT_FORMATS] as const;

/** A render's `dpr` bounds and its pixel-side bounds (CONTRACT §10). */
export const MAX_RENDER_DPR = 4;

/** Codes a processing job can end with (an image's `error.code`); not HTTP statuses. */
export const PROCESSING_ERROR_CODES = ['corrupt_image', 'no_preview', 'processing_failed', 'processing_timeout', 'original_missing'] as const;

/** The groupings of statistics, in the order a report lists them. */
export const STATS_GROUP_KEYS = ['customer', 'format', 'day'] as const;
export type StatsGroupKey = (typeof STATS_GROUP_KEYS)[number];

/** No variant is wider or taller than this, whatever its format could hold (CONTRACT §14). */
export const MAX_OUTPUT_SIDE = 8192;
/** Variants one upload may ask for (CONTRACT §14). */
export const MAX_VARIANTS = 10;
/** Records one page of `GET /v1/images` may hold, and how many it holds when not asked. */
export const MAX_PAGE_LIMIT = 500;
export const DEFAULT_PAGE_LIMIT = 50;
/** Paths one import may name: like files in one multipart upload, accepted or refused together. */
export const MAX_IMPORT_PATHS = 100;
