import { z } from 'zod';

/** An instant as the API writes it: ISO 8601 in UTC with milliseconds (`2026-03-01T12:00:00.000Z`). */
export const Timestamp = z.iso.datetime({ precision: 3 }).meta({ description: 'ISO 8601 instant in UTC, e.g. 2026-03-01T12:00:00.000Z' });

export const Sha256 = z
  .string()
  .regex(/^[0-9a-f]{64}$/)
  .meta({ description: 'SHA-256 of the bytes, lower-case hex' });

/**
 * An id in a path. Not checked for shape: an id that is malformed answers 404 exactly like one
 * that does not exist (or belongs to another customer), so its form leaks nothing; its length
 * is bounded by the request line's (16 KB with the headers).
 */
export const PathId = z.string().min(1);

export const IdParams = z.strictObject({ id: PathId.meta({ description: 'The id of the resource' }) });
export type IdParams = z.infer<typeof IdParams>;

/** For requests that take no query parameters: any given is refused (a typo is an error, not a default). */
export const NoQuery = z.strictObject({});

/** `{items, nextCursor}`: one page of a list, newest first; `nextCursor` is null on the last page. */
export function pageOf<T extends z.ZodType>(item: T) {
  return z.strictObject({
    items: z.array(item),
    nextCursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null on the last one' }),
  });
}

/** `{items}`: a whole list in one answer (short lists: keys, watch folders). */
export function listOf<T extends z.ZodType>(item: T) {
  return z.strictObject({ items: z.array(item) });
}
