import type { Db } from './connection.js';
import type { VariantSpec } from '../../workers/types.js';

export type { ImageStatus, VariantStatus } from '../api/enums.js';
import type { ImageStatus, VariantStatus } from '../api/enums.js';

export interface ImageRow {
  id: string;
  customer: string;
  status: ImageStatus;
  filename: string;
  bytes: number;
  sha256: string;
  format: string;
  width: number;
  height: number;
  pages: number;
  source: string;
  generation: number;
  created_at: number;
  processed_at: number | null;
  error_code: string | null;
  error_message: string | null;
  thumbhash: string | null;
  dominant_color: string | null;
  /** When the current generation was queued (upload or reprocess): processing latency starts here. */
  queued_at: number;
  /** A camera RAW's maker's format (`dng`, `cr2`, …; workers/raw-formats.ts); null for other formats. */
  raw_format: string | null;
  /** The size (upright) of the preview a RAW's variants were made from; null until processed, and for other formats. */
  preview_width: number | null;
  preview_height: number | null;
}

export interface VariantRow {
  image_id: string;
  name: string;
  spec: string;
  status: VariantStatus;
  format: string;
  width: number | null;
  height: number | null;
  bytes: number | null;
  path: string | null;
  etag: string | null;
  written_at: number | null;
  expires_at: number | null;
}

export type NewImage = Omit<
  ImageRow,
  | 'status'
  | 'generation'
  | 'processed_at'
  | 'error_code'
  | 'error_message'
  | 'thumbhash'
  | 'dominant_color'
  | 'queued_at'
  | 'raw_format'
  | 'preview_width'
  | 'preview_height'
> & { raw_format?: string | null };

export interface ListQuery {
  customer?: string;
  status?: ImageStatus;
  limit: number;
  before?: { createdAt: number; id: string };
}

export function createImagesRepo(db: Db) {
  const insertImage = db.prepare<[NewImage]>(
    `INSERT INTO images (id, customer, status, filename, bytes, sha256, format, width, height, pages, source, created_at, queued_at, raw_format)
     VALUES (@id, @customer, 'queued', @filename, @bytes, @sha256, @format, @width, @height, @pages, @source, @created_at, @created_at, @raw_format)`,
  );
  const insertVariant = db.prepare<[string, string, string, string]>(
    `INSERT INTO variants (image_id, name, spec, status, format) VALUES (?, ?, ?, 'pending', ?)`,
  );
  const byId = db.prepare<[string], ImageRow>(`SELECT * FROM images WHERE id = ?`);
  const variantsOf = db.prepare<[string], VariantRow>(`SELECT * FROM variants WHERE image_id = ? ORDER BY rowid`);
  const variant = db.prepare<[string, string], VariantRow>(`SELECT * FROM variants WHERE image_id = ? AND name = ?`);
  const countBySha = db.prepare<[string], { n: number }>(`SELECT count(*) AS n FROM images WHERE sha256 = ?`);
  const deleteImage = db.prepare<[string]>(`DELETE FROM images WHERE id = ?`);
  const setStatus = db.prepare<[ImageStatus, string]>(`UPDATE images SET status = ? WHERE id = ?`);
  const metadata = db.prepare<[string], { data: string }>(`SELECT data FROM image_metadata WHERE image_id = ?`);
  const upsertMetadata = db.prepare<[string, string, number]>(
    `INSERT INTO image_metadata (image_id, data, extracted_at) VALUES (?, ?, ?)
     ON CONFLICT (image_id) DO UPDATE SET data = excluded.data, extracted_at = excluded.extracted_at`,
  );
  const expiredVariants = db.prepare<[number, number], VariantRow>(
    `SELECT * FROM variants WHERE status = 'done' AND expires_at <= ? ORDER BY expires_at LIMIT ?`,
  );
  const markExpired = db.prepare<[string, string, number]>(
    `UPDATE variants SET status = 'expired', path = NULL WHERE image_id = ? AND name = ? AND status = 'done' AND expires_at <= ?`,
  );
  const resetVariants = db.prepare<[string]>(`UPDATE variants SET status = 'pending' WHERE image_id = ?`);
  const nextGeneration = db.prepare<[number, string], { generation: number }>(
    `UPDATE images SET generation = generation + 1, status = 'queued', error_code = NULL, error_message = NULL,
     processed_at = NULL, queued_at = ? WHERE id = ? RETURNING generation`,
  );
  const completeVariant = db.prepare(
    `UPDATE variants SET status = 'done', width = @width, height = @height, bytes = @bytes, path = @path, etag = @etag,
     written_at = @writtenAt, expires_at = @expiresAt WHERE image_id = @imageId AND name = @name`,
  );
  const failVariants = db.prepare<[string]>(`UPDATE variants SET status = 'failed' WHERE image_id = ? AND status = 'pending'`);
  const finish = db.prepare<[ImageStatus, number, string]>(`UPDATE images SET status = ?, processed_at = ? WHERE id = ?`);
  const setError = db.prepare<[string, string, string]>(`UPDATE images SET error_code = ?, error_message = ? WHERE id = ?`);
  const doneBytes = db.prepare<[string], { n: number | null }>(
    `SELECT sum(bytes) AS n FROM variants WHERE image_id = ? AND status = 'done'`,
  );
  const saveSummary = db.prepare<[string, string, string]>(`UPDATE images SET thumbhash = ?, dominant_color = ? WHERE id = ?`);
  const savePreview = db.prepare<[number, number, string]>(`UPDATE images SET preview_width = ?, preview_height = ? WHERE id = ?`);

  return {
    insert(image: NewImage, variants: VariantSpec[]) {
      insertImage.run({ ...image, raw_format: image.raw_format ?? null });
      for (const spec of variants) insertVariant.run(image.id, spec.name, JSON.stringify(spec), spec.format);
    },
    findById: (id: string) => byId.get(id),
    variantsOf: (id: string) => variantsOf.all(id),
    findVariant: (id: string, name: string) => variant.get(id, name),
    countBySha256: (sha256: string) => countBySha.get(sha256)!.n,
    delete: (id: string) => deleteImage.run(id).changes > 0,
    setStatus: (id: string, status: ImageStatus) => void setStatus.run(status, id),
    metadata: (id: string) => {
      const row = metadata.get(id);
      return row ? (JSON.parse(row.data) as Record<string, unknown>) : undefined;
    },
    saveMetadata: (id: string, data: unknown, at: number) => void upsertMetadata.run(id, JSON.stringify(data), at),

    list(query: ListQuery): ImageRow[] {
      const where: string[] = [];
      const params: unknown[] = [];
      if (query.customer !== undefined) {
        where.push('customer = ?');
        params.push(query.customer);
      }
      if (query.status) {
        where.push('status = ?');
        params.push(query.status);
      }
      if (query.before) {
        where.push('(created_at < ? OR (created_at = ? AND id < ?))');
        params.push(query.before.createdAt, query.before.createdAt, query.before.id);
      }
      const sql = `SELECT * FROM images ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
                   ORDER BY created_at DESC, id DESC LIMIT ?`;
      return db.prepare<unknown[], ImageRow>(sql).all(...params, query.limit);
    },

    /** Processed files past their expiry, oldest first, in batches. */
    expiredVariants: (now: number, limit: number) => expiredVariants.all(now, limit),
    markExpired: (imageId: string, name: string, now: number) => markExpired.run(imageId, name, now).changes > 0,

    /** A new generation: every variant back to pending (reprocess). */
    startGeneration(id: string, at: number): number {
      resetVariants.run(id);
      return nextGeneration.get(at, id)!.generation;
    },

    completeVariant(
      imageId: string,
      name: string,
      v: { width: number; height: number; bytes: number; path: string; etag: string; writtenAt: number; expiresAt: number },
    ) {
      completeVariant.run({ ...v, imageId, name });
    },

    failVariants: (imageId: string) => void failVariants.run(imageId),
    finish: (imageId: string, status: 'done' | 'failed', at: number) => void finish.run(status, at, imageId),
    setError: (imageId: string, code: string, message: string) => void setError.run(code, message, imageId),
    /** Bytes of the variant files currently in place. */
    doneVariantBytes: (imageId: string) => doneBytes.get(imageId)?.n ?? 0,
    saveSummary: (imageId: string, thumbhash: string, dominantColor: string) =>
      void saveSummary.run(thumbhash, dominantColor, imageId),
    /** The size of the embedded preview a camera RAW's variants were made from. */
    savePreview: (imageId: string, preview: { width: number; height: number }) => void savePreview.run(preview.width, preview.height, imageId),
  };
}

export type ImagesRepo = ReturnType<typeof createImagesRepo>;
