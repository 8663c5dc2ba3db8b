import crypto from 'node:crypto';
import type { Logger } from 'pino';
import type { SyncJobRow, SyncRepo } from '../db/sync.repo.js';
import { backoffMs } from '../jobs/runner.js';
import { describeS3Error, mightBeBucketWide } from '../storage/s3-errors.js';
import { LocalIntegrityError, UploadGoneError } from '../storage/s3-upload.js';
import type { Clock } from '../util/clock.js';
import type { SyncContext, SyncOutcome } from './sync-executor.js';

export interface SyncTiming {
  /** How often the queue is looked at when nothing woke the runner. */
  pollMs: number;
  /** First wait before asking an unreachable bucket again; doubles up to `probeMaxMs`. */
  probeMinMs: number;
  probeMaxMs: number;
  /** Ceiling of the exponential backoff after a failed attempt of one job. */
  retryMaxMs: number;
}

export const DEFAULT_SYNC_TIMING: SyncTiming = { pollMs: 500, probeMinMs: 1_000, probeMaxMs: 30_000, retryMaxMs: 5 * 60_000 };

export interface InFlight {
  job: SyncJobRow;
  startedAt: number;
  bytesDone: number;
  resumedBytes: number;
}

/** Outage times are the wall clock's: waiting for a bucket happens in real time, whatever clock the queue's schedule uses. */
export interface Outage {
  since: number;
  lastError: string;
  nextProbeAt: number;
}

/**
 * Runs the sync queue: up to `concurrency` object operations at once, each claimed with a lease
 * token, its result committed only under that token, retried with exponential backoff and given
 * up after `maxAttempts` (then listed as failed, with its last error, until retried).
 *
 * A failure that could be the bucket's rather than the object's (network, 5xx, credentials) is
 * checked with a HEAD of the bucket. If the bucket is down, the attempt does not count: the job
 * goes back to the queue and the runner stops claiming work, asks the bucket again with growing
 * pauses, and resumes when it answers. Uploads and processing never wait for any of this; the
 * backlog just grows, and drains when the bucket is back.
 */
export function createSyncRunner(deps: {
  repo: SyncRepo;
  transaction: <T>(fn: () => T) => T;
  execute: (ctx: SyncContext) => Promise<SyncOutcome>;
  probe: (signal: AbortSignal) => Promise<void>;
  clock: Clock;
  logger: Logger;
  concurrency: number;
  maxAttempts: number;
  timing: SyncTiming;
  onSettled?: (job: SyncJobRow, outcome: SyncOutcome | 'retry' | 'failed' | 'deferred') => void;
  /** A multipart upload of a job is given up (failed for good, or starting over): abort it, best effort. */
  onUploadDropped?: (job: SyncJobRow, uploadId: string) => void;
}) {
  const { repo, clock, logger, timing } = deps;
  const inFlight = new Map<number, InFlight & { controller: AbortController; done: Promise<void> }>();
  let outage: (Outage & { delay: number }) | undefined;
  let probing: Promise<boolean> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let scheduled = false;
  let stopped = true;

  function kick() {
    if (scheduled || stopped) return;
    scheduled = true;
    setImmediate(tick);
  }

  function schedule(waitMs: number) {
    clearTimeout(timer);
    if (stopped) return;
    timer = setTimeout(kick, Math.max(0, waitMs));
    timer.unref();
  }

  function tick() {
    scheduled = false;
    if (stopped) return;
    if (outage) {
      const wait = outage.nextProbeAt - Date.now();
      if (wait > 0) return schedule(Math.min(wait, timing.probeMaxMs));
      void probe().then((up) => {
        if (up) return kick();
        if (!outage) return;
        outage.delay = Math.min(outage.delay * 2, timing.probeMaxMs);
        outage.nextProbeAt = Date.now() + outage.delay;
        schedule(outage.delay);
      });
      return;
    }
    while (inFlight.size < deps.concurrency) {
      const job = repo.claim(clock.now(), crypto.randomUUID());
      if (!job) break;
      start(job);
    }
    // Every slot busy: the next job to settle kicks the runner; a timer now would only poll.
    if (inFlight.size >= deps.concurrency) return clearTimeout(timer);
    // A job already due but not claimed waits for its lane, which kicks when its job settles, so
    // only a job due later needs a timer (and a poll catches anything else).
    const next = repo.nextRunAt();
    const wait = next === null || next <= clock.now() ? timing.pollMs : Math.min(timing.pollMs, next - clock.now());
    schedule(wait);
  }

  /** Asks the bucket whether it answers; one question at a time, shared by whoever asks. */
  function probe(): Promise<boolean> {
    probing ??= deps
      .probe(AbortSignal.timeout(10_000))
      .then(
        () => {
          if (outage) logger.info({ downForMs: Date.now() - outage.since }, 'S3 bucket reachable again; syncing the backlog');
          outage = undefined;
          return true;
        },
        (err: unknown) => {
          if (!outage) {
            outage = { since: Date.now(), lastError: describeS3Error(err), delay: timing.probeMinMs, nextProbeAt: Date.now() + timing.probeMinMs };
            logger.warn({ err: outage.lastError }, 'S3 bucket unreachable; uploads go on and the sync backlog waits');
          } else {
            outage.lastError = describeS3Error(err);
          }
          return false;
        },
      )
      .finally(() => {
        probing = undefined;
      });
    return probing;
  }

  function start(job: SyncJobRow) {
    const token = job.lease_token!;
    const controller = new AbortController();
    const entry = { job, startedAt: clock.now(), bytesDone: 0, resumedBytes: 0, controller, done: Promise.resolve() };
    const ctx: SyncContext = {
      job,
      signal: controller.signal,
      progress: (bytesDone, resumedBytes) => {
        entry.bytesDone = bytesDone;
        if (resumedBytes !== undefined) entry.resumedBytes = resumedBytes;
      },
      whileOwned: (fn) =>
        deps.transaction(() => {
          if (!repo.isOwned(job.id, token)) return false;
          fn();
          return true;
        }),
    };
    entry.done = deps
      .execute(ctx)
      .then(
        (outcome) => {
          const committed = deps.transaction(() => {
            if (!repo.remove(job.id, token)) return false;
            outcome.apply();
            return true;
          });
          if (!committed) return;
          if (outcome.skipped) logger.debug({ key: job.key, op: job.op, why: outcome.skipped }, 'sync: nothing to send');
          else logger.debug({ key: job.key, op: job.op, bytes: job.bytes }, 'synced');
          deps.onSettled?.(job, outcome);
        },
        (err: unknown) => failed(job, token, err),
      )
      .catch((err: unknown) => logger.error({ err, syncJob: job.id }, 'sync bookkeeping failed'))
      .finally(() => {
        inFlight.delete(job.id);
        kick();
      });
    inFlight.set(job.id, entry);
  }

  async function failed(job: SyncJobRow, token: string, err: unknown) {
    // Abandoned at shutdown (whatever the abort looked like from inside): the job stays leased
    // and runs again at the next start, a multipart upload from its last stored part.
    if (stopped) return;
    const message = err instanceof Error ? err.message : String(err);
    const log = { syncJob: job.id, op: job.op, key: job.key, attempt: job.attempts };

    if (err instanceof UploadGoneError && job.attempts < deps.maxAttempts) {
      // The multipart upload cannot be continued: drop it and start over at once.
      const uploadId = repo.uploadOf(job.id);
      deps.transaction(() => repo.isOwned(job.id, token) && repo.setUpload(job.id, null, null));
      if (uploadId) deps.onUploadDropped?.(job, uploadId);
      repo.retry(job.id, token, clock.now(), message, true);
      logger.warn({ ...log, err: message }, 'sync: multipart upload cannot be continued, starting it over');
      return deps.onSettled?.(job, 'retry');
    }
    if (!(err instanceof LocalIntegrityError) && mightBeBucketWide(err) && !(await probe())) {
      repo.retry(job.id, token, clock.now(), describeS3Error(err), false);
      return deps.onSettled?.(job, 'deferred');
    }
    const reason = err instanceof LocalIntegrityError || err instanceof UploadGoneError ? message : describeS3Error(err);
    if (err instanceof LocalIntegrityError || job.attempts >= deps.maxAttempts) {
      if (repo.fail(job.id, token, reason, clock.now())) {
        // A retry asked for later starts a new upload rather than trusting this one.
        const uploadId = repo.uploadOf(job.id);
        if (uploadId) {
          repo.setUpload(job.id, null, null);
          deps.onUploadDropped?.(job, uploadId);
        }
        logger.error({ ...log, err: reason }, 'sync failed for good; POST /v1/sync/retry tries again');
        deps.onSettled?.(job, 'failed');
      }
      return;
    }
    const delay = Math.min(backoffMs(job.attempts), timing.retryMaxMs);
    if (repo.retry(job.id, token, clock.now() + delay, reason, true)) {
      logger.warn({ ...log, err: reason, retryInMs: delay }, 'sync attempt failed, will retry');
      deps.onSettled?.(job, 'retry');
    }
  }

  return {
    start() {
      const released = repo.releaseAll();
      if (released) logger.info({ released }, 'resuming syncs interrupted by the previous shutdown');
      stopped = false;
      kick();
    },
    kick,
    inFlight: (): InFlight[] => [...inFlight.values()].map(({ job, startedAt, bytesDone, resumedBytes }) => ({ job, startedAt, bytesDone, resumedBytes })),
    outage: (): Outage | undefined => (outage ? { since: outage.since, lastError: outage.lastError, nextProbeAt: outage.nextProbeAt } : undefined),
    /**
     * Stops claiming; gives running operations `graceMs` to finish, then aborts them. An aborted
     * multipart upload keeps its finished parts and continues from there at the next start.
     */
    async stop(graceMs: number) {
      stopped = true;
      clearTimeout(timer);
      const all = Promise.all([...inFlight.values()].map((f) => f.done));
      await Promise.race([all, new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref())]);
      for (const { controller } of inFlight.values()) controller.abort(new Error('shutting down'));
      await Promise.race([all, new Promise<void>((resolve) => setTimeout(resolve, 1_000).unref())]);
    },
  };
}

export type SyncRunner = ReturnType<typeof createSyncRunner>;
