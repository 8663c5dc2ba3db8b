import path from 'node:path';
import type { SyncStatus } from '../api/index.js';
import client from 'prom-client';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { DatabasePort } from '../db/port.js';
import type { ImagesRepo } from '../db/images.repo.js';
import type { Repositories } from '../db/repositories.js';
import { createOutagePause } from '../jobs/outage.js';
import type { QueueSetup } from '../jobs/runner.js';
import { createBufferPool } from '../storage/buffer-pool.js';
import type { LocalPrimaryStore } from '../storage/blob-store.js';
import { createS3Bucket, type S3Bucket } from '../storage/s3/bucket.js';
import { describeS3Error, startupFailure } from '../storage/s3/errors.js';
import { applyLifecycleRules } from '../storage/s3/lifecycle.js';
import { createS3BlobStore } from '../storage/s3/s3-blob-store.js';
import { isoOrNull, type Clock } from '../util/clock.js';
import { createBucketDownloads } from './bucket-download.js';
import { createSyncFeeder } from './feeder.js';
import { createOriginalsTier } from './originals-tier.js';
import { createSyncExecutor } from './sync-executor.js';
import { syncJobOf, type SyncJobRow } from './sync-job.js';
import { createSyncJobHandlers } from './sync-jobs.js';

const MiB = 1024 * 1024;

export interface S3SyncTuning {
  /** How often the outbox and the queue are looked at when nothing woke them. */
  pollMs: number;
  /** First wait before asking an unreachable bucket again; doubles up to `probeMaxMs`. */
  probeMinMs: number;
  probeMaxMs: number;
  /** Ceiling of the exponential backoff after a failed attempt of one operation. */
  retryMaxMs: number;
  /**
   * An attempt running longer is stopped and retried (a connection that hangs without failing);
   * a multipart upload continues from its last stored part, so a long upload loses nothing.
   */
  timeoutMs: number;
  /** Object operations at once. */
  concurrency: number;
  /** Parts of one multipart upload in flight at once. */
  partConcurrency: number;
  /** Part size (and the size up to which a file goes in a single PUT). */
  partSize: number;
  /** Buffers of `partSize` the whole sync may hold: its memory bound. */
  bufferSlots: number;
}

/**
 * 8 MiB parts, 4 in flight per upload, at most 8 buffers in all: 64 MiB of memory however large
 * the files or long the backlog, and a 1 GB original in 128 parts.
 */
export const DEFAULT_S3_TUNING: S3SyncTuning = {
  pollMs: 500,
  probeMinMs: 1_000,
  probeMaxMs: 30_000,
  retryMaxMs: 5 * 60_000,
  timeoutMs: 60 * 60_000,
  concurrency: 4,
  partConcurrency: 4,
  partSize: 8 * MiB,
  bufferSlots: 8,
};

/**
 * Opens the bucket named by the config and checks it answers with these credentials. Throws an
 * Error whose message is the one line start-up prints when it cannot be used.
 */
export async function connectS3Bucket(config: Config): Promise<S3Bucket> {
  const bucket = createS3Bucket({
    bucket: config.s3Bucket!,
    prefix: config.s3Prefix,
    endpoint: config.s3Endpoint,
    region: config.s3Region,
    forcePathStyle: config.s3ForcePathStyle,
  });
  try {
    await bucket.check(AbortSignal.timeout(15_000));
    return bucket;
  } catch (err) {
    bucket.destroy();
    throw new Error(startupFailure(err, bucket.where));
  }
}

/**
 * Headless S3 sync: everything Darkroom stores is replicated to the bucket through jobs of the
 * `sync` queue (run by the job engine, paused while the bucket is unreachable), deletes and
 * purges follow, and with `--local-originals-max-bytes` the local disk becomes a cache of
 * originals in front of the bucket. See docs/s3-sync.md.
 */
export function createS3Sync(deps: {
  bucket: S3Bucket;
  database: Pick<DatabasePort, 'repos' | 'unitOfWork'>;
  images: ImagesRepo;
  store: LocalPrimaryStore;
  clock: Clock;
  logger: Logger;
  config: Config;
  tuning?: Partial<S3SyncTuning>;
}) {
  const { bucket, images, store, clock, config } = deps;
  const logger = deps.logger.child({ part: 's3-sync' });
  const tuning = { ...DEFAULT_S3_TUNING, ...deps.tuning };
  const unitOfWork = <T>(work: (repos: Repositories) => Promise<T>) => deps.database.unitOfWork((repos) => work(repos));
  // Outside a unit of work: the reads of the status, the metrics and the jobs.
  const sync = deps.database.repos.sync;
  const buffers = createBufferPool({ slots: tuning.bufferSlots, slabSize: tuning.partSize });
  // The bucket as a blob store of the same keys: what replication writes to and the tier reads from.
  const replica = createS3BlobStore(bucket, { stagingDir: path.join(config.dataDir, 'tmp'), partSize: tuning.partSize });
  const tier = createOriginalsTier({ sync, unitOfWork, store, replica, clock, logger, maxLocalBytes: config.localOriginalsMaxBytes });
  /** Eviction nobody waits for (after a feed, a synced original, at start): a failure is logged and retried at the next. */
  const evictInBackground = () =>
    void tier.evict().catch((err: unknown) => logger.error({ err }, 'evicting originals kept in the bucket failed'));
  const feeder = createSyncFeeder({ store, clock, unitOfWork, sync, maxAttempts: config.jobMaxAttempts });
  const executor = createSyncExecutor({
    sync,
    images,
    store,
    replica,
    buffers,
    clock,
    logger,
    minPartSize: tuning.partSize,
    partConcurrency: tuning.partConcurrency,
  });
  const outage = createOutagePause({
    probe: (signal) => bucket.check(signal),
    describe: describeS3Error,
    timing: tuning,
    logger,
    messages: { down: 'S3 bucket unreachable; uploads go on and the sync backlog waits', up: 'S3 bucket reachable again; syncing the backlog' },
  });
  const operations = createSyncJobHandlers({
    execute: executor.run,
    clock,
    logger,
    onOriginalSynced: evictInBackground,
    onUploadDropped: (job: SyncJobRow, uploadId: string) => void bucket.abortMultipart(job.key, uploadId),
  });
  /** Wakes the engine: set by main once it runs. */
  let kickEngine = () => {};
  const downloads = createBucketDownloads({ replica, sync });
  const target = JSON.stringify({ endpoint: config.s3Endpoint ?? null, bucket: bucket.target.bucket, prefix: bucket.target.prefix });
  let lifecycle: { state: 'pending' | 'applied' | 'unsupported'; detail?: string } = { state: 'pending' };
  let feedTimer: NodeJS.Timeout | undefined;
  let stopped = false;

  let feeding = false;
  /** Asked to feed while a feed was under way: it may have read its batch before the new events. */
  let feedAgain = false;
  async function feedAndKick(): Promise<void> {
    if (stopped) return;
    if (feeding) {
      feedAgain = true;
      return;
    }
    feeding = true;
    feedAgain = false;
    let more = false;
    try {
      const fed = await feeder.feed();
      if (fed.events) {
        // New originals take room; finished processing lets others go.
        evictInBackground();
        kickEngine();
        more = fed.more;
      }
    } catch (err) {
      logger.error({ err }, 'feeding the sync queue failed');
    } finally {
      feeding = false;
    }
    // The rest after other work had its turn.
    if (more || feedAgain) setImmediate(() => void feedAndKick());
  }

  async function applyLifecycle() {
    const outcome = await applyLifecycleRules(bucket, config.processedTtl, AbortSignal.timeout(30_000));
    if (outcome.applied) {
      lifecycle = { state: 'applied' };
      logger.info({ rules: outcome.rules.length }, 'S3 lifecycle rule for processed files set');
    } else {
      lifecycle = { state: 'unsupported', detail: outcome.reason };
      // Once per start: the purge deletes expired processed objects either way.
      logger.warn({ reason: outcome.reason }, 'no S3 lifecycle rule for processed files; the purge alone removes expired ones from the bucket');
    }
  }

  return {
    /** The `sync` queue of the job engine: its handlers and how it runs. */
    jobs: {
      handlers: operations.handlers,
      queue: {
        concurrency: tuning.concurrency,
        timeoutMs: tuning.timeoutMs,
        lanes: true,
        pollMs: tuning.pollMs,
        maxBackoffMs: tuning.retryMaxMs,
        // Unfinished syncs are cheap to abandon (a multipart upload resumes at its next part).
        stopGraceMs: 1_000,
        outage,
      } satisfies QueueSetup,
    },
    /** For processing: originals, brought back from the bucket when evicted. */
    originals: tier.source,
    /** For downloads: local reads count as use; evicted originals stream from the bucket. */
    downloads: { touch: tier.touch, sendFromBucket: downloads },

    /**
     * Before listening: a first start with this bucket and prefix (or a change of them) queues
     * everything stored for upload. Refuses to switch away while some originals exist only in
     * the old bucket.
     */
    async prepare(): Promise<void> {
      // One unit of work: the check and the reset see the same state.
      await unitOfWork(async ({ sync }) => {
        const previous = (await sync.state()).target;
        if (previous === target) return;
        if (previous !== null) {
          const evicted = await sync.evicted();
          if (evicted.originals > 0) {
            const old = JSON.parse(previous) as { bucket: string; prefix: string };
            throw new Error(
              `${evicted.originals} originals are kept only in S3 bucket "${old.bucket}" (prefix "${old.prefix}"); start with that bucket and prefix again`,
            );
          }
          logger.warn({ from: JSON.parse(previous), to: JSON.parse(target) }, 'S3 bucket or prefix changed: syncing everything again');
        }
        await sync.startFresh(target, clock.now(), config.jobMaxAttempts);
      });
    },

    /** Once the job engine runs: `kick` wakes it when operations were queued. */
    start(kick: () => void) {
      kickEngine = kick;
      void feedAndKick();
      evictInBackground();
      feedTimer = setInterval(() => void feedAndKick(), tuning.pollMs);
      feedTimer.unref();
      void applyLifecycle();
    },

    /**
     * New events in the outbox: queue their object operations soon rather than at the next poll.
     * Scheduled, not run here: the caller is an upload or a job settling, which must not wait
     * for the feeding (and the evicting it may cause).
     */
    kick: () => void setImmediate(() => void feedAndKick()),

    async retryFailed(): Promise<number> {
      const n = await sync.retryFailed(clock.now());
      kickEngine();
      return n;
    },

    /** GET /v1/sync (its schema: server/api/sync.ts) */
    async status(): Promise<SyncStatus> {
      const state = await sync.state();
      const backlog = await sync.backlog();
      const down = outage.state();
      const evicted = await sync.evicted();
      const unfedEvents = await sync.unfedEvents();
      const failedJobs = await sync.failedCount();
      const failedRecent = (await sync.failedRecent(20)).map(syncJobOf);
      return {
        enabled: true,
        bucket: bucket.target.bucket,
        prefix: bucket.target.prefix,
        endpoint: bucket.target.endpoint ?? null,
        region: bucket.target.region,
        url: bucket.url,
        reachable: !down,
        outage: down ? { since: isoOrNull(down.since), lastError: down.lastError, nextProbeAt: isoOrNull(down.nextProbeAt) } : null,
        backlog: { jobs: backlog.jobs, bytes: backlog.bytes, oldestQueuedAt: isoOrNull(backlog.oldest), unreadEvents: unfedEvents },
        inFlight: operations.inFlight().map((f) => ({
          op: f.job.op,
          key: bucket.fullKey(f.job.key),
          bytes: f.job.bytes,
          bytesDone: f.bytesDone,
          resumedBytes: f.resumedBytes,
          attempt: f.job.attempts,
          startedAt: isoOrNull(f.startedAt),
        })),
        failed: {
          jobs: failedJobs,
          recent: failedRecent.map((j) => ({
            id: j.id,
            op: j.op,
            key: bucket.fullKey(j.key),
            attempts: j.attempts,
            lastError: j.last_error,
            failedAt: isoOrNull(j.failed_at),
          })),
        },
        synced: { objects: state.synced_objects, bytes: state.synced_bytes, deletedObjects: state.deleted_objects },
        localOriginals: {
          bytes: state.local_bytes,
          maxBytes: config.localOriginalsMaxBytes ?? null,
          evicted: evicted.originals,
          evictedBytes: evicted.bytes,
          evictedSinceStart: state.evicted_originals,
        },
        lifecycle,
      };
    },

    /** Prometheus gauges, read from the database when scraped. */
    registerMetrics(registry: client.Registry) {
      const gauge = (name: string, help: string, read: () => number | Promise<number>) =>
        new client.Gauge({
          name,
          help,
          registers: [registry],
          async collect() {
            this.set(await read());
          },
        });
      gauge('darkroom_sync_backlog_jobs', 'Object operations waiting for the S3 bucket', async () => (await sync.backlog()).jobs);
      gauge('darkroom_sync_backlog_bytes', 'Bytes waiting to be uploaded to the S3 bucket', async () => (await sync.backlog()).bytes);
      gauge('darkroom_sync_in_flight', 'Object operations running now', () => operations.inFlight().length);
      gauge('darkroom_sync_failed_jobs', 'Object operations given up (GET /v1/sync lists them)', () => sync.failedCount());
      gauge('darkroom_sync_bucket_up', '1 while the S3 bucket answers, 0 during an outage', () => (outage.isDown() ? 0 : 1));
      gauge('darkroom_sync_synced_bytes', 'Bytes uploaded and verified since sync was enabled', async () => (await sync.state()).synced_bytes);
      gauge('darkroom_sync_synced_objects', 'Objects uploaded and verified since sync was enabled', async () => (await sync.state()).synced_objects);
      gauge('darkroom_sync_deleted_objects', 'Objects deleted from the bucket since sync was enabled', async () => (await sync.state()).deleted_objects);
      gauge('darkroom_local_originals_bytes', 'Bytes of originals on local disk', async () => (await sync.state()).local_bytes);
      gauge('darkroom_evicted_originals', 'Originals kept only in the bucket', async () => (await sync.evicted()).originals);
    },

    /** After the job engine stopped (its running operations were given back). */
    stop() {
      stopped = true;
      clearInterval(feedTimer);
      outage.stop();
      bucket.destroy();
    },
  };
}

export type S3Sync = ReturnType<typeof createS3Sync>;
