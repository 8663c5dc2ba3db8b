import type { Generated } from 'kysely';
import type { ImageStatus, VariantStatus } from '../api/enums.js';
import type { EventType, JobKind, JobQueue, JobStatus } from '../jobs/kinds.js';

/**
 * The tables as the query builder sees them (Kysely's `Database` interface), written to match
 * the schema the migrations build. Every dialect's migrations must arrive at these columns and
 * types as JavaScript sees them: a column that is INTEGER in SQLite is BIGINT in PostgreSQL and
 * must still read as a number. `Generated<T>` marks a column the database fills when an insert
 * leaves it out (an autoincrement id, a DEFAULT).
 *
 * Times are milliseconds since the epoch; flags are 0/1 integers (SQLite has no booleans).
 */
export interface Database {
  api_keys: ApiKeysTable;
  images: ImagesTable;
  image_metadata: ImageMetadataTable;
  variants: VariantsTable;
  outbox: OutboxTable;
  jobs: JobsTable;
  job_queues: JobQueuesTable;
  stats_daily: StatsDailyTable;
  watch_folders: WatchFoldersTable;
  watch_files: WatchFilesTable;
  s3_originals: S3OriginalsTable;
  s3_sync_parts: S3SyncPartsTable;
  s3_sync_state: S3SyncStateTable;
  blob_deletes: BlobDeletesTable;
}

export interface ApiKeysTable {
  id: string;
  key_hash: string;
  key_prefix: string;
  customer: string;
  role: 'user' | 'business' | 'admin';
  name: string | null;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

export interface ImagesTable {
  id: string;
  customer: string;
  status: ImageStatus;
  filename: string;
  bytes: number;
  sha256: string;
  format: string;
  width: number;
  height: number;
  pages: Generated<number>;
  source: string;
  generation: Generated<number>;
  created_at: number;
  processed_at: number | null;
  error_code: string | null;
  error_message: string | null;
  thumbhash: string | null;
  dominant_color: string | null;
  /** When the current generation was queued (upload or reprocess): processing latency starts here. */
  queued_at: number | null;
  /** A camera RAW's maker's format (`dng`, `cr2`, …; workers/raw-formats.ts); null for other formats. */
  raw_format: string | null;
  /** The size (upright) of the preview a RAW's variants were made from; null until processed, and for other formats. */
  preview_width: number | null;
  preview_height: number | null;
}

export interface ImageMetadataTable {
  image_id: string;
  /** JSON text. */
  data: string;
  extracted_at: number;
}

export interface VariantsTable {
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
  /** Its index among the image's variants as they were asked for: the order they are listed in. */
  position: Generated<number>;
}

export interface OutboxTable {
  id: Generated<number>;
  type: EventType;
  image_id: string | null;
  /** JSON text. */
  payload: string;
  created_at: number;
  dispatched_at: number | null;
}

export interface JobsTable {
  id: Generated<number>;
  kind: JobKind;
  /** Which slots it takes (jobs/kinds.ts). */
  queue: JobQueue;
  image_id: string | null;
  customer: string | null;
  generation: number | null;
  event_id: number | null;
  lane: string | null;
  /** JSON text. */
  payload: Generated<string>;
  status: JobStatus;
  attempts: Generated<number>;
  max_attempts: number;
  interruptions: Generated<number>;
  run_at: number;
  lease_until: number | null;
  lease_token: string | null;
  last_error: string | null;
  created_at: number;
  finished_at: number | null;
}

/** Kept by triggers (migration 005): one row per customer with queued image jobs. */
export interface JobQueuesTable {
  customer: string;
  waiting: Generated<number>;
  served_seq: Generated<number>;
}

export interface StatsDailyTable {
  level: number;
  day: string;
  customer: string;
  format: string;
  uploaded: Generated<number>;
  processed: Generated<number>;
  failed: Generated<number>;
  rejected: Generated<number>;
  bytes_in: Generated<number>;
  bytes_out: Generated<number>;
  /** A serialised latency histogram (a BLOB; every driver reads it as a Buffer). */
  latency: Buffer | null;
  p50_ms: number | null;
  p95_ms: number | null;
  group_json: string | null;
}

export interface WatchFoldersTable {
  path: string;
  /** 1: poll the folder instead of relying on file-system events. */
  poll: Generated<number>;
  added_at: number;
}

export interface WatchFilesTable {
  path: string;
  folder: string;
  size: number;
  mtime_ms: number;
  sha256: string | null;
  outcome: 'ingested' | 'rejected';
  image_id: string | null;
  error_code: string | null;
  seen_at: number;
}

export interface S3OriginalsTable {
  sha256: string;
  bytes: number;
  /** 1: the original is on local disk; 0: evicted (or lost), its only copy the bucket's. */
  local: 0 | 1;
  synced_at: number | null;
  last_used_at: number;
}

export interface S3SyncPartsTable {
  job_id: number;
  upload_id: string;
  part_number: number;
  etag: string;
  crc32: string;
  bytes: number;
}

export interface S3SyncStateTable {
  id: number;
  target: string | null;
  outbox_cursor: Generated<number>;
  synced_objects: Generated<number>;
  synced_bytes: Generated<number>;
  deleted_objects: Generated<number>;
  evicted_originals: Generated<number>;
  evicted_bytes: Generated<number>;
  local_bytes: Generated<number>;
}

/** Deletes of a remote primary store's blobs, decided or possible (migration 010). */
export interface BlobDeletesTable {
  id: string;
  key: string;
  due_at: number;
  claimed_until: number | null;
}
