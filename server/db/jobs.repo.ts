import type { Db } from './connection.js';
import type { EventType, JobKind } from '../jobs/kinds.js';

export type JobStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export interface JobRow {
  id: number;
  kind: JobKind;
  image_id: string;
  /** The image's customer: jobs are claimed round-robin across customers. */
  customer: string;
  generation: number;
  event_id: number;
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
    `INSERT OR IGNORE INTO jobs (kind, image_id, customer, generation, event_id, status, max_attempts, run_at, created_at)
     SELECT ?, id, customer, generation, ?, 'queued', ?, ?, ? FROM images WHERE id = ? AND generation = coalesce(?, generation)`,
  );
  // Round-robin across customers: the least recently served customer with a job that is due
  // gets its oldest due job. Customers are walked in `job_queues_next` order and each costs one
  // probe of `jobs_queued_by_customer`, however many jobs wait (migration 005 explains the
  // bookkeeping; the unit tests pin the query plan).
  const claim = db.prepare<{ now: number; leaseUntil: number; token: string }, JobRow>(
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
  const retry = db.prepare<[number, string, number, string]>(
    `UPDATE jobs SET status = 'queued', run_at = ?, last_error = ?, lease_until = NULL, lease_token = NULL
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
  const generationJobs = db.prepare<[string], { kind: JobKind; status: JobStatus; last_error: string | null }>(
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
  const countRunning = db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM jobs WHERE status = 'running'`);
  const nextRunAt = db.prepare<[], { run_at: number | null }>(
    `SELECT min(run_at) AS run_at FROM jobs WHERE status = 'queued'`,
  );

  return {
    appendEvent(type: EventType, imageId: string | null, payload: object, at: number): number {
      return Number(appendEvent.run(type, imageId, JSON.stringify(payload), at).lastInsertRowid);
    },
    pendingEvents: (limit: number) => pendingEvents.all(limit),
    markDispatched: (id: number, at: number) => void markDispatched.run(at, id),
    /** Queues a job for the image's current generation, or for `generation` only if it is still current. */
    insertJob(kind: JobKind, imageId: string, eventId: number, maxAttempts: number, at: number, generation: number | null = null) {
      insertJob.run(kind, eventId, maxAttempts, at, at, imageId, generation);
    },
    /** Takes the next due job, round-robin across customers, or undefined. */
    claim: (now: number, leaseUntil: number, token: string) => claim.get({ now, leaseUntil, token }),
    isOwned: (id: number, token: string) => owned.get(id, token) !== undefined,
    finish: (id: number, token: string, status: 'done' | 'failed', at: number, error: string | null = null) =>
      finish.run(status, at, error, id, token).changes > 0,
    retry: (id: number, token: string, runAt: number, error: string) => retry.run(runAt, error, id, token).changes > 0,
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
    cancelOlder: (imageId: string, kind: JobKind, generation: number, at: number) =>
      cancelKind.all(at, imageId, kind, generation).map((r) => r.id),
    /** Ids of the image's jobs still queued or running. */
    unfinishedOf: (imageId: string) => unfinishedOf.all(imageId).map((r) => r.id),
    countQueued: () => countQueued.get()!.n,
    countRunning: () => countRunning.get()!.n,
    nextRunAt: () => nextRunAt.get()?.run_at ?? null,
  };
}

export type JobsRepo = ReturnType<typeof createJobsRepo>;
