/**
 * Every job the engine knows, one enum. Start-up fails if a kind of a queue that runs has no
 * handler (see jobs/runner.ts).
 */
export const JOB_KINDS = [
  'extract_metadata',
  'process_image',
  // One kind per object operation of the S3 sync (sync/sync-executor.ts).
  'sync_put_original',
  'sync_put_processed',
  'sync_delete_original',
  'sync_delete_processed',
  'sync_delete_image',
  'watch_ingest',
  'purge',
  'webhook_deliver',
] as const;
export type JobKind = (typeof JOB_KINDS)[number];

/**
 * Queues: kinds that share slots. Each queue has its own concurrency, so one never starves
 * another (an S3 backlog does not hold up processing, a folder of 100 000 photos neither).
 *
 * - `image`: processing and metadata, one job per thread of the worker pool, claimed
 *   round-robin across customers (the only queue whose jobs have a customer).
 * - `sync`: object operations against the S3 bucket, paused while the bucket is unreachable.
 * - `watch`: files found in watch folders, ingested like uploads.
 * - `maintenance`: the scheduled purge.
 * - `webhook`: webhook deliveries, one job per delivery (lane: the endpoint), claimed fairly
 *   across customers with a bound per endpoint (db/webhooks.repo.ts `claim`).
 */
export const JOB_QUEUES = ['image', 'sync', 'watch', 'maintenance', 'webhook'] as const;
export type JobQueue = (typeof JOB_QUEUES)[number];

export const QUEUE_OF = {
  extract_metadata: 'image',
  process_image: 'image',
  sync_put_original: 'sync',
  sync_put_processed: 'sync',
  sync_delete_original: 'sync',
  sync_delete_processed: 'sync',
  sync_delete_image: 'sync',
  watch_ingest: 'watch',
  purge: 'maintenance',
  webhook_deliver: 'webhook',
} as const satisfies Record<JobKind, JobQueue>;

export type ImageJobKind = { [K in JobKind]: (typeof QUEUE_OF)[K] extends 'image' ? K : never }[JobKind];
export type SyncJobKind = { [K in JobKind]: (typeof QUEUE_OF)[K] extends 'sync' ? K : never }[JobKind];

/** Where a job stands; a done job of no image leaves the table instead (db/jobs.repo.ts `finish`). */
export type JobStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export const kindsOf = (queue: JobQueue): JobKind[] => JOB_KINDS.filter((kind) => QUEUE_OF[kind] === queue);

/** Events written to the outbox, and the image jobs each one starts. */
export const EVENT_JOBS = {
  'image.uploaded': ['extract_metadata', 'process_image'],
  'image.reprocess_requested': ['process_image'],
  'image.processed': [],
  'image.failed': [],
  'image.deleted': [],
  'variant.expired': [],
} as const satisfies Record<string, readonly ImageJobKind[]>;
export type EventType = keyof typeof EVENT_JOBS;
