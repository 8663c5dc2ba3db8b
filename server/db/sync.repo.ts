import { EXTENSIONS } from '../media/formats.js';
import type { Db } from './sqlite/connection.js';
import type { SyncJobKind } from '../jobs/kinds.js';
import type { JobRow, OutboxRow } from './jobs.repo.js';

export type SyncOp = 'put_original' | 'put_processed' | 'delete_original' | 'delete_processed' | 'delete_image';

/** A sync operation: a job of the `sync` queue (kind `sync_<op>`), its payload read. */
export interface SyncJobRow {
  id: number;
  op: SyncOp;
  lane: string;
  /** Object key below the prefix; for `delete_image` the key prefix of the image's processed files. */
  key: string;
  image_id: string | null;
  sha256: string | null;
  variant: string | null;
  bytes: number;
  status: JobRow['status'];
  attempts: number;
  last_error: string | null;
  /** When it failed for good. */
  failed_at: number | null;
  created_at: number;
  /** The multipart upload in progress, resumed by the next attempt. */
  upload_id: string | null;
  part_size: number | null;
}

interface SyncPayload {
  key: string;
  imageId?: string | null;
  sha256?: string | null;
  variant?: string | null;
  bytes?: number;
  uploadId?: string | null;
  partSize?: number | null;
}

export const syncKind = (op: SyncOp): SyncJobKind => `sync_${op}`;

export function syncJobOf(row: JobRow): SyncJobRow {
  const p = JSON.parse(row.payload) as SyncPayload;
  return {
    id: row.id,
    op: row.kind.slice('sync_'.length) as SyncOp,
    lane: row.lane ?? '',
    key: p.key,
    image_id: p.imageId ?? null,
    sha256: p.sha256 ?? null,
    variant: p.variant ?? null,
    bytes: p.bytes ?? 0,
    status: row.status,
    attempts: row.attempts,
    last_error: row.last_error,
    failed_at: row.status === 'failed' ? row.finished_at : null,
    created_at: row.created_at,
    upload_id: p.uploadId ?? null,
    part_size: p.partSize ?? null,
  };
}

export interface NewSyncJob {
  op: SyncOp;
  lane: string;
  key: string;
  imageId?: string | null;
  sha256?: string | null;
  variant?: string | null;
  bytes?: number;
}

export interface PartRow {
  part_number: number;
  etag: string;
  crc32: string;
  bytes: number;
}

export interface SyncStateRow {
  target: string | null;
  outbox_cursor: number;
  synced_objects: number;
  synced_bytes: number;
  deleted_objects: number;
  evicted_originals: number;
  evicted_bytes: number;
  local_bytes: number;
}

export interface OriginalRow {
  sha256: string;
  bytes: number;
  local: 0 | 1;
  synced_at: number | null;
  last_used_at: number;
}

export const originalKey = (sha256: string) => `originals/${sha256}`;
export const processedLane = (imageId: string) => `processed/${imageId}`;

/** Every query of the S3 sync: its jobs, the multipart parts, the originals it tracks, its counters. */
export function createSyncRepo(db: Db, options: { maxAttempts?: number } = {}) {
  // The attempt limit of every operation queued from here (--job-max-attempts).
  const maxAttempts = options.maxAttempts ?? 5;
  const state = db.prepare<[], SyncStateRow>(`SELECT * FROM s3_sync_state WHERE id = 1`);
  const setCursor = db.prepare<[number]>(`UPDATE s3_sync_state SET outbox_cursor = ? WHERE id = 1`);
  const eventsAfter = db.prepare<[number, number], OutboxRow>(`SELECT * FROM outbox WHERE id > ? ORDER BY id LIMIT ?`);
  const unfed = db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM outbox WHERE id > (SELECT outbox_cursor FROM s3_sync_state WHERE id = 1)`);

  // The sync's operations are jobs of the `sync` queue: the engine claims and runs them
  // (jobs/runner.ts); these are the sync's own reads and writes of them.
  const lastInLane = db.prepare<[string], { kind: string; key: string | null; status: string }>(
    `SELECT kind, json_extract(payload, '$.key') AS key, status FROM jobs WHERE lane = ? ORDER BY id DESC LIMIT 1`,
  );
  const insert = db.prepare(
    `INSERT INTO jobs (kind, queue, lane, payload, status, max_attempts, run_at, created_at)
     VALUES (@kind, 'sync', @lane, @payload, 'queued', @maxAttempts, @now, @now)`,
  );
  const setUpload = db.prepare<[string | null, number | null, number]>(
    `UPDATE jobs SET payload = json_set(payload, '$.uploadId', ?, '$.partSize', ?) WHERE id = ? AND queue = 'sync'`,
  );
  const uploadOf = db.prepare<[number], { upload_id: string | null }>(
    `SELECT json_extract(payload, '$.uploadId') AS upload_id FROM jobs WHERE id = ? AND queue = 'sync'`,
  );
  const clearParts = db.prepare<[number]>(`DELETE FROM s3_sync_parts WHERE job_id = ?`);
  const parts = db.prepare<[number, string], PartRow>(
    `SELECT part_number, etag, crc32, bytes FROM s3_sync_parts WHERE job_id = ? AND upload_id = ? ORDER BY part_number`,
  );
  const addPart = db.prepare(
    `INSERT OR REPLACE INTO s3_sync_parts (job_id, upload_id, part_number, etag, crc32, bytes) VALUES (@jobId, @uploadId, @partNumber, @etag, @crc32, @bytes)`,
  );
  const backlog = db.prepare<[], { jobs: number; bytes: number | null; oldest: number | null }>(
    `SELECT count(*) AS jobs, sum(json_extract(payload, '$.bytes')) AS bytes, min(created_at) AS oldest
     FROM jobs WHERE queue = 'sync' AND status = 'queued'`,
  );
  const failedCount = db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM jobs WHERE queue = 'sync' AND status = 'failed'`);
  const failedRecent = db.prepare<[number], JobRow>(
    `SELECT * FROM jobs WHERE queue = 'sync' AND status = 'failed' ORDER BY finished_at DESC, id DESC LIMIT ?`,
  );
  const retryFailed = db.prepare<[number]>(
    `UPDATE jobs SET status = 'queued', attempts = 0, run_at = ?, finished_at = NULL WHERE queue = 'sync' AND status = 'failed'`,
  );

  const addSynced = db.prepare<[number]>(`UPDATE s3_sync_state SET synced_objects = synced_objects + 1, synced_bytes = synced_bytes + ? WHERE id = 1`);
  const addDeleted = db.prepare<[number]>(`UPDATE s3_sync_state SET deleted_objects = deleted_objects + ? WHERE id = 1`);
  const addEvicted = db.prepare<[number]>(
    `UPDATE s3_sync_state SET evicted_originals = evicted_originals + 1, evicted_bytes = evicted_bytes + ? WHERE id = 1`,
  );

  const original = db.prepare<[string], OriginalRow>(`SELECT * FROM s3_originals WHERE sha256 = ?`);
  const upsertLocal = db.prepare<[string, number, number]>(
    `INSERT INTO s3_originals (sha256, bytes, local, last_used_at) VALUES (?, ?, 1, ?)
     ON CONFLICT (sha256) DO UPDATE SET local = 1, last_used_at = excluded.last_used_at`,
  );
  const markSynced = db.prepare<[string, number, number, number, number]>(
    `INSERT INTO s3_originals (sha256, bytes, local, synced_at, last_used_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (sha256) DO UPDATE SET synced_at = excluded.synced_at`,
  );
  const setLocal = db.prepare<[number, string]>(`UPDATE s3_originals SET local = ? WHERE sha256 = ?`);
  const clearSynced = db.prepare<[string]>(`UPDATE s3_originals SET synced_at = NULL WHERE sha256 = ?`);
  const forget = db.prepare<[string]>(`DELETE FROM s3_originals WHERE sha256 = ?`);
  const touch = db.prepare<[number, string, number]>(`UPDATE s3_originals SET last_used_at = ? WHERE sha256 = ? AND last_used_at < ?`);
  // Only originals whose bucket copy is verified and settled (no upload or delete of theirs
  // pending), and that no processing job is about to read, in least-recently-used order.
  const evictable = db.prepare<[number], OriginalRow>(
    `SELECT o.* FROM s3_originals o
     WHERE o.local = 1 AND o.synced_at IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM jobs s WHERE s.lane = 'originals/' || o.sha256)
       AND NOT EXISTS (
         SELECT 1 FROM images i JOIN jobs j ON j.image_id = i.id
         WHERE i.sha256 = o.sha256 AND j.status IN ('queued', 'running'))
     ORDER BY o.last_used_at LIMIT ?`,
  );
  const evictedCount = db.prepare<[], { n: number; bytes: number | null }>(
    `SELECT count(*) AS n, sum(bytes) AS bytes FROM s3_originals o
     WHERE local = 0 AND EXISTS (SELECT 1 FROM images i WHERE i.sha256 = o.sha256)`,
  );

  const imagesWithSha = db.prepare<[string], { n: number }>(`SELECT count(*) AS n FROM images WHERE sha256 = ?`);
  const formatOfSha = db.prepare<[string], { format: string }>(`SELECT format FROM images WHERE sha256 = ? LIMIT 1`);

  return {
    state: () => state.get()!,
    eventsAfter: (cursor: number, limit: number) => eventsAfter.all(cursor, limit),
    setCursor: (cursor: number) => void setCursor.run(cursor),
    /** Outbox events the sync has not read yet. */
    unfedEvents: () => unfed.get()!.n,

    /**
     * Queues one object operation. An upload identical to the one already waiting at the end of
     * its lane is not queued twice (a hundred uploads of the same bytes make one upload).
     */
    enqueue(job: NewSyncJob, now: number): boolean {
      const last = lastInLane.get(job.lane);
      if (last && last.status === 'queued' && last.kind === syncKind(job.op) && last.key === job.key && job.op.startsWith('put_')) return false;
      const payload: SyncPayload = { key: job.key, imageId: job.imageId ?? null, sha256: job.sha256 ?? null, variant: job.variant ?? null, bytes: job.bytes ?? 0 };
      insert.run({ kind: syncKind(job.op), lane: job.lane, payload: JSON.stringify(payload), maxAttempts, now });
      return true;
    },

    /** Failed operations are queued again, with their attempts from zero (POST /v1/sync/retry). */
    retryFailed: (now: number) => retryFailed.run(now).changes,

    setUpload: (id: number, uploadId: string | null, partSize: number | null) => {
      setUpload.run(uploadId, partSize, id);
      clearParts.run(id);
    },
    /** The multipart upload a job has in progress, if any. */
    uploadOf: (id: number) => uploadOf.get(id)?.upload_id ?? null,
    parts: (jobId: number, uploadId: string) => parts.all(jobId, uploadId),
    addPart: (p: { jobId: number; uploadId: string; partNumber: number; etag: string; crc32: string; bytes: number }) => void addPart.run(p),

    backlog: () => {
      const row = backlog.get()!;
      return { jobs: row.jobs, bytes: row.bytes ?? 0, oldest: row.oldest };
    },
    failedCount: () => failedCount.get()!.n,
    failedRecent: (limit: number) => failedRecent.all(limit).map(syncJobOf),

    addSynced: (bytes: number) => void addSynced.run(bytes),
    addDeleted: (n: number) => void addDeleted.run(n),

    original: (sha256: string) => original.get(sha256),
    /** The original is on local disk now (uploaded, or brought back from the bucket). */
    originalIsLocal: (sha256: string, bytes: number, now: number) => void upsertLocal.run(sha256, bytes, now),
    originalSynced: (sha256: string, bytes: number, local: boolean, now: number) => void markSynced.run(sha256, bytes, local ? 1 : 0, now, now),
    originalGoneLocally: (sha256: string) => void setLocal.run(0, sha256),
    /** The bucket copy was deleted: forget the original entirely unless an image uses it again. */
    originalDeletedRemotely(sha256: string) {
      if (imagesWithSha.get(sha256)!.n === 0) forget.run(sha256);
      else clearSynced.run(sha256);
    },
    originalEvicted(sha256: string, bytes: number) {
      setLocal.run(0, sha256);
      addEvicted.run(bytes);
    },
    /** Least-recently-used bookkeeping, written at most once a minute per original. */
    touchOriginal: (sha256: string, now: number) => void touch.run(now, sha256, now - 60_000),
    evictable: (limit: number) => evictable.all(limit),
    /** Originals in use whose only copy is the bucket's. */
    evicted: () => {
      const row = evictedCount.get()!;
      return { originals: row.n, bytes: row.bytes ?? 0 };
    },

    imagesUsing: (sha256: string) => imagesWithSha.get(sha256)!.n,
    formatOf: (sha256: string) => formatOfSha.get(sha256)?.format,

    /**
     * The bucket (or prefix) changed, or sync is on for the first time: start from what is
     * stored now. Every original and every processed file in place is queued for upload, and
     * the outbox cursor moves to its end (older events describe history this already covers).
     */
    startFresh(target: string, now: number) {
      db.prepare(`DELETE FROM jobs WHERE queue = 'sync'`).run();
      db.prepare(`DELETE FROM s3_originals`).run();
      db.prepare(
        `INSERT INTO s3_originals (sha256, bytes, local, last_used_at)
         SELECT sha256, max(bytes), 1, ? FROM images GROUP BY sha256`,
      ).run(now);
      db.prepare(
        `INSERT INTO jobs (kind, queue, lane, payload, status, max_attempts, run_at, created_at)
         SELECT 'sync_put_original', 'sync', 'originals/' || sha256,
                json_object('key', 'originals/' || sha256, 'sha256', sha256, 'bytes', bytes), 'queued', ?, ?, ?
         FROM s3_originals`,
      ).run(maxAttempts, now, now);
      // The key's file name is the local file's, `<variant>.<extension of its format>`.
      const extension = `CASE format ${Object.entries(EXTENSIONS).map(([f, e]) => `WHEN '${f}' THEN '${e}'`).join(' ')} END`;
      db.prepare(
        `INSERT INTO jobs (kind, queue, lane, payload, status, max_attempts, run_at, created_at)
         SELECT 'sync_put_processed', 'sync', 'processed/' || image_id,
                json_object('key', 'processed/' || image_id || '/' || name || '.' || ${extension},
                            'imageId', image_id, 'variant', name, 'bytes', coalesce(bytes, 0)),
                'queued', ?, ?, ?
         FROM variants WHERE status = 'done' AND path IS NOT NULL ORDER BY image_id`,
      ).run(maxAttempts, now, now);
      const last = db.prepare<[], { id: number | null }>(`SELECT max(id) AS id FROM outbox`).get()!.id ?? 0;
      db.prepare(`UPDATE s3_sync_state SET target = ?, outbox_cursor = ? WHERE id = 1`).run(target, last);
    },
  };
}

/** `processed/<id>/<variant>.<ext>`: the file name of the local processed file, below its image. */
export function processedKey(imageId: string, localPath: string): string {
  const file = localPath.split(/[\\/]/).pop()!;
  return `processed/${imageId}/${file}`;
}

export type SyncRepo = ReturnType<typeof createSyncRepo>;
