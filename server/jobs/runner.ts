import crypto from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { JobRow, JobsRepo } from '../db/jobs.repo.js';
import type { Clock } from '../util/clock.js';
import { JOB_KINDS, type JobKind } from './kinds.js';
import { TERMINATE_AFTER_MS } from './pool.js';

/** A failure a handler reports; `retryable: false` ends the job at once (a corrupt image). */
export class JobError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

/** Why a running job is stopped: its image was reprocessed or deleted (the row is already changed). */
export const jobCancelled = () => new JobError('the job was superseded or its image deleted', 'cancelled', false);

/** Why a running job is stopped at shutdown: it is given back to the queue, not failed (stop()). */
const shuttingDown = () => new JobError('the server is shutting down', 'shutting_down', true);

export type JobOutcome = 'done' | 'retry' | 'failed' | 'cancelled';

export interface JobContext {
  job: JobRow;
  /** Aborts when the job times out, is cancelled, or the runner stops; its reason is a JobError. */
  signal: AbortSignal;
  /**
   * When the job's time is up, as epoch ms: workers stop their own work by then. The time left is
   * kept on the monotonic clock and turned into a wall-clock time at each read, so a jump of the
   * wall clock (a laptop waking up, NTP) neither ends nor extends the job: read it when handing
   * it on, as the worker keeps it on its own monotonic clock from then (workers/stopper.ts).
   */
  readonly deadline: number;
  /**
   * Commits the job's results: runs `apply` in one transaction with marking the job done, but
   * only while this runner still holds the job's lease. Returns false (and applies nothing)
   * when the job was taken away meanwhile (image deleted, lease lost).
   */
  complete(apply: () => void): boolean;
}

export interface JobHandler {
  run(ctx: JobContext): Promise<void>;
  /** In the same transaction that marks the job failed for good. */
  giveUp(job: JobRow, error: JobError): void;
}

export interface RunnerOptions {
  repo: JobsRepo;
  transaction: <T>(fn: () => T) => T;
  handlers: Record<JobKind, JobHandler>;
  clock: Clock;
  concurrency: number;
  jobTimeoutMs: number;
  logger: Logger;
  onJobSettled?: (job: JobRow, outcome: JobOutcome, seconds: number) => void;
}

const BASE_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 5 * 60_000;
const IDLE_POLL_MS = 1_000;
const DATABASE_RETRY_MS = 5_000;
/**
 * A lease outlasts everything a running job may still do: its time limit, the pool's wait for a
 * stopped task before terminating its thread, and a margin for flushing and committing. Only a
 * job this runner lost track of (its outcome could not be written) is ever released by its
 * lease running out; jobs running here are never taken from under it.
 */
const LEASE_MARGIN_MS = 60_000;

/** Exponential backoff with full jitter, so retries of a batch do not stampede together. */
export function backoffMs(attempt: number, random = Math.random): number {
  const ceiling = Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/**
 * Pulls due jobs from SQLite and runs up to `concurrency` at once (one per pool thread). A job
 * is leased when claimed; results commit only under that lease, so a job can never complete
 * twice. After a crash, the jobs that were running are run again, each interruption counted as
 * an attempt; a clean shutdown gives its running jobs back without counting.
 */
export function createJobRunner(options: RunnerOptions) {
  const { repo, clock, logger } = options;
  for (const kind of JOB_KINDS) {
    if (!options.handlers[kind]) throw new Error(`no handler registered for job kind "${kind}"`);
  }

  /** Keyed by lease token: one entry per run, so two runs of one job could never share one. */
  const inFlight = new Map<string, { job: JobRow; controller: AbortController; done: Promise<void> }>();
  /** `claimed` as each job starts, `settled` as it ends: for observers (metrics, tests). */
  const events = new EventEmitter<{ claimed: [JobRow]; settled: [JobRow, JobOutcome] }>();
  events.setMaxListeners(0);
  const leaseMs = options.jobTimeoutMs + TERMINATE_AFTER_MS + LEASE_MARGIN_MS;
  let timer: NodeJS.Timeout | undefined;
  let scheduled = false;
  let stopped = true;

  function tick() {
    scheduled = false;
    if (stopped) return;
    try {
      recoverLapsed();
      while (inFlight.size < options.concurrency) {
        const token = crypto.randomUUID();
        const now = clock.now();
        const job = repo.claim(now, now + leaseMs, token);
        if (!job) break;
        start(job, token);
      }
      schedulePoll();
    } catch (err) {
      // The database is busy (another process holds its lock) or failing: nothing was claimed.
      // Try again after a pause rather than let the error end the process.
      logger.warn({ err }, 'could not claim jobs; trying again shortly');
      pollIn(DATABASE_RETRY_MS);
    }
  }

  /**
   * Jobs whose lease ran out without an outcome, not running here: their runner could not
   * write how the attempt ended. The attempt counts; past the last one the job fails for good.
   */
  function recoverLapsed() {
    const lapsed = repo.expiredLeases(clock.now(), [...inFlight.values()].map((f) => f.job.id));
    if (!lapsed.length) return;
    logger.warn({ lapsed: lapsed.map((j) => j.id) }, 'jobs whose lease ran out without an outcome are queued again');
    for (const job of lapsed) {
      if (job.attempts >= job.max_attempts) {
        giveUpFound(job, new JobError('the outcome of this job\'s last attempt could not be recorded', 'processing_failed', false), false);
      } else if (job.lease_token) {
        repo.retry(job.id, job.lease_token, clock.now() + backoffMs(job.attempts), 'the outcome of this attempt could not be recorded');
      }
    }
  }

  /**
   * At start: the jobs the previous process was running when it died (out of memory, a crash,
   * kill -9, a power cut). Each interruption counts as an attempt, so a job that brings the
   * server down is tried `max_attempts` times, then fails for good, instead of taking the server
   * down at every start. One that is left is due after the backoff a failed attempt gets, so
   * the other customers' jobs run between two tries of one that may crash again.
   */
  function recoverInterrupted() {
    const interrupted = repo.running();
    for (const job of interrupted) {
      const times = job.interruptions + 1;
      const message = `the server stopped during this job ${times === 1 ? 'once' : `${times} times`}`;
      if (job.attempts >= job.max_attempts) giveUpFound(job, new JobError(message, 'processing_failed', false), true);
      else repo.requeueInterrupted(job, clock.now() + backoffMs(job.attempts), message);
    }
    if (interrupted.length) logger.warn({ jobs: interrupted.map((j) => ({ id: j.id, kind: j.kind, attempts: j.attempts })) }, 'jobs interrupted by the previous stop are queued again or, out of attempts, failed');
  }

  /** Fails a job found `running` without a runner (see above), as its last failed attempt would. */
  function giveUpFound(job: JobRow, error: JobError, interrupted: boolean) {
    try {
      const failed = options.transaction(() => {
        if (!repo.failFound(job, clock.now(), error.message, interrupted)) return false;
        options.handlers[job.kind].giveUp(job, error);
        return true;
      });
      if (failed) {
        logger.warn({ jobId: job.id, kind: job.kind, imageId: job.image_id, attempts: job.attempts, err: error.message }, 'job failed for good');
        settle(job, 'failed', performance.now());
      }
    } catch (err) {
      // Left running: its lease runs out and the next look tries again.
      logger.error({ err, jobId: job.id }, 'could not fail a job out of attempts; trying again later');
    }
  }

  function schedulePoll() {
    // Every slot busy: the next job to finish kicks the runner; polling now would only spin.
    if (stopped || inFlight.size >= options.concurrency) return clearTimeout(timer);
    const next = repo.nextRunAt();
    pollIn(next === null ? IDLE_POLL_MS : Math.min(IDLE_POLL_MS, Math.max(0, next - clock.now())));
  }

  function pollIn(ms: number) {
    clearTimeout(timer);
    if (stopped) return;
    timer = setTimeout(kick, ms);
    timer.unref();
  }

  function kick() {
    if (scheduled || stopped) return;
    scheduled = true;
    setImmediate(tick);
  }

  function start(job: JobRow, token: string) {
    const controller = new AbortController();
    // Measured on the monotonic clock, like the timer below: a jump of the wall clock moves neither.
    const endsAt = performance.now() + options.jobTimeoutMs;
    const timeout = setTimeout(
      () => controller.abort(new JobError(`the job ran longer than its time limit (${options.jobTimeoutMs} ms)`, 'processing_timeout', true)),
      options.jobTimeoutMs,
    );
    const started = performance.now();
    let completed = false;
    const ctx: JobContext = {
      job,
      signal: controller.signal,
      get deadline() {
        return Date.now() + Math.max(0, endsAt - performance.now());
      },
      // Nothing commits once the job was stopped: a timed-out job is retried, a cancelled one
      // was superseded.
      complete: (apply) =>
        !controller.signal.aborted &&
        (completed = options.transaction(() => {
          if (!repo.finish(job.id, token, 'done', clock.now())) return false;
          apply();
          return true;
        })),
    };
    // A stopped job ends for the reason it was stopped, whatever the handler then threw.
    const stoppedOr = (err: unknown) => toJobError(controller.signal.aborted && !completed ? controller.signal.reason : err);
    events.emit('claimed', job);
    const done = options.handlers[job.kind]
      .run(ctx)
      .then(
        () => (controller.signal.aborted && !completed ? fail(job, token, stoppedOr(undefined), started) : settle(job, 'done', started)),
        (err: unknown) => fail(job, token, stoppedOr(err), started),
      )
      .catch((err: unknown) => logger.error({ err, jobId: job.id }, 'job bookkeeping failed'))
      .finally(() => {
        clearTimeout(timeout);
        inFlight.delete(token);
        kick();
      });
    inFlight.set(token, { job, controller, done });
  }

  function fail(job: JobRow, token: string, error: JobError, started: number) {
    if (error.code === 'shutting_down') return; // stop() gave it back
    // Its row was cancelled by whoever cancelled it; nothing is left to record.
    if (error.code === 'cancelled') return settle(job, 'cancelled', started);
    const log = { jobId: job.id, kind: job.kind, imageId: job.image_id, attempt: job.attempts, code: error.code };
    if (error.retryable && job.attempts < job.max_attempts) {
      const delay = backoffMs(job.attempts);
      if (repo.retry(job.id, token, clock.now() + delay, error.message)) {
        logger.warn({ ...log, err: error.message, retryInMs: delay }, 'job failed, will retry');
        settle(job, 'retry', started);
      }
      return;
    }
    const failed = options.transaction(() => {
      if (!repo.finish(job.id, token, 'failed', clock.now(), error.message)) return false;
      options.handlers[job.kind].giveUp(job, error);
      return true;
    });
    if (failed) {
      logger.warn({ ...log, err: error.message }, 'job failed for good');
      settle(job, 'failed', started);
    }
  }

  function settle(job: JobRow, outcome: JobOutcome, started: number) {
    options.onJobSettled?.(job, outcome, (performance.now() - started) / 1000);
    events.emit('settled', job, outcome);
  }

  return {
    start() {
      recoverInterrupted();
      stopped = false;
      kick();
    },
    /** Wake up now: new work was just committed. */
    kick,
    events,
    inFlight: () => inFlight.size,
    /**
     * Stops these jobs if they run here: their rows were cancelled (reprocess, delete), so
     * their results could not commit anyway; this frees their workers.
     */
    cancel(jobIds: number[]) {
      const ids = new Set(jobIds);
      for (const { job, controller } of inFlight.values()) if (ids.has(job.id)) controller.abort(jobCancelled());
    },
    /**
     * Stops claiming, waits for running jobs up to `graceMs`, then stops the rest and puts them
     * back in the queue with their attempt not counted: a clean shutdown is no fault of theirs.
     * (A job whose stop could not be written runs again at the next start, counted as
     * interrupted.)
     */
    async stop(graceMs: number) {
      stopped = true;
      clearTimeout(timer);
      const all = Promise.all([...inFlight.values()].map((f) => f.done));
      const grace = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
      await Promise.race([all, grace]);
      for (const [token, { job, controller }] of inFlight) {
        // Aborted first: from here on its result cannot commit (complete() checks the signal).
        controller.abort(shuttingDown());
        try {
          repo.giveBack(job.id, token);
        } catch (err) {
          logger.warn({ err, jobId: job.id }, 'could not put a job stopped by the shutdown back in the queue; the next start will');
        }
      }
      await Promise.race([all, new Promise<void>((resolve) => setTimeout(resolve, 500).unref())]);
    },
  };
}

function toJobError(err: unknown): JobError {
  if (err instanceof JobError) return err;
  if (err === undefined) return new JobError('the job was stopped', 'processing_failed', true);
  const message = err instanceof Error ? err.message : String(err);
  return new JobError(message, 'processing_failed', true);
}

export type JobRunner = ReturnType<typeof createJobRunner>;
