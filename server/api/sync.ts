import { z } from 'zod';
import { Timestamp } from './common.js';

const Count = z.number().int().min(0);

export const SyncInFlight = z.strictObject({
  op: z.string().meta({ description: 'The object operation (upload_original, upload_processed, delete_object, …)' }),
  key: z.string().meta({ description: 'The object key in the bucket' }),
  bytes: Count.nullable(),
  bytesDone: Count,
  resumedBytes: Count.meta({ description: 'Bytes a resumed multipart upload did not send again' }),
  attempt: Count,
  startedAt: Timestamp.nullable(),
});
export type SyncInFlight = z.infer<typeof SyncInFlight>;

export const SyncFailure = z.strictObject({
  id: z.number().int(),
  op: z.string(),
  key: z.string(),
  attempts: Count,
  lastError: z.string().nullable(),
  failedAt: Timestamp.nullable(),
});
export type SyncFailure = z.infer<typeof SyncFailure>;

const SyncEnabled = z.strictObject({
  enabled: z.literal(true),
  bucket: z.string(),
  prefix: z.string(),
  endpoint: z.string().nullable(),
  region: z.string(),
  url: z.string().meta({ description: 'Where the bucket is, for a person' }),
  reachable: z.boolean(),
  outage: z.strictObject({ since: Timestamp.nullable(), lastError: z.string().nullable(), nextProbeAt: Timestamp.nullable() }).nullable(),
  backlog: z.strictObject({ jobs: Count, bytes: Count, oldestQueuedAt: Timestamp.nullable(), unreadEvents: Count }),
  inFlight: z.array(SyncInFlight),
  failed: z.strictObject({ jobs: Count, recent: z.array(SyncFailure).meta({ description: 'The 20 most recent' }) }),
  synced: z.strictObject({ objects: Count, bytes: Count, deletedObjects: Count }),
  localOriginals: z.strictObject({
    bytes: Count,
    maxBytes: Count.nullable().meta({ description: '--local-originals-max-bytes; null keeps every original on disk' }),
    evicted: Count,
    evictedBytes: Count,
    evictedSinceStart: Count,
  }),
  lifecycle: z.strictObject({ state: z.enum(['applied', 'unsupported', 'pending']), detail: z.string().optional() }),
});

/** `GET /v1/sync`: `{enabled: false}` without --s3-bucket. */
export const SyncStatus = z.discriminatedUnion('enabled', [z.strictObject({ enabled: z.literal(false) }), SyncEnabled]).meta({ id: 'SyncStatus' });
export type SyncStatus = z.infer<typeof SyncStatus>;

/** `POST /v1/sync/retry` → 202 */
export const SyncRetryResponse = z.strictObject({ requeued: Count.meta({ description: 'Failed operations queued again' }) });
export type SyncRetryResponse = z.infer<typeof SyncRetryResponse>;
