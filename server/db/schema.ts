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
  webhook_endpoints: WebhookEndpointsTable;
  webhook_messages: WebhookMessagesTable;
  webhook_deliveries: WebhookDeliveriesTable;
  nodes: NodesTable;
  schedule_slots: ScheduleSlotsTable;
  blob_deletes: BlobDeletesTable;
  upload_locks: UploadLocksTable;
  renders: RendersTable;
  presets: PresetsTable;
  link_signing_key: LinkSigningKeyTable;
  finished_uploads: FinishedUploadsTable;
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
  /** The node that claimed it (--node-id); meaningful while it is `running` (SQLite migration 011, PostgreSQL 003). */
  lease_node: string | null;
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

/** Webhooks (CONTRACT §11): SQLite migration 010, PostgreSQL migration 002. */
export interface WebhookEndpointsTable {
  id: string;
  customer: string;
  url: string;
  description: string | null;
  /** JSON text: an array of event names, or `["*"]`. */
  events: string;
  /** 1: deliveries go out; 0: disabled (by its owner, or after a 410). */
  enabled: number;
  disabled_reason: string | null;
  /** `whsec_` + base64: the secret signs, so it is kept as given (it cannot be hashed). */
  secret: string;
  /** The secret before the last rotation: messages carry its signature too until `previous_secret_until`. */
  previous_secret: string | null;
  previous_secret_until: number | null;
  created_at: number;
  updated_at: number;
}

/** One event of one customer: the exact body every delivery of it sends, so retries send the same bytes. */
export interface WebhookMessagesTable {
  /** `msg_` + a UUID: the `webhook-id` header. */
  id: string;
  customer: string;
  event: string;
  /** The JSON body, as signed and sent. */
  payload: string;
  created_at: number;
}

/** One message to one endpoint; a `webhook_deliver` job (lane: the endpoint id) sends it. */
export interface WebhookDeliveriesTable {
  id: string;
  message_id: string;
  endpoint_id: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: Generated<number>;
  last_status: number | null;
  last_error: string | null;
  next_attempt_at: number | null;
  delivered_at: number | null;
  created_at: number;
}

/** The node registry (SQLite migration 011, PostgreSQL 003): one row per node that ever started, kept fresh by its heartbeat. */
export interface NodesTable {
  id: string;
  version: string;
  started_at: number;
  last_seen_at: number;
  jobs_running: Generated<number>;
  /** Set by a clean stop (or, on SQLite, by the next start: the data-dir lock proves the old process gone). */
  stopped_at: number | null;
}

/** The slots (scheduled times, epoch ms) of each schedule some node has taken (SQLite migration 011, PostgreSQL 003). */
export interface ScheduleSlotsTable {
  name: string;
  slot: number;
}

/** The lock of a resumable upload across nodes, a lease (SQLite migration 013, PostgreSQL 006). */
export interface UploadLocksTable {
  upload_id: string;
  token: string;
  until: number;
}

/** The image each finished resumable upload became, committed with it (SQLite migration 016, PostgreSQL 009). */
export interface FinishedUploadsTable {
  upload_id: string;
  image_id: string;
  finished_at: number;
}

/** Deletes of a remote primary store's blobs, decided or possible (SQLite migration 012, PostgreSQL 004). */
export interface BlobDeletesTable {
  id: string;
  key: string;
  due_at: number;
  claimed_until: number | null;
}

/** The result cache of renders: a claim while one renders, then the stored file (SQLite migration 014, PostgreSQL 007). */
export interface RendersTable {
  key: string;
  image_id: string;
  status: 'rendering' | 'done';
  token: string;
  claim_until: number;
  format: string;
  path: string | null;
  bytes: number | null;
  written_at: number | null;
  expires_at: number | null;
}

/** Named render parameters (SQLite migration 015): `params` is the JSON text of the API's PresetParams. */
export interface PresetsTable {
  name: string;
  params: string;
  created_at: number;
  updated_at: number;
}

/** The generated key that signs links when --url-signing-keys is not given: one row, id 1. */
export interface LinkSigningKeyTable {
  id: number;
  secret: string;
  created_at: number;
}
