import type { JobRow } from '../db/jobs.repo.js';
import type { SyncOp, SyncPayload } from '../db/sync.repo.js';

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

/** What `syncJobOf` reads of a job row: the engine's rows and the sync repository's failed ones alike. */
export type SyncJobSource = Pick<JobRow, 'id' | 'kind' | 'lane' | 'payload' | 'status' | 'attempts' | 'last_error' | 'created_at' | 'finished_at'>;

export function syncJobOf(row: SyncJobSource): SyncJobRow {
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
