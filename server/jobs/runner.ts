import crypto from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { AppError } from '../errors.js';
import type { ImageJobRow, JobRow, JobsRepo } from '../db/jobs.repo.js';
import type { Repositories } from '../db/repositories.js';
import type { Clock } from '../util/clock.js';
import { JOB_QUEUES, kindsOf, QUEUE_OF, type ImageJobKind, type JobKind, type JobQueue } from './kinds.js';
import type { OutagePause } from './outage.js';

export interface RetryHow {
  /** When to try again; the queue's backoff by default. */
  retryInMs?: number;
  /** False: the attempt was no fault of the job's ("not yet"), and is given back. */
  countAttempt?: boolean;
  /** The failure could be the outside service's as a whole: the queue's outage pause checks. */
  mayBeOutage?: boolean;
}

/** A failure a handler reports; `retryable: false` ends the job at once (a corrupt image). */
export class JobError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly retryable: boolean,
    readonly how: RetryHow = {},
  ) {
    super(message);
  }

  /** Not now, through no fault of the job's (a file still being written): again in `ms`, the attempt not counted. */
  static later(ms: number, why: string) {
    return new JobError(why, 'not_yet', true, { retryInMs: ms, countAttempt: false });
  }
}

/** Why a running job is stopped: its image was reprocessed or deleted (the row is already changed). */
export const jobCancelled = () => new JobError('the job was superseded or its image deleted', 'cancelled', false);

/**
 * Why a running job is stopped when its lease was not renewed: another node took it over (this
 * node stalled past its lease), or its row was cancelled by another node. Its row is not this
 * node's to write any more; nothing is recorded.
 */
const leaseLost = () => new JobError('the job\'s lease was not renewed: another node has it, or it was cancelled', 'lease_lost', false);

/** Why a running job is stopped at shutdown: it is given back to the queue, not failed (stop()). */
const shuttingDown = () => new JobError('the server is shutting down', 'shutting_down', true);

/**
 * `deferred`: given back untried because the service it needs is down (the outage pause);
 * `lost`: stopped because its lease was not renewed (another node has it now).
 */
export type JobOutcome = 'done' | 'retry' | 'deferred' | 'failed' | 'cancelled' | 'lost';

export interface JobContext<J extends JobRow = JobRow> {
  job: J;
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
   * Commits the job's results: runs `apply` in one unit of work with marking the job done, with
   * that unit of work's repositories, but only while this runner still holds the job's lease.
   * Resolves to false (and applies nothing) when the job was taken away meanwhile (image
   * deleted, lease lost, the job stopped).
   */
  complete(apply: (repos: Repositories) => unknown): Promise<boolean>;
  /** Runs `fn` in a unit of work only while this attempt still holds the job (progress a later attempt resumes from); false when it lost it. */
  whileOwned(fn: (repos: Repositories) => unknown): Promise<boolean>;
}

export interface JobHandler<J extends JobRow = JobRow> {
  run(ctx: JobContext<J>): Promise<void>;
  /** In the same unit of work that marks the job failed for good, with its repositories; awaited when it returns a promise. */
  giveUp(job: J, error: JobError, repos: Repositories): unknown;
}

/** Image jobs always belong to an image (migration 008's CHECK); the other kinds read their payload. */
export type JobHandlers = { [K in JobKind]: JobHandler<K extends ImageJobKind ? ImageJobRow : JobRow> };

/** How one queue runs (jobs/kinds.ts lists the queues and their kinds). */
export interface QueueSetup {
  /** Jobs of this queue running at once. */
  concurrency: number;
  /** A job running longer is stopped, and retried with backoff. */
  timeoutMs: number;
  /** Jobs of one lane run one at a time, in order (the claim waits for the lane). */
  lanes?: boolean;
  /** How often to look for due jobs when nothing woke the engine; 1 s by default. */
  pollMs?: number;
  /** Ceiling of the backoff after a failed attempt. */
  maxBackoffMs?: number;
  /** At shutdown, how long its running jobs may finish before they are stopped and given back. */
  stopGraceMs?: number;
  /** False: claim nothing of this queue now (looked at again at the next poll). */
  hasRoom?: () => boolean | Promise<boolean>;
  /**
   * Asked before each claim: false leaves the slot to someone else for now (the worker pool's
   * threads shared with renders, jobs/work-slots.ts, which kicks the engine when one frees).
   */
  mayClaim?: () => boolean;
  /** The queue needs an outside service: nothing is claimed while it is down. */
  outage?: OutagePause;
  /** A claim of the queue's own (a fairer pick than oldest first); `claimInQueue` otherwise. */
  claim?: (now: number, leaseUntil: number, token: string, node: string | undefined) => Promise<JobRow | undefined>;
}

export interface RunnerOptions {
  repo: JobsRepo;
  /** The database port's unit of work (db/port.ts): a job's outcome commits in one. */
  unitOfWork: <T>(work: (repos: Repositories) => Promise<T>) => Promise<T>;
  /**
   * The queues that run in this configuration (the S3 sync only with a bucket); the jobs of a
   * queue left out wait in the table untouched.
   */
  queues: Partial<Record<JobQueue, QueueSetup>>;
  /** A handler for every kind of every queue that runs: start-up fails otherwise. */
  handlers: Partial<JobHandlers>;
  clock: Clock;
  logger: Logger;
  onJobSettled?: (job: JobRow, outcome: JobOutcome, seconds: number) => void;
  /** This node's id (--node-id): the jobs it claims carry it, and it renews their leases under it. */
  nodeId?: string;
  /**
   * True where no other node can share the database (SQLite: the data-dir lock): at start,
   * every job left running is the previous process's, and is taken back at once. False in a
   * cluster: at start a node takes back only the jobs of its own node id; the others' jobs are
   * taken over when their leases lapse.
   */
  soleNode?: boolean;
  /** How long a lease lasts and how often the running node renews it (30 s and 10 s by default). */
  lease?: { ms: number; renewEveryMs: number };
  /**
   * How often an idle queue looks for due jobs when nothing woke it (1 s by default). Where
   * every commit of new jobs reaches every node as a signal, this is only a safety net, and can
   * be long.
   */
  idlePollMs?: number;
}

const BASE_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 5 * 60_000;
const IDLE_POLL_MS = 1_000;
/** How often lapsed leases are looked for (at the next tick after this much time). */
const LAPSE_CHECK_MS = 1_000;
/** After the grace a shutdown gives them, how long stopped jobs get to give their thread back. */
const STOPPED_WAIT_MS = 1_000;
const DATABASE_RETRY_MS = 5_000;
/**
 * A lease is short and renewed while its job runs (every RENEW_EVERY_MS, all of the node's jobs
 * in one statement), whatever the job's time limit: when a node dies, its jobs' leases lapse
 * within LEASE_MS and any node takes them over, well within the 60 s CONTRACT §9 allows. Two
 * renewals may fail (a busy database) before the lease is at risk. A node never takes a job
 * running on itself from under it, whatever its lease says (expiredLeases leaves them out).
 */
const LEASE_MS = 30_000;
const RENEW_EVERY_MS = 10_000;

/** Exponential backoff with full jitter, so retries of a batch do not stampede together. */
export function backoffMs(attempt: number, random = Math.random, maxMs = MAX_BACKOFF_MS): number {
  const ceiling = Math.min(maxMs, BASE_BACKOFF_MS * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/**
 * The one job engine. Each queue (jobs/kinds.ts) runs up to its own `concurrency` jobs at once,
 * so no queue starves another: image jobs one per pool thread, claimed round-robin across
 * customers; S3 sync operations and watch-folder ingests in the order of their lanes; the purge.
 * A job is leased when claimed; results commit only under that lease, so a job can never
 * complete twice. Failed attempts are retried with exponential backoff up to the job's
 * `max_attempts`; a job running past its queue's time limit is stopped and retried. A queue
 * whose service is unreachable (its outage pause) claims nothing until the service answers, and
 * the attempts that ran into the outage do not count. After a crash, the jobs that were running
 * are run again, each interruption counted as an attempt; a clean shutdown gives its running
 * jobs back without counting.
 */
export function createJobRunner(options: RunnerOptions) {
  const { repo, clock, logger } = options;
  const nodeId = options.nodeId ?? 'local';
  const soleNode = options.soleNode ?? true;
  const leaseMs = options.lease?.ms ?? LEASE_MS;
  const renewEveryMs = options.lease?.renewEveryMs ?? RENEW_EVERY_MS;
  const idlePollMs = options.idlePollMs ?? IDLE_POLL_MS;
  const queues = JOB_QUEUES.flatMap((name) => {
    const setup = options.queues[name];
    return setup ? [{ name, ...setup }] : [];
  });
  type Queue = (typeof queues)[number];
  const queueOf = new Map<JobQueue, Queue>(queues.map((q) => [q.name, q]));
  for (const q of queues) {
    for (const kind of kindsOf(q.name)) {
      if (!options.handlers[kind]) throw new Error(`no handler registered for job kind "${kind}"`);
    }
  }
  const handlerOf = (job: JobRow) => options.handlers[job.kind] as JobHandler;
  /** Jobs of queues that do not run here (the S3 sync without a bucket) are left alone. */
  const runsHere = (job: JobRow) => queueOf.has(QUEUE_OF[job.kind]);

  /** Keyed by lease token: one entry per run, so two runs of one job could never share one. */
  const inFlight = new Map<string, { job: JobRow; queue: Queue; controller: AbortController; done: Promise<void> }>();
  /** Tokens of claims on their way: their rows are this node's before their runs start. */
  const claiming = new Set<string>();
  let renewTimer: NodeJS.Timeout | undefined;
  let renewing = false;
  /** `claimed` as each job starts, `settled` as it ends: for observers (metrics, tests). */
  const events = new EventEmitter<{ claimed: [JobRow]; settled: [JobRow, JobOutcome] }>();
  events.setMaxListeners(0);
  let timer: NodeJS.Timeout | undefined;
  let scheduled = false;
  /** A tick awaits the database: one at a time, and a kick during one runs another after it. */
  let ticking = false;
  /** The tick running now, for stop() to wait for: a claim on its way must be given back first. */
  let currentTick: Promise<void> | undefined;
  let kickedWhileTicking = false;
  let stopped = true;
  let nextLapseCheck = 0;

  const runningIn = (q: Queue) => {
    let n = 0;
    for (const f of inFlight.values()) if (f.queue === q) n++;
    return n;
  };

  async function tick() {
    scheduled = false;
    if (stopped) return;
    if (ticking) {
      kickedWhileTicking = true;
      return;
    }
    ticking = true;
    try {
      currentTick = claimDueJobs();
      await currentTick;
    } finally {
      currentTick = undefined;
      ticking = false;
      if (kickedWhileTicking) {
        kickedWhileTicking = false;
        kick();
      }
    }
  }

  async function claimDueJobs() {
    try {
      if (clock.now() >= nextLapseCheck) {
        nextLapseCheck = clock.now() + LAPSE_CHECK_MS;
        await recoverLapsed();
      }
      let wait: number | undefined;
      for (const q of queues) {
        if (stopped) return;
        // Down: its pause kicks the engine when the service answers again.
        if (q.outage?.isDown()) continue;
        // Every slot busy: the next job to finish kicks the engine; polling now would only spin.
        if (runningIn(q) >= q.concurrency) continue;
        const pollMs = q.pollMs ?? idlePollMs;
        if (q.hasRoom && !(await q.hasRoom())) {
          wait = Math.min(wait ?? pollMs, pollMs);
          continue;
        }
        while (runningIn(q) < q.concurrency) {
          if (stopped) return;
          if (q.mayClaim && !q.mayClaim()) break;
          const token = crypto.randomUUID();
          const now = clock.now();
          claiming.add(token);
          let job: JobRow | undefined;
          try {
            job =
              q.name === 'image'
                ? await repo.claim(now, now + leaseMs, token, nodeId)
                : q.claim
                  ? await q.claim(now, now + leaseMs, token, nodeId)
                  : await repo.claimInQueue(q.name, q.lanes ?? false, now, now + leaseMs, token, nodeId);
            if (!job) break;
            // Stopped while the claim was on its way: the job goes back as a shutdown's would.
            if (stopped) {
              await repo.giveBack(job.id, token);
              break;
            }
            start(job, token, q);
          } finally {
            claiming.delete(token);
          }
        }
        if (runningIn(q) >= q.concurrency) continue;
        // A job due but not claimed waits for its lane (whose job kicks when it settles) or for
        // room: only a job due later needs the timer sooner than the poll.
        const next = await repo.nextRunAt(q.name);
        const now = clock.now();
        const due = next === null || next <= now ? pollMs : Math.min(pollMs, next - now);
        wait = Math.min(wait ?? due, due);
      }
      if (wait === undefined) clearTimeout(timer);
      else pollIn(wait);
    } catch (err) {
      // The database is busy (another process holds its lock) or failing: nothing was claimed.
      // Try again after a pause rather than let the error end the process.
      logger.warn({ err }, 'could not claim jobs; trying again shortly');
      pollIn(DATABASE_RETRY_MS);
    }
  }

  /**
   * Jobs whose lease ran out, not running here. Another node's: that node died or stalled (it
   * stopped renewing), and the job is taken over as after a crash, its interruption counted.
   * This node's: it could not write how the attempt ended. Either way the attempt counts; past
   * the last one the job fails for good.
   */
  async function recoverLapsed() {
    const lapsed = (await repo.expiredLeases(clock.now(), [...inFlight.values()].map((f) => f.job.id))).filter(runsHere);
    if (!lapsed.length) return;
    const ofOthers = lapsed.filter((job) => job.lease_node !== null && job.lease_node !== nodeId);
    const ours = lapsed.filter((job) => !ofOthers.includes(job));
    if (ofOthers.length) {
      logger.warn({ jobs: ofOthers.map((j) => ({ id: j.id, node: j.lease_node })) }, 'jobs of nodes that stopped renewing their leases are taken over');
      for (const job of ofOthers) {
        const message = `the node running this job (${job.lease_node}) stopped renewing its lease`;
        if (job.attempts >= job.max_attempts) await giveUpFound(job, new JobError(message, 'processing_failed', false), true);
        else await repo.requeueInterrupted(job, clock.now() + backoffFor(job), message);
      }
    }
    if (ours.length) {
      logger.warn({ lapsed: ours.map((j) => j.id) }, 'jobs whose lease ran out without an outcome are queued again');
      for (const job of ours) await recoverUnrecorded(job);
    }
  }

  /** A job of this node's, running in the table but not here: its outcome could not be written. */
  async function recoverUnrecorded(job: JobRow) {
    if (job.attempts >= job.max_attempts) {
      void giveUpFound(job, new JobError('the outcome of this job\'s last attempt could not be recorded', 'processing_failed', false), false);
    } else if (job.lease_token) {
      await repo.retry(job.id, job.lease_token, clock.now() + backoffFor(job), 'the outcome of this attempt could not be recorded');
    }
  }

  /**
   * Renews the leases of every job this node holds, in one statement, while any runs here. A job
   * running here whose lease was not renewed is not this node's any more (another node took it
   * over while this one stalled, or cancelled it): it is stopped, and records nothing. A job
   * renewed but not running here is one whose outcome could not be written: queued again.
   */
  async function renewLeases() {
    if (renewing || (inFlight.size === 0 && claiming.size === 0)) return;
    renewing = true;
    // Only the runs that had begun before the renewal can be judged by its answer.
    const before = new Set(inFlight.keys());
    try {
      const renewed = await repo.renewLeases(nodeId, clock.now() + leaseMs);
      const held = new Set(renewed.map((job) => job.lease_token));
      for (const token of before) {
        const run = inFlight.get(token);
        if (run && !held.has(token)) {
          logger.warn({ jobId: run.job.id, kind: run.job.kind }, 'a job running here lost its lease; it is stopped');
          run.controller.abort(leaseLost());
        }
      }
      for (const job of renewed) {
        if (job.lease_token && !inFlight.has(job.lease_token) && !claiming.has(job.lease_token) && runsHere(job)) await recoverUnrecorded(job);
      }
    } catch (err) {
      // Tried again at the next renewal, well before the lease lapses.
      logger.warn({ err }, 'could not renew the leases of the jobs running here; trying again shortly');
    } finally {
      renewing = false;
    }
  }

  /**
   * At start: the jobs the previous process was running when it died (out of memory, a crash,
   * kill -9, a power cut). Each interruption counts as an attempt, so a job that brings the
   * server down is tried `max_attempts` times, then fails for good, instead of taking the server
   * down at every start. One that is left is due after the backoff a failed attempt gets, so
   * the other customers' jobs run between two tries of one that may crash again.
   */
  async function recoverInterrupted() {
    const interrupted = (await repo.running(soleNode ? undefined : nodeId)).filter(runsHere);
    for (const job of interrupted) {
      const times = job.interruptions + 1;
      const message = `the server stopped during this job ${times === 1 ? 'once' : `${times} times`}`;
      if (job.attempts >= job.max_attempts) await giveUpFound(job, new JobError(message, 'processing_failed', false), true);
      else await repo.requeueInterrupted(job, clock.now() + backoffFor(job), message);
    }
    if (interrupted.length) logger.warn({ jobs: interrupted.map((j) => ({ id: j.id, kind: j.kind, attempts: j.attempts })) }, 'jobs interrupted by the previous stop are queued again or, out of attempts, failed');
  }

  function backoffFor(job: JobRow) {
    return backoffMs(job.attempts, Math.random, queueOf.get(QUEUE_OF[job.kind])?.maxBackoffMs);
  }

  /** Fails a job found `running` without a runner (see above), as its last failed attempt would. */
  async function giveUpFound(job: JobRow, error: JobError, interrupted: boolean) {
    try {
      const failed = await options.unitOfWork(async (repos) => {
        if (!(await repos.jobs.failFound(job, clock.now(), error.message, interrupted))) return false;
        await handlerOf(job).giveUp(job, error, repos);
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

  function pollIn(ms: number) {
    clearTimeout(timer);
    if (stopped) return;
    timer = setTimeout(kick, Math.max(0, ms));
    timer.unref();
  }

  function kick() {
    if (scheduled || stopped) return;
    scheduled = true;
    setImmediate(() => void tick());
  }

  function start(job: JobRow, token: string, q: Queue) {
    const controller = new AbortController();
    // Measured on the monotonic clock, like the timer below: a jump of the wall clock moves neither.
    const endsAt = performance.now() + q.timeoutMs;
    const timeout = setTimeout(
      () => controller.abort(new JobError(`the job ran longer than its time limit (${q.timeoutMs} ms)`, 'processing_timeout', true)),
      q.timeoutMs,
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
      complete: async (apply) => {
        if (controller.signal.aborted) return false;
        completed = await options.unitOfWork(async (repos) => {
          // Checked again inside: the job may have been stopped while the unit of work waited its turn.
          if (controller.signal.aborted || !(await repos.jobs.finish(job, token, 'done', clock.now()))) return false;
          await apply(repos);
          return true;
        });
        return completed;
      },
      whileOwned: (fn) =>
        options.unitOfWork(async (repos) => {
          if (!(await repos.jobs.isOwned(job.id, token))) return false;
          await fn(repos);
          return true;
        }),
    };
    // A stopped job ends for the reason it was stopped, whatever the handler then threw.
    const stoppedOr = (err: unknown) => toJobError(controller.signal.aborted && !completed ? controller.signal.reason : err);
    events.emit('claimed', job);
    const done = handlerOf(job)
      .run(ctx)
      .then(
        () => (controller.signal.aborted && !completed ? fail(job, token, stoppedOr(undefined), started, q) : settle(job, 'done', started)),
        (err: unknown) => fail(job, token, stoppedOr(err), started, q),
      )
      .catch(async (err: unknown) => {
        logger.error({ err, jobId: job.id }, 'job bookkeeping failed; the job is queued again once the database takes it');
        await requeueWhenWritable(job, token);
      })
      .finally(() => {
        clearTimeout(timeout);
        inFlight.delete(token);
        kick();
      });
    inFlight.set(token, { job, queue: q, controller, done });
  }

  async function fail(job: JobRow, token: string, error: JobError, started: number, q: Queue) {
    if (error.code === 'shutting_down') return; // stop() gave it back
    // Its row was cancelled by whoever cancelled it; nothing is left to record.
    if (error.code === 'cancelled') return settle(job, 'cancelled', started);
    // Another node has it now (or cancelled it): its row is not this node's to write.
    if (error.code === 'lease_lost') return settle(job, 'lost', started);
    const log = { jobId: job.id, kind: job.kind, imageId: job.image_id ?? undefined, attempt: job.attempts, code: error.code };
    // The service may be down rather than this job failing: then the attempt does not count,
    // and the queue waits for the service (its pause claims nothing meanwhile).
    if (error.retryable && error.how.mayBeOutage && q.outage && (await q.outage.confirm())) {
      if (await repo.retry(job.id, token, clock.now(), error.message, false)) settle(job, 'deferred', started);
      return;
    }
    const counted = error.how.countAttempt !== false;
    if (error.retryable && (!counted || job.attempts < job.max_attempts)) {
      const delay = error.how.retryInMs ?? backoffFor(job);
      if (await repo.retry(job.id, token, clock.now() + delay, error.message, counted)) {
        if (counted) logger.warn({ ...log, err: error.message, retryInMs: delay }, 'job failed, will retry');
        settle(job, 'retry', started);
      }
      return;
    }
    const failed = await options.unitOfWork(async (repos) => {
      if (!(await repos.jobs.finish(job, token, 'failed', clock.now(), error.message))) return false;
      await handlerOf(job).giveUp(job, error, repos);
      return true;
    });
    if (failed) {
      logger.warn({ ...log, err: error.message }, 'job failed for good');
      settle(job, 'failed', started);
    }
  }

  /**
   * The outcome of a run could not be written (the database is down: a PostgreSQL server
   * restarting, a network cut). Rather than leave the job to its lease's recovery (a renewal
   * that finds it not running here, or its lapse), it is put back in the queue, its attempt not
   * counted, as soon as the database answers again; it keeps its slot meanwhile (nothing else
   * could run either) and so its lease stays renewed. Past one lease's length, or once the
   * runner stops, the lease's recovery takes over as before (its token check makes a late
   * second requeue do nothing).
   */
  async function requeueWhenWritable(job: JobRow, token: string) {
    const leaseEnds = clock.now() + leaseMs;
    while (!stopped && clock.now() < leaseEnds) {
      await new Promise((resolve) => setTimeout(resolve, DATABASE_RETRY_MS).unref());
      if (stopped || clock.now() >= leaseEnds) return;
      try {
        await repo.retry(job.id, token, clock.now(), 'the outcome of this attempt could not be recorded (the database was unavailable)', false);
        return;
      } catch {
        // Still down: the next try is in a few seconds.
      }
    }
  }

  function settle(job: JobRow, outcome: JobOutcome, started: number) {
    options.onJobSettled?.(job, outcome, (performance.now() - started) / 1000);
    events.emit('settled', job, outcome);
  }

  /** Stops a running job and puts it back in the queue, its attempt not counted. */
  async function giveBack(token: string) {
    const entry = inFlight.get(token);
    if (!entry) return;
    // Aborted first: from here on its result cannot commit (complete() checks the signal).
    entry.controller.abort(shuttingDown());
    try {
      await repo.giveBack(entry.job.id, token);
    } catch (err) {
      logger.warn({ err, jobId: entry.job.id }, 'could not put a job stopped by the shutdown back in the queue; the next start will');
    }
  }

  for (const q of queues) q.outage?.onRecovered(kick);

  return {
    /** Resolves once the jobs the previous process left running are dealt with and claiming has begun. */
    async start() {
      await recoverInterrupted();
      stopped = false;
      clearInterval(renewTimer);
      renewTimer = setInterval(() => void renewLeases(), renewEveryMs);
      renewTimer.unref();
      kick();
    },
    /** This node's id, as its claims carry it. */
    nodeId,
    /** Wake up now: new work was just committed. */
    kick,
    events,
    /** Jobs running now, of one queue or of all. */
    inFlight: (queue?: JobQueue) => (queue ? [...inFlight.values()].filter((f) => f.queue.name === queue).length : inFlight.size),
    /**
     * Stops these jobs if they run here: their rows were cancelled (reprocess, delete), so
     * their results could not commit anyway; this frees their workers.
     */
    cancel(jobIds: number[]) {
      const ids = new Set(jobIds);
      for (const { job, controller } of inFlight.values()) if (ids.has(job.id)) controller.abort(jobCancelled());
    },
    /**
     * Stops claiming, waits for running jobs up to `graceMs` (or their queue's shorter grace:
     * an S3 upload is cheap to abandon, it resumes at its next part), then stops the rest and
     * puts them back in the queue with their attempt not counted: a clean shutdown is no fault
     * of theirs. (A job whose stop could not be written runs again at the next start, counted as
     * interrupted.)
     */
    async stop(graceMs: number) {
      stopped = true;
      clearTimeout(timer);
      // A tick on its way claims nothing more, and gives back what its last claim took.
      await currentTick;
      clearTimeout(timer);
      for (const q of queues) q.outage?.stop();
      const running = [...inFlight.entries()];
      const all = Promise.all(running.map(([, f]) => f.done));
      await Promise.all(
        running.map(([token, f]) => {
          const grace = Math.min(graceMs, f.queue.stopGraceMs ?? graceMs);
          return Promise.race([f.done, new Promise<void>((resolve) => setTimeout(resolve, grace).unref())]).then(() => giveBack(token));
        }),
      );
      await Promise.race([all, new Promise<void>((resolve) => setTimeout(resolve, STOPPED_WAIT_MS).unref())]);
      // Renewed until here: jobs finishing in the grace kept their leases.
      clearInterval(renewTimer);
    },
  };
}

/** How soon a job that found its store unavailable is tried again. */
const UNAVAILABLE_RETRY_MS = 5_000;

function toJobError(err: unknown): JobError {
  if (err instanceof JobError) return err;
  // The store cannot be used now (the bucket of --storage s3 unreachable, the disk refusing
  // writes): not the job's fault. Counted as attempts, an outage of a few seconds would fail
  // for good images accepted just before it; so they wait it out, tried again every few seconds.
  if (err instanceof AppError && err.code === 'unavailable') {
    return new JobError(err.message, 'unavailable', true, { retryInMs: UNAVAILABLE_RETRY_MS, countAttempt: false });
  }
  if (err === undefined) return new JobError('the job was stopped', 'processing_failed', true);
  const message = err instanceof Error ? err.message : String(err);
  return new JobError(message, 'processing_failed', true);
}

export type JobRunner = ReturnType<typeof createJobRunner>;
