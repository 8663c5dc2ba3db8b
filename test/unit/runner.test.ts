import path from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../server/db/connection.js';
import { createImagesRepo } from '../../server/db/images.repo.js';
import { createJobsRepo } from '../../server/db/jobs.repo.js';
import { createJobRunner, JobError, type JobHandler } from '../../server/jobs/runner.js';
import { systemClock } from '../../server/util/clock.js';
import { eventually } from '../helpers/eventually.js';
import { tempDir } from '../helpers/server.js';

/** A real SQLite database with `n` images, each with one queued process_image job. */
function setup(n: number) {
  const db = openDatabase(path.join(tempDir(), 'darkroom.db'));
  const images = createImagesRepo(db);
  const jobs = createJobsRepo(db);
  for (let i = 0; i < n; i++) {
    const id = `00000000-0000-7000-8000-${String(i).padStart(12, '0')}`;
    images.insert({ id, customer: 'c', filename: 'x', bytes: 1, sha256: 'ab'.repeat(32), format: 'png', width: 1, height: 1, pages: 1, source: 'upload', created_at: 0 }, []);
    const event = jobs.appendEvent('image.uploaded', id, {}, 0);
    jobs.insertJob('process_image', id, event, 3, 0);
  }
  return { db, jobs };
}

const noop: JobHandler = { run: async () => {}, giveUp: () => {} };

/** A runner with two slots over the real database, `handler` processing images. */
function runnerFor(db: ReturnType<typeof setup>['db'], jobs: ReturnType<typeof setup>['jobs'], handler: JobHandler, jobTimeoutMs = 60_000) {
  return createJobRunner({
    repo: jobs,
    transaction: (fn) => db.transaction(fn)(),
    handlers: { process_image: handler, extract_metadata: noop },
    clock: systemClock,
    concurrency: 2,
    jobTimeoutMs,
    logger: pino({ level: 'silent' }),
  });
}

describe('job runner', () => {
  it('runs at most `concurrency` jobs at once and does not poll the database while all slots are busy', async () => {
    const { db, jobs } = setup(3);
    let running = 0;
    let most = 0;
    let lookups = 0;
    const claim = jobs.claim;
    const nextRunAt = jobs.nextRunAt;
    jobs.claim = (...args) => {
      lookups++;
      return claim(...args);
    };
    jobs.nextRunAt = () => {
      lookups++;
      return nextRunAt();
    };
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const handler: JobHandler = {
      async run(ctx) {
        running++;
        most = Math.max(most, running);
        await gate;
        running--;
        ctx.complete(() => {});
      },
      giveUp: () => {},
    };
    const runner = runnerFor(db, jobs, handler);
    runner.start();
    await new Promise((r) => setTimeout(r, 300));
    expect(most).toBe(2);
    // Two claims filled the slots; a third job is due, but nothing asks the database for work
    // while both run (a busy loop would make thousands of queries in these 300 ms).
    expect(lookups).toBeLessThanOrEqual(5);
    release();
    await new Promise((r) => setTimeout(r, 200));
    expect(db.prepare(`SELECT count(*) AS n FROM jobs WHERE status = 'done'`).get()).toEqual({ n: 3 });
    await runner.stop(100);
  });

  it('retries a retryable failure with backoff, and gives up on a final one at once', async () => {
    const { db, jobs } = setup(2);
    const given: string[] = [];
    const handler: JobHandler = {
      async run(ctx) {
        throw ctx.job.image_id.endsWith('0') ? new JobError('disk hiccup', 'processing_failed', true) : new JobError('broken', 'corrupt_image', false);
      },
      giveUp: (job, err) => given.push(`${job.image_id.slice(-1)}:${err.code}`),
    };
    const runner = runnerFor(db, jobs, handler);
    runner.start();
    await new Promise((r) => setTimeout(r, 300));
    await runner.stop(100);
    const rows = db.prepare(`SELECT image_id, status, attempts, last_error, run_at FROM jobs ORDER BY image_id`).all() as Array<{ status: string; attempts: number; last_error: string; run_at: number }>;
    expect(rows[0]).toMatchObject({ status: 'queued', attempts: 1, last_error: 'disk hiccup' });
    expect(rows[0]!.run_at).toBeGreaterThan(Date.now() - 1000); // pushed into the future by the backoff
    expect(rows[1]).toMatchObject({ status: 'failed', attempts: 1, last_error: 'broken' });
    expect(given).toEqual(['1:corrupt_image']);
  });

  it('stops a job past its time limit: it commits nothing, is retried, and fails with processing_timeout after its last attempt', async () => {
    const { db, jobs } = setup(1);
    db.prepare(`UPDATE jobs SET max_attempts = 2`).run();
    const given: string[] = [];
    let committed = 0;
    const handler: JobHandler = {
      async run(ctx) {
        // Work that notices the stop only late, like a worker finishing the variant it is on.
        await new Promise((r) => ctx.signal.addEventListener('abort', r, { once: true }));
        expect(ctx.deadline).toBeLessThanOrEqual(Date.now() + 5);
        if (ctx.complete(() => committed++)) throw new Error('committed after the time limit');
      },
      giveUp: (_job, err) => given.push(err.code),
    };
    const outcomes: string[] = [];
    const runner = runnerFor(db, jobs, handler, 50);
    runner.events.on('settled', (_job, outcome) => outcomes.push(outcome));
    runner.start();
    // The retry waits out a backoff of 0.5–1 s.
    await eventually(() => outcomes.length >= 2, 5_000, 'two attempts');
    await runner.stop(100);
    expect(outcomes).toEqual(['retry', 'failed']);
    expect(given).toEqual(['processing_timeout']);
    expect(committed).toBe(0);
    expect(db.prepare(`SELECT status, attempts, last_error FROM jobs`).get()).toMatchObject({ status: 'failed', attempts: 2 });
  });

  it('stops a cancelled job where it runs and leaves its row cancelled', async () => {
    const { db, jobs } = setup(1);
    const handler: JobHandler = {
      async run(ctx) {
        await new Promise((r) => ctx.signal.addEventListener('abort', r, { once: true }));
        throw new Error('the worker stopped');
      },
      giveUp: () => {
        throw new Error('a cancelled job is not given up');
      },
    };
    const runner = runnerFor(db, jobs, handler);
    const settled: string[] = [];
    runner.events.on('settled', (_job, outcome) => settled.push(outcome));
    const claimed: number[] = [];
    runner.events.on('claimed', (job) => claimed.push(job.id));
    runner.start();
    await eventually(() => claimed.length === 1, 5_000, 'the job started');
    const cancelled = jobs.cancelOlder(`00000000-0000-7000-8000-${'0'.repeat(12)}`, 'process_image', 2, Date.now());
    expect(cancelled).toEqual(claimed);
    runner.cancel(cancelled);
    await eventually(() => settled.length === 1, 5_000, 'the job ended');
    expect(settled).toEqual(['cancelled']);
    expect(runner.inFlight()).toBe(0);
    expect(db.prepare(`SELECT status FROM jobs`).get()).toEqual({ status: 'cancelled' });
    await runner.stop(100);
  });

  it('runs again a job whose outcome could not be written, once its lease has run out', async () => {
    const { db, jobs } = setup(1);
    let runs = 0;
    const handler: JobHandler = {
      async run(ctx) {
        runs++;
        if (runs === 1) throw new JobError('a passing failure', 'processing_failed', true);
        ctx.complete(() => {});
      },
      giveUp: () => {},
    };
    // The database refuses the first attempt's outcome (busy, say): the job stays leased.
    const retry = jobs.retry;
    jobs.retry = () => {
      jobs.retry = retry;
      throw new Error('database is locked');
    };
    const runner = runnerFor(db, jobs, handler, 150);
    runner.start();
    await eventually(() => expect(db.prepare(`SELECT status FROM jobs`).get()).toEqual({ status: 'done' }), 5_000);
    expect(runs).toBe(2);
    await runner.stop(100);
  });
});
