import type { Logger } from 'pino';
import type { JobRow } from '../db/jobs.repo.js';
import type { SyncRepo } from '../db/sync.repo.js';
import { kindsOf, type SyncJobKind } from '../jobs/kinds.js';
import { JobError, type JobContext, type JobHandler } from '../jobs/runner.js';
import { describeS3Error, mightBeBucketWide } from '../storage/s3/errors.js';
import { LocalIntegrityError, UploadGoneError } from '../storage/s3/multipart-upload.js';
import type { Clock } from '../util/clock.js';
import type { SyncContext, SyncOutcome } from './sync-executor.js';
import { syncJobOf, type SyncJobRow } from './sync-job.js';

export interface SyncInFlight {
  job: SyncJobRow;
  startedAt: number;
  bytesDone: number;
  resumedBytes: number;
}

/**
 * The S3 sync's object operations as handlers of the job engine (one kind per operation, queue
 * `sync`): the engine claims, leases, retries and pauses them during a bucket outage; this
 * carries one out (sync-executor.ts), keeps its progress for the status, and tells the engine
 * what a failure means:
 *
 * - the local file changed under the upload (`LocalIntegrityError`): fails at once, retrying
 *   will not make it better;
 * - the multipart upload can no longer be continued (`UploadGoneError`): it is dropped and the
 *   next attempt, at once, starts over;
 * - a failure that could be the bucket's as a whole (network, 5xx, credentials): the engine's
 *   outage pause asks the bucket, and if it is down the attempt does not count;
 * - anything else: an attempt, retried with backoff.
 *
 * An operation failed for good drops its multipart upload: a retry asked for later starts anew.
 */
export function createSyncJobHandlers(deps: {
  execute: (ctx: SyncContext) => Promise<SyncOutcome>;
  clock: Clock;
  logger: Logger;
  /** A verified original in the bucket may be the one that can leave the disk. */
  onOriginalSynced: () => void;
  /** A multipart upload of a job is given up (failed for good, or starting over): abort it, best effort. */
  onUploadDropped: (job: SyncJobRow, uploadId: string) => void;
}) {
  const { logger } = deps;
  const inFlight = new Map<number, SyncInFlight>();

  /** In the unit of work of `sync`: the upload is forgotten with the job's state, then aborted. */
  async function dropUpload(job: SyncJobRow, sync: SyncRepo) {
    const uploadId = await sync.uploadOf(job.id);
    if (!uploadId) return;
    await sync.setUpload(job.id, null, null);
    deps.onUploadDropped(job, uploadId);
  }

  const handler: JobHandler = {
    async run(ctx) {
      const job = syncJobOf(ctx.job);
      const entry: SyncInFlight = { job, startedAt: deps.clock.now(), bytesDone: 0, resumedBytes: 0 };
      inFlight.set(job.id, entry);
      try {
        const outcome = await deps.execute({
          job,
          signal: ctx.signal,
          progress: (bytesDone, resumedBytes) => {
            entry.bytesDone = bytesDone;
            if (resumedBytes !== undefined) entry.resumedBytes = resumedBytes;
          },
          whileOwned: ctx.whileOwned,
        });
        if (!(await ctx.complete(outcome.apply))) return;
        if (outcome.skipped) logger.debug({ key: job.key, op: job.op, why: outcome.skipped }, 'sync: nothing to send');
        else logger.debug({ key: job.key, op: job.op, bytes: job.bytes }, 'synced');
        if (outcome.originalSynced) deps.onOriginalSynced();
      } catch (err) {
        throw await meaning(err, job, ctx.whileOwned);
      } finally {
        inFlight.delete(job.id);
      }
    },
    async giveUp(row: JobRow, error: JobError, repos) {
      const job = syncJobOf(row);
      await dropUpload(job, repos.sync);
      logger.error({ syncJob: job.id, op: job.op, key: job.key, attempt: job.attempts, err: error.message }, 'sync failed for good; POST /v1/sync/retry tries again');
    },
  };

  async function meaning(err: unknown, job: SyncJobRow, whileOwned: JobContext['whileOwned']): Promise<JobError> {
    if (err instanceof JobError) return err;
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof LocalIntegrityError) return new JobError(message, 'sync_failed', false);
    if (err instanceof UploadGoneError) {
      // Dropped now, under the lease, so that the next attempt starts a new upload.
      await whileOwned((repos) => dropUpload(job, repos.sync));
      logger.warn({ syncJob: job.id, key: job.key, err: message }, 'sync: multipart upload cannot be continued, starting it over');
      return new JobError(message, 'sync_failed', true, { retryInMs: 0 });
    }
    return new JobError(describeS3Error(err), 'sync_failed', true, { mayBeOutage: mightBeBucketWide(err) });
  }

  return {
    handlers: Object.fromEntries(kindsOf('sync').map((kind) => [kind, handler])) as Record<SyncJobKind, JobHandler>,
    inFlight: (): SyncInFlight[] => [...inFlight.values()],
  };
}
