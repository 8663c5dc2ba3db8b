import { EXTENSIONS } from '../media/formats.js';
import type { Db } from './connection.js';
import type { OutboxRow } from './jobs.repo.js';

export type SyncOp = 'put_original' | 'put_processed' | 'delete_original' | 'delete_processed' | 'delete_image';

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
  event_id: number | null;
  status: 'queued' | 'running' | 'failed';
  attempts: number;
  run_at: number;
  lease_token: string | null;
  started_at: number | null;
  last_error: string | null;
  failed_at: number | null;
  created_at: number;
  upload_id: string | null;
  part_size: number | null;
}

export interface NewSyncJob {
  op: SyncOp;
  lane: string;
  key: string;
  imageId?: string | null;
  sha256?: string | null;
  variant?: string | null;
  bytes?: number;
  eventId?: number | null;
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

/** Every query of the S3 sync: its queue, the multipart parts, the originals it tracks, its counters. */
export function createSyncRepo(db: Db) {
  const state = db.prepare<[], SyncStateRow>(`SELECT * FROM s3_sync_state WHERE id = 1`);
  const setCursor = db.prepare<[number]>(`UPDATE s3_sync_state SET outbox_cursor = ? WHERE id = 1`);
  const eventsAfter = db.prepare<[number, number], OutboxRow>(`SELECT * FROM outbox WHERE id > ? ORDER BY id LIMIT ?`);
  const unfed = db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM outbox WHERE id > (SELECT outbox_cursor FROM s3_sync_state WHERE id = 1)`);

  const lastInLane = db.prepare<[string], Pick<SyncJobRow, 'op' | 'key' | 'status'>>(
    `SELECT op, key, status FROM s3_sync_jobs WHERE lane = ? ORDER BY id DESC LIMIT 1`,
  );
  const insert = db.prepare(
    `INSERT INTO s3_sync_jobs (op, lane, key, image_id, sha256, variant, bytes, event_id, status, run_at, created_at)
     VALUES (@op, @lane, @key, @imageId, @sha256, @variant, @bytes, @eventId, 'queued', @now, @now)`,
  );
  // Due, and nothing else of its lane running or waiting ahead of it.
  const claim = db.prepare<[string, number, number], SyncJobRow>(
    `UPDATE s3_sync_jobs SET status = 'running', attempts = attempts + 1, lease_token = ?, started_at = ?
     WHERE id = (
       SELECT j.id FROM s3_sync_jobs j
       WHERE j.status = 'queued' AND j.run_at <= ?
         AND NOT EXISTS (
           SELECT 1 FROM s3_sync_jobs e
           WHERE e.lane = j.lane AND e.id != j.id AND (e.status = 'running' OR (e.status = 'queued' AND e.id < j.id)))
       ORDER BY j.run_at, j.id LIMIT 1)
     RETURNING *`,
  );
  const releaseAll = db.prepare(`UPDATE s3_sync_jobs SET status = 'queued', lease_token = NULL WHERE status = 'running'`);
  const remove = db.prepare<[number, string]>(`DELETE FROM s3_sync_jobs WHERE id = ? AND status = 'running' AND lease_token = ?`);
  const retry = db.prepare<[number, string, number, number, string]>(
    `UPDATE s3_sync_jobs SET status = 'queued', run_at = ?, last_error = ?, attempts = attempts - ?, lease_token = NULL
     WHERE id = ? AND status = 'running' AND lease_token = ?`,
  );
  const fail = db.prepare<[string, number, number, string]>(
    `UPDATE s3_sync_jobs SET status = 'failed', last_error = ?, failed_at = ?, lease_token = NULL
     WHERE id = ? AND status = 'running' AND lease_token = ?`,
  );
  const owned = db.prepare<[number, string], { id: number }>(`SELECT id FROM s3_sync_jobs WHERE id = ? AND status = 'running' AND lease_token = ?`);
  const setUpload = db.prepare<[string | null, number | null, number]>(`UPDATE s3_sync_jobs SET upload_id = ?, part_size = ? WHERE id = ?`);
  const uploadOf = db.prepare<[number], { upload_id: string | null }>(`SELECT upload_id FROM s3_sync_jobs WHERE id = ?`);
  const clearParts = db.prepare<[number]>(`DELETE FROM s3_sync_parts WHERE job_id = ?`);
  const parts = db.prepare<[number, string], PartRow>(
    `SELECT part_number, etag, crc32, bytes FROM s3_sync_parts WHERE job_id = ? AND upload_id = ? ORDER BY part_number`,
  );
  const addPart = db.prepare(
    `INSERT OR REPLACE INTO s3_sync_parts (job_id, upload_id, part_number, etag, crc32, bytes) VALUES (@jobId, @uploadId, @partNumber, @etag, @crc32, @bytes)`,
  );
  const nextRunAt = db.prepare<[], { run_at: number | null }>(`SELECT min(run_at) AS run_at FROM s3_sync_jobs WHERE status = 'queued'`);
  const backlog = db.prepare<[], { jobs: number; bytes: number | null; oldest: number | null }>(
    `SELECT count(*) AS jobs, sum(bytes) AS bytes, min(created_at) AS oldest FROM s3_sync_jobs WHERE status = 'queued'`,
  );
  const failedCount = db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM s3_sync_jobs WHERE status = 'failed'`);
  const failedRecent = db.prepare<[number], SyncJobRow>(`SELECT * FROM s3_sync_jobs WHERE status = 'failed' ORDER BY failed_at DESC, id DESC LIMIT ?`);
  const retryFailed = db.prepare<[number]>(
    `UPDATE s3_sync_jobs SET status = 'queued', attempts = 0, run_at = ?, failed_at = NULL WHERE status = 'failed'`,
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
       AND NOT EXISTS (SELECT 1 FROM s3_sync_jobs s WHERE s.lane = 'originals/' || o.sha256)
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
      if (last && last.status === 'queued' && last.op === job.op && last.key === job.key && job.op.startsWith('put_')) return false;
      insert.run({
        op: job.op,
        lane: job.lane,
        key: job.key,
        imageId: job.imageId ?? null,
        sha256: job.sha256 ?? null,
        variant: job.variant ?? null,
        bytes: job.bytes ?? 0,
        eventId: job.eventId ?? null,
        now,
      });
      return true;
    },

    claim: (now: number, token: string) => claim.get(token, now, now),
    releaseAll: () => releaseAll.run().changes,
    isOwned: (id: number, token: string) => owned.get(id, token) !== undefined,
    /** A finished job leaves the queue (with its parts); the counters keep the history. */
    remove: (id: number, token: string) => remove.run(id, token).changes > 0,
    /** Back in the queue at `runAt`; `countAttempt: false` when the bucket, not the job, failed. */
    retry: (id: number, token: string, runAt: number, error: string, countAttempt: boolean) =>
      retry.run(runAt, error, countAttempt ? 0 : 1, id, token).changes > 0,
    fail: (id: number, token: string, error: string, at: number) => fail.run(error, at, id, token).changes > 0,
    retryFailed: (now: number) => retryFailed.run(now).changes,
    nextRunAt: () => nextRunAt.get()?.run_at ?? null,

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
    failedRecent: (limit: number) => failedRecent.all(limit),

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
      db.prepare(`DELETE FROM s3_sync_jobs`).run();
      db.prepare(`DELETE FROM s3_originals`).run();
      db.prepare(
        `INSERT INTO s3_originals (sha256, bytes, local, last_used_at)
         SELECT sha256, max(bytes), 1, ? FROM images GROUP BY sha256`,
      ).run(now);
      db.prepare(
        `INSERT INTO s3_sync_jobs (op, lane, key, sha256, bytes, status, run_at, created_at)
         SELECT 'put_original', 'originals/' || sha256, 'originals/' || sha256, sha256, bytes, 'queued', ?, ? FROM s3_originals`,
      ).run(now, now);
      // The key's file name is the local file's, `<variant>.<extension of its format>`.
      const extension = `CASE format ${Object.entries(EXTENSIONS).map(([f, e]) => `WHEN '${f}' THEN '${e}'`).join(' ')} END`;
      db.prepare(
        `INSERT INTO s3_sync_jobs (op, lane, key, image_id, variant, bytes, status, run_at, created_at)
         SELECT 'put_processed', 'processed/' || image_id, 'processed/' || image_id || '/' || name || '.' || ${extension},
                image_id, name, coalesce(bytes, 0), 'queued', ?, ?
         FROM variants WHERE status = 'done' AND path IS NOT NULL ORDER BY image_id`,
      ).run(now, now);
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
