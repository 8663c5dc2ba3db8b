import type { Db } from './sqlite/connection.js';
import { QUEUE_OF, type EventType, type ImageJobKind, type JobKind, type JobQueue } from '../jobs/kinds.js';

export type JobStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export interface JobRow {
  id: number;
  kind: JobKind;
  /** Which slots it takes (jobs/kinds.ts). */
  queue: JobQueue;
  /** The image, its customer, generation and the event that started the job: image jobs only. */
  image_id: string | null;
  /** The image's customer: image jobs are claimed round-robin across customers. */
  customer: string | null;
  generation: number | null;
  event_id: number | null;
  /** Jobs of one lane run one at a time, in the order they were queued (migration 008). */
  lane: string | null;
  /** What else the kind needs, as JSON. */
  payload: string;
  status: JobStatus;
  attempts: number;
  max_attempts: number;
  /** How often the server stopped while this job ran (migration 006). */
  interruptions: number;
  run_at: number;
  lease_until: number | null;
  lease_token: string | null;
  last_error: string | null;
  created_at: number;
  finished_at: number | null;
}

/** A job of the `image` queue: it belongs to an image, its customer and generation. */
export interface ImageJobRow extends JobRow {
  kind: ImageJobKind;
  image_id: string;
  customer: string;
  generation: number;
  event_id: number;
}

/** A job that does not belong to an image: its queue, lane and payload say what it is about. */
export interface NewJob {
  kind: Exclude<JobKind, ImageJobKind>;
  lane?: string | null;
  payload?: object;
  maxAttempts: number;
}

export interface OutboxRow {
  id: number;
  type: EventType;
  image_id: string | null;
  payload: string;
  created_at: number;
  dispatched_at: number | null;
}

export function createJobsRepo(db: Db) {
  const appendEvent = db.prepare<[string, string | null, string, number]>(
    `INSERT INTO outbox (type, image_id, payload, created_at) VALUES (?, ?, ?, ?)`,
  );
  const pendingEvents = db.prepare<[number], OutboxRow>(
    `SELECT * FROM outbox WHERE dispatched_at IS NULL ORDER BY id LIMIT ?`,
  );
  const markDispatched = db.prepare<[number, number]>(`UPDATE outbox SET dispatched_at = ? WHERE id = ?`);
  // INSERT … SELECT: an event for an image deleted meanwhile starts nothing, and neither does
  // one for a generation a later reprocess has superseded (null: any generation). OR IGNORE
  // makes dispatching the same event twice (crash between insert and mark) harmless.
  const insertJob = db.prepare<[string, number, number, number, number, string, number | null]>(
    `INSERT OR IGNORE INTO jobs (kind, queue, image_id, customer, generation, event_id, status, max_attempts, run_at, created_at)
     SELECT ?, 'image', id, customer, generation, ?, 'queued', ?, ?, ? FROM images WHERE id = ? AND generation = coalesce(?, generation)`,
  );
  const insertOther = db.prepare<[string, string, string | null, string, number, number, number]>(
    `INSERT INTO jobs (kind, queue, lane, payload, status, max_attempts, run_at, created_at) VALUES (?, ?, ?, ?, 'queued', ?, ?, ?)`,
  );
  const lastInLane = db.prepare<[string], Pick<JobRow, 'kind' | 'payload' | 'status'>>(
    `SELECT kind, payload, status FROM jobs WHERE lane = ? ORDER BY id DESC LIMIT 1`,
  );
  // The other queues: oldest due job first. In a queue with lanes, a job waits while an earlier
  // job of its lane is queued or running, so work on one object (one file) keeps its order.
  // Each claim is one UPDATE of the row a subquery picks: on PostgreSQL the subquery takes
  // `FOR UPDATE SKIP LOCKED`, and two claimers never take one job. (Prepared before the image
  // queue's claim, whose plan test/unit/fair-queue.test.ts pins as the last such statement.)
  const claimInQueue = db.prepare<{ queue: string; now: number; leaseUntil: number; token: string }, JobRow>(
    `UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_until = @leaseUntil, lease_token = @token
     WHERE id = (
       SELECT j.id FROM jobs j
       WHERE j.queue = @queue AND j.status = 'queued' AND j.run_at <= @now
       ORDER BY j.run_at, j.id LIMIT 1)
     RETURNING *`,
  );
  const claimInLanes = db.prepare<{ queue: string; now: number; leaseUntil: number; token: string }, JobRow>(
    `UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_until = @leaseUntil, lease_token = @token
     WHERE id = (
       SELECT j.id FROM jobs j
       WHERE j.queue = @queue AND j.status = 'queued' AND j.run_at <= @now
         AND NOT EXISTS (
           SELECT 1 FROM jobs e
           WHERE e.lane = j.lane AND e.id <> j.id AND (e.status = 'running' OR (e.status = 'queued' AND e.id < j.id)))
       ORDER BY j.run_at, j.id LIMIT 1)
     RETURNING *`,
  );
  // Round-robin across customers: the least recently served customer with a job that is due
  // gets its oldest due job. Customers are walked in `job_queues_next` order and each costs one
  // probe of `jobs_queued_by_customer`, however many jobs wait (migration 005 explains the
  // bookkeeping; the unit tests pin the query plan).
  const claim = db.prepare<{ now: number; leaseUntil: number; token: string }, ImageJobRow>(
    `UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_until = @leaseUntil, lease_token = @token
     WHERE id = (
       SELECT j.id FROM job_queues q
       JOIN jobs j ON j.id = (
         SELECT due.id FROM jobs due
         WHERE due.status = 'queued' AND due.customer = q.customer AND due.run_at <= @now
         ORDER BY due.run_at, due.id LIMIT 1)
       WHERE q.waiting > 0
       ORDER BY q.served_seq, q.customer
       LIMIT 1)
     RETURNING *`,
  );
  const owned = db.prepare<[number, string], JobRow>(
    `SELECT * FROM jobs WHERE id = ? AND status = 'running' AND lease_token = ?`,
  );
  const finish = db.prepare<[JobStatus, number, string | null, number, string]>(
    `UPDATE jobs SET status = ?, finished_at = ?, last_error = ?, lease_until = NULL, lease_token = NULL
     WHERE id = ? AND status = 'running' AND lease_token = ?`,
  );
  // A job that does not belong to an image leaves the table when done: nothing would ever
  // remove it (an image's jobs go with their image), and its effects are recorded elsewhere.
  const removeDone = db.prepare<[number, string]>(
    `DELETE FROM jobs WHERE id = ? AND status = 'running' AND lease_token = ? AND image_id IS NULL`,
  );
  const retry = db.prepare<[number, string, number, number, string]>(
    `UPDATE jobs SET status = 'queued', run_at = ?, last_error = ?, attempts = attempts - ?, lease_until = NULL, lease_token = NULL
     WHERE id = ? AND status = 'running' AND lease_token = ?`,
  );
  // Back to the queue with its attempt counted: the process running it died (found at start).
  const requeueInterrupted = db.prepare<[number, string, number, string | null]>(
    `UPDATE jobs SET status = 'queued', run_at = ?, last_error = ?, interruptions = interruptions + 1,
            lease_until = NULL, lease_token = NULL
     WHERE id = ? AND status = 'running' AND lease_token IS ?`,
  );
  // Back to the queue as if never claimed: stopped by a clean shutdown, through no fault of its own.
  const giveBack = db.prepare<[number, string]>(
    `UPDATE jobs SET status = 'queued', attempts = max(0, attempts - 1), lease_until = NULL, lease_token = NULL
     WHERE id = ? AND status = 'running' AND lease_token = ?`,
  );
  const running = db.prepare<[], JobRow>(`SELECT * FROM jobs WHERE status = 'running' ORDER BY id`);
  const expired = db.prepare<[number, string], JobRow>(
    `SELECT * FROM jobs WHERE status = 'running' AND lease_until < ?
       AND id NOT IN (SELECT value FROM json_each(?)) ORDER BY id`,
  );
  const failFound = db.prepare<[number, string, number, number, string | null]>(
    `UPDATE jobs SET status = 'failed', finished_at = ?, last_error = ?, interruptions = interruptions + ?,
            lease_until = NULL, lease_token = NULL
     WHERE id = ? AND status = 'running' AND lease_token IS ?`,
  );
  const generationJobs = db.prepare<[string], { kind: ImageJobKind; status: JobStatus; last_error: string | null }>(
    `SELECT j.kind, j.status, j.last_error FROM jobs j JOIN images i ON i.id = j.image_id
     WHERE j.image_id = ? AND j.generation = i.generation`,
  );
  // Superseded processing of an image: queued jobs never run, a running one loses its lease
  // (its results can no longer commit) and is stopped by the runner.
  const cancelKind = db.prepare<[number, string, string, number], { id: number }>(
    `UPDATE jobs SET status = 'cancelled', finished_at = ?, lease_until = NULL, lease_token = NULL
     WHERE image_id = ? AND kind = ? AND status IN ('queued', 'running') AND generation < ?
     RETURNING id`,
  );
  const unfinishedOf = db.prepare<[string], { id: number }>(
    `SELECT id FROM jobs WHERE image_id = ? AND status IN ('queued', 'running')`,
  );
  // Kept by triggers (migration 005): one row per customer, never a scan of the jobs.
  const countQueued = db.prepare<[], { n: number }>(`SELECT coalesce(sum(waiting), 0) AS n FROM job_queues WHERE waiting > 0`);
  const countRunning = db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM jobs WHERE status = 'running' AND queue = 'image'`);
  const nextRunAt = db.prepare<[string], { run_at: number | null }>(
    `SELECT min(run_at) AS run_at FROM jobs WHERE status = 'queued' AND queue = ?`,
  );

  return {
    appendEvent(type: EventType, imageId: string | null, payload: object, at: number): number {
      return Number(appendEvent.run(type, imageId, JSON.stringify(payload), at).lastInsertRowid);
    },
    pendingEvents: (limit: number) => pendingEvents.all(limit),
    markDispatched: (id: number, at: number) => void markDispatched.run(at, id),
    /** Queues a job for the image's current generation, or for `generation` only if it is still current. */
    insertJob(kind: ImageJobKind, imageId: string, eventId: number, maxAttempts: number, at: number, generation: number | null = null) {
      insertJob.run(kind, eventId, maxAttempts, at, at, imageId, generation);
    },
    /**
     * Queues a job that does not belong to an image. With a lane, a job identical to the one
     * already waiting last in that lane is not queued twice (a file reported again, a hundred
     * uploads of the same bytes): returns false then.
     */
    enqueue(job: NewJob, at: number): boolean {
      const payload = JSON.stringify(job.payload ?? {});
      if (job.lane) {
        const last = lastInLane.get(job.lane);
        if (last && last.status === 'queued' && last.kind === job.kind && last.payload === payload) return false;
      }
      insertOther.run(job.kind, QUEUE_OF[job.kind], job.lane ?? null, payload, job.maxAttempts, at, at);
      return true;
    },
    /** Takes the next due image job, round-robin across customers, or undefined. */
    claim: (now: number, leaseUntil: number, token: string) => claim.get({ now, leaseUntil, token }),
    /** Takes the next due job of another queue, oldest first (`lanes`: respecting the order of its lane). */
    claimInQueue: (queue: Exclude<JobQueue, 'image'>, lanes: boolean, now: number, leaseUntil: number, token: string) =>
      (lanes ? claimInLanes : claimInQueue).get({ queue, now, leaseUntil, token }),
    isOwned: (id: number, token: string) => owned.get(id, token) !== undefined,
    /** Ends a job this runner holds; a done job of no image leaves the table (removeDone). */
    finish: (job: Pick<JobRow, 'id' | 'image_id'>, token: string, status: 'done' | 'failed', at: number, error: string | null = null) =>
      status === 'done' && job.image_id === null ? removeDone.run(job.id, token).changes > 0 : finish.run(status, at, error, job.id, token).changes > 0,
    /** Back in the queue at `runAt`; `countAttempt: false` when the attempt was no fault of the job's (a service outage, "not yet"). */
    retry: (id: number, token: string, runAt: number, error: string, countAttempt = true) =>
      retry.run(runAt, error, countAttempt ? 0 : 1, id, token).changes > 0,
    /**
     * Jobs left `running`. At start-up the previous process is gone (the data-dir lock says so):
     * these were running when it died.
     */
    running: () => running.all(),
    /** Queues a job the previous process died running, counting the interruption; due at `runAt`. */
    requeueInterrupted: (job: Pick<JobRow, 'id' | 'lease_token'>, runAt: number, error: string) =>
      requeueInterrupted.run(runAt, error, job.id, job.lease_token).changes > 0,
    /**
     * Jobs whose lease ran out without being finished or given back, except those still running
     * here (`runningHere`: in this single-process design, the runner's own): their runner could
     * not write the outcome (the database was busy, say).
     */
    expiredLeases: (now: number, runningHere: Iterable<number>) => expired.all(now, JSON.stringify([...runningHere])),
    /**
     * Fails a job found running without a runner, under the lease token it was found with;
     * `interrupted`: the server stopped during it (counted like requeueInterrupted).
     */
    failFound: (job: Pick<JobRow, 'id' | 'lease_token'>, at: number, error: string, interrupted: boolean) =>
      failFound.run(at, error, interrupted ? 1 : 0, job.id, job.lease_token).changes > 0,
    /** Puts a job stopped by a clean shutdown back in the queue, its attempt not counted. */
    giveBack: (id: number, token: string) => giveBack.run(id, token).changes > 0,
    jobsOfCurrentGeneration: (imageId: string) => generationJobs.all(imageId),
    /** Cancels the image's unfinished `kind` jobs older than `generation`; the ids of those cancelled. */
    cancelOlder: (imageId: string, kind: ImageJobKind, generation: number, at: number) =>
      cancelKind.all(at, imageId, kind, generation).map((r) => r.id),
    /** Ids of the image's jobs still queued or running. */
    unfinishedOf: (imageId: string) => unfinishedOf.all(imageId).map((r) => r.id),
    countQueued: () => countQueued.get()!.n,
    countRunning: () => countRunning.get()!.n,
    /** When the next queued job of `queue` is due (due or not: a backoff). */
    nextRunAt: (queue: JobQueue = 'image') => nextRunAt.get(queue)?.run_at ?? null,
  };
}

export type JobsRepo = ReturnType<typeof createJobsRepo>;
