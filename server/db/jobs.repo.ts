import type { Db } from './connection.js';
import type { EventType, JobKind } from '../jobs/kinds.js';

export type JobStatus = 'queued' | 'running' | 'done' | 'failed';

export interface JobRow {
  id: number;
  kind: JobKind;
  image_id: string;
  generation: number;
  event_id: number;
  status: JobStatus;
  attempts: number;
  max_attempts: number;
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
  // INSERT … SELECT: an event for an image deleted meanwhile starts nothing. OR IGNORE makes
  // dispatching the same event twice (crash between insert and mark) harmless.
  const insertJob = db.prepare<[string, number, number, number, number, string]>(
    `INSERT OR IGNORE INTO jobs (kind, image_id, generation, event_id, status, max_attempts, run_at, created_at)
     SELECT ?, id, generation, ?, 'queued', ?, ?, ? FROM images WHERE id = ?`,
  );
  const claim = db.prepare<[number, string, number], JobRow>(
    `UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_until = ?, lease_token = ?
     WHERE id = (SELECT id FROM jobs WHERE status = 'queued' AND run_at <= ? ORDER BY run_at, id LIMIT 1)
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
  const releaseAll = db.prepare(
    `UPDATE jobs SET status = 'queued', lease_until = NULL, lease_token = NULL WHERE status = 'running'`,
  );
  const generationJobs = db.prepare<[string], { kind: JobKind; status: JobStatus; last_error: string | null }>(
    `SELECT j.kind, j.status, j.last_error FROM jobs j JOIN images i ON i.id = j.image_id
     WHERE j.image_id = ? AND j.generation = i.generation`,
  );
  const countQueued = db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM jobs WHERE status = 'queued'`);
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
    insertJob(kind: JobKind, imageId: string, eventId: number, maxAttempts: number, at: number) {
      insertJob.run(kind, eventId, maxAttempts, at, at, imageId);
    },
    /** Takes the next job that is due, or undefined. */
    claim: (now: number, leaseUntil: number, token: string) => claim.get(leaseUntil, token, now),
    isOwned: (id: number, token: string) => owned.get(id, token) !== undefined,
    finish: (id: number, token: string, status: 'done' | 'failed', at: number, error: string | null = null) =>
      finish.run(status, at, error, id, token).changes > 0,
    retry: (id: number, token: string, runAt: number, error: string) => retry.run(runAt, error, id, token).changes > 0,
    /** At start-up the previous process is gone: whatever it was running is due again. */
    releaseAll: () => releaseAll.run().changes,
    jobsOfCurrentGeneration: (imageId: string) => generationJobs.all(imageId),
    countQueued: () => countQueued.get()!.n,
    countRunning: () => countRunning.get()!.n,
    nextRunAt: () => nextRunAt.get()?.run_at ?? null,
  };
}

export type JobsRepo = ReturnType<typeof createJobsRepo>;
