import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openDatabase } from '../../server/db/sqlite/connection.js';
import type { ImageJobRow } from '../../server/db/jobs.repo.js';
import { createJobRunner, JobError, type JobHandler } from '../../server/jobs/runner.js';
import { systemClock, type Clock } from '../../server/util/clock.js';
import { eventually } from '../helpers/eventually.js';
import { insertRowsSync, portOver, unitOfWorkOver } from '../helpers/database.js';
import { tempDir } from '../helpers/server.js';

/** A real SQLite database with `n` images, each with one queued process_image job. */
function setup(n: number) {
  const db = openDatabase(path.join(tempDir(), 'darkroom.db'));
  const jobs = portOver(db).repos.jobs;
  for (let i = 0; i < n; i++) {
    const id = `00000000-0000-7000-8000-${String(i).padStart(12, '0')}`;
    insertRowsSync(db, 'images', [{ id: id, customer: 'c', status: 'queued', filename: 'x', bytes: 1, sha256: 'ab'.repeat(32), format: 'png', width: 1, height: 1, pages: 1, source: 'upload', created_at: 0, queued_at: 0 }]);
    insertRowsSync(db, 'outbox', [{ id: i + 1, type: 'image.uploaded', image_id: id, payload: '{}', created_at: 0, dispatched_at: 0 }]);
    insertRowsSync(db, 'jobs', [{ kind: 'process_image', queue: 'image', image_id: id, customer: 'c', generation: 1, event_id: i + 1, status: 'queued', max_attempts: 3, run_at: 0, created_at: 0 }]);
  }
  return { db, jobs };
}

const noop: JobHandler<ImageJobRow> = { run: async () => {}, giveUp: () => {} };
const imageId = (i: number) => `00000000-0000-7000-8000-${String(i).padStart(12, '0')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

afterEach(() => {
  vi.restoreAllMocks();
});

/** A runner with two slots over the real database, `handler` processing images. */
function runnerFor(db: ReturnType<typeof setup>['db'], jobs: ReturnType<typeof setup>['jobs'], handler: JobHandler<ImageJobRow>, jobTimeoutMs = 60_000, clock: Clock = systemClock) {
  return createJobRunner({
    repo: jobs,
    unitOfWork: unitOfWorkOver(db),
    handlers: { process_image: handler, extract_metadata: noop },
    clock,
    queues: { image: { concurrency: 2, timeoutMs: jobTimeoutMs } },
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
    const handler: JobHandler<ImageJobRow> = {
      async run(ctx) {
        running++;
        most = Math.max(most, running);
        await gate;
        running--;
        await ctx.complete(() => {});
      },
      giveUp: () => {},
    };
    const runner = runnerFor(db, jobs, handler);
    await runner.start();
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
    const handler: JobHandler<ImageJobRow> = {
      async run(ctx) {
        throw ctx.job.image_id.endsWith('0') ? new JobError('disk hiccup', 'processing_failed', true) : new JobError('broken', 'corrupt_image', false);
      },
      giveUp: (job, err) => given.push(`${job.image_id.slice(-1)}:${err.code}`),
    };
    const runner = runnerFor(db, jobs, handler);
    await runner.start();
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
    const leftAtStop: number[] = [];
    const handler: JobHandler<ImageJobRow> = {
      async run(ctx) {
        // Work that notices the stop only late, like a worker finishing the variant it is on.
        await new Promise((r) => ctx.signal.addEventListener('abort', r, { once: true }));
        // Checked after the run: a throw here would only be taken for the job's own failure.
        leftAtStop.push(ctx.deadline - Date.now());
        if (await ctx.complete(() => committed++)) throw new Error('committed after the time limit');
      },
      giveUp: (_job, err) => given.push(err.code),
    };
    const outcomes: string[] = [];
    const runner = runnerFor(db, jobs, handler, 50);
    runner.events.on('settled', (_job, outcome) => outcomes.push(outcome));
    await runner.start();
    // The retry waits out a backoff of 0.5–1 s.
    await eventually(() => outcomes.length >= 2, 5_000, 'two attempts');
    await runner.stop(100);
    expect(outcomes).toEqual(['retry', 'failed']);
    expect(given).toEqual(['processing_timeout']);
    expect(committed).toBe(0);
    // Each attempt was stopped once its deadline had come.
    expect(leftAtStop).toHaveLength(2);
    for (const left of leftAtStop) expect(left).toBeLessThanOrEqual(5);
    expect(db.prepare(`SELECT status, attempts, last_error FROM jobs`).get()).toMatchObject({ status: 'failed', attempts: 2 });
  });

  it('stops a cancelled job where it runs and leaves its row cancelled', async () => {
    const { db, jobs } = setup(1);
    const handler: JobHandler<ImageJobRow> = {
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
    await runner.start();
    await eventually(() => claimed.length === 1, 5_000, 'the job started');
    const cancelled = await jobs.cancelOlder(`00000000-0000-7000-8000-${'0'.repeat(12)}`, 'process_image', 2, Date.now());
    expect(cancelled).toEqual(claimed);
    runner.cancel(cancelled);
    await eventually(() => settled.length === 1, 5_000, 'the job ended');
    expect(settled).toEqual(['cancelled']);
    expect(runner.inFlight()).toBe(0);
    expect(db.prepare(`SELECT status FROM jobs`).get()).toEqual({ status: 'cancelled' });
    await runner.stop(100);
  });

  it('puts a job whose outcome could not be written back in the queue once the database takes writes again', async () => {
    const { db, jobs } = setup(1);
    let runs = 0;
    const handler: JobHandler<ImageJobRow> = {
      async run(ctx) {
        runs++;
        if (runs === 1) throw new JobError('a passing failure', 'processing_failed', true);
        await ctx.complete(() => {});
      },
      giveUp: () => {},
    };
    // The database refuses the first attempt's outcome once (a PostgreSQL server restarting, say).
    const retry = jobs.retry;
    jobs.retry = () => {
      jobs.retry = retry;
      throw new Error('Connection terminated unexpectedly');
    };
    const runner = runnerFor(db, jobs, handler, 150);
    await runner.start();
    await eventually(() => runs === 1, 5_000, 'the first attempt ended');
    // Not its lease's minutes: a few seconds later the runner writes it back, its attempt uncounted.
    await eventually(() => expect(db.prepare(`SELECT status, attempts FROM jobs`).get()).toEqual({ status: 'done', attempts: 1 }), 10_000);
    expect(runs).toBe(2);
    await runner.stop(100);
  });

  it('runs again a job whose outcome could not be written, once its lease has run out', async () => {
    const { db, jobs } = setup(1);
    let runs = 0;
    const handler: JobHandler<ImageJobRow> = {
      async run(ctx) {
        runs++;
        if (runs === 1) throw new JobError('a passing failure', 'processing_failed', true);
        await ctx.complete(() => {});
      },
      giveUp: () => {},
    };
    // The database refuses the first attempt's outcome (busy, say) for as long as the lease holds.
    const retry = jobs.retry;
    jobs.retry = () => {
      throw new Error('database is locked');
    };
    let offset = 0;
    const runner = runnerFor(db, jobs, handler, 150, { now: () => Date.now() + offset });
    await runner.start();
    await eventually(() => runs === 1, 5_000, 'the first attempt ended');
    await sleep(300);
    // Nobody runs it, and its lease (longer than the time limit plus the pool's stop grace) holds.
    expect(db.prepare(`SELECT status FROM jobs`).get()).toEqual({ status: 'running' });
    expect(runs).toBe(1);
    jobs.retry = retry;
    offset = 3 * 60_000;
    await eventually(() => expect(db.prepare(`SELECT status, attempts FROM jobs`).get()).toEqual({ status: 'done', attempts: 2 }), 10_000);
    expect(runs).toBe(2);
    await runner.stop(100);
  });

  it('fails a job the server died running in its last attempt, instead of running it at every start', async () => {
    const { db, jobs } = setup(2);
    // What a process that died during the job leaves: `running` under a dead lease. Image 0 died
    // in its last attempt (for the third time: every attempt crashed), image 1 in its first.
    db.prepare(`UPDATE jobs SET status = 'running', attempts = 3, interruptions = 2, lease_token = 'dead', lease_until = 1 WHERE image_id = ?`).run(imageId(0));
    db.prepare(`UPDATE jobs SET status = 'running', attempts = 1, lease_token = 'dead too', lease_until = 1 WHERE image_id = ?`).run(imageId(1));
    const ran: string[] = [];
    const given: string[] = [];
    const handler: JobHandler<ImageJobRow> = {
      async run(ctx) {
        ran.push(`${ctx.job.image_id.slice(-1)}:${ctx.job.attempts}`);
        await ctx.complete(() => {});
      },
      giveUp: (job, err) => given.push(`${job.image_id.slice(-1)}:${err.code}:${err.message}`),
    };
    const runner = runnerFor(db, jobs, handler);
    const settled: string[] = [];
    runner.events.on('settled', (job, outcome) => settled.push(`${job.image_id!.slice(-1)}:${outcome}`));
    const startedAt = Date.now();
    await runner.start();
    expect(given).toEqual(['0:processing_failed:the server stopped during this job 3 times']);
    const rows = () => db.prepare(`SELECT status, attempts, interruptions, last_error, run_at FROM jobs ORDER BY image_id`).all() as Array<Record<string, unknown>>;
    expect(rows()[0]).toMatchObject({ status: 'failed', attempts: 3, interruptions: 3, last_error: 'the server stopped during this job 3 times' });
    // The other one is queued again, its interruption counted, after the backoff of a failed attempt.
    expect(rows()[1]).toMatchObject({ status: 'queued', attempts: 1, interruptions: 1, last_error: 'the server stopped during this job once' });
    expect(rows()[1]!.run_at as number).toBeGreaterThanOrEqual(startedAt + 500);
    await eventually(() => ran.length === 1, 5_000, 'the interrupted job ran again');
    await sleep(100);
    expect(ran).toEqual(['1:2']);
    expect(settled).toEqual(['0:failed', '1:done']);
    expect(rows()[1]).toMatchObject({ status: 'done', attempts: 2 });
    await runner.stop(100);
  });

  it('gives a job stopped by a clean shutdown back to the queue, its attempt not counted', async () => {
    const { db, jobs } = setup(1);
    const attempts: number[] = [];
    const handler: JobHandler<ImageJobRow> = {
      async run(ctx) {
        attempts.push(ctx.job.attempts);
        if (attempts.length === 1) {
          await new Promise((r) => ctx.signal.addEventListener('abort', r, { once: true }));
          throw new Error('the worker stopped');
        }
        await ctx.complete(() => {});
      },
      giveUp: () => {
        throw new Error('not given up');
      },
    };
    const first = runnerFor(db, jobs, handler);
    await first.start();
    await eventually(() => attempts.length === 1, 5_000, 'the job started');
    await first.stop(50);
    expect(db.prepare(`SELECT status, attempts, interruptions, lease_token FROM jobs`).get()).toEqual({ status: 'queued', attempts: 0, interruptions: 0, lease_token: null });
    // The next start runs it as its first attempt, at once.
    const next = runnerFor(db, jobs, handler);
    await next.start();
    await eventually(() => expect(db.prepare(`SELECT status, attempts FROM jobs`).get()).toEqual({ status: 'done', attempts: 1 }), 5_000);
    expect(attempts).toEqual([1, 1]);
    await next.stop(100);
  });

  it('never runs a job twice, nor more than `concurrency` at once, when leases run out while their jobs still run here', async () => {
    const { db, jobs } = setup(3);
    // The wall clock jumps a day ahead while two jobs run (a laptop waking up): every lease
    // taken before looks long expired.
    let offset = 0;
    let running = 0;
    let most = 0;
    const runs = new Map<string, number>();
    const finish = new Map<string, () => void>();
    const handler: JobHandler<ImageJobRow> = {
      async run(ctx) {
        running++;
        most = Math.max(most, running);
        runs.set(ctx.job.image_id, (runs.get(ctx.job.image_id) ?? 0) + 1);
        await new Promise<void>((r) => finish.set(ctx.job.image_id, r));
        running--;
        if (!(await ctx.complete(() => {}))) throw new Error(`job ${ctx.job.id} lost its lease while it ran`);
      },
      giveUp: () => {},
    };
    const runner = runnerFor(db, jobs, handler, 500, { now: () => Date.now() + offset });
    await runner.start();
    await eventually(() => running === 2, 5_000, 'two jobs running');
    offset = 24 * 3600_000;
    runner.kick();
    await sleep(200);
    // One of them ends: its slot goes to the job that waited, not to one still running.
    finish.get(imageId(0))!();
    await eventually(() => running === 2 && runs.size === 3, 5_000, 'the third job started');
    expect(runner.inFlight()).toBe(running);
    expect(await jobs.countRunning()).toBe(2);
    for (const id of [imageId(1), imageId(2)]) finish.get(id)!();
    await eventually(() => (db.prepare(`SELECT count(*) AS n FROM jobs WHERE status = 'done'`).get() as { n: number }).n === 3, 5_000, 'all done');
    expect(most).toBe(2);
    expect([...runs.values()]).toEqual([1, 1, 1]);
    expect(runner.inFlight()).toBe(0);
    await runner.stop(100);
  });

  it('keeps a job\'s time on the monotonic clock: a jump of the wall clock neither ends nor extends it', async () => {
    const { db, jobs } = setup(1);
    const left: number[] = [];
    const handler: JobHandler<ImageJobRow> = {
      async run(ctx) {
        left.push(ctx.deadline - Date.now());
        const realNow = Date.now.bind(Date);
        vi.spyOn(Date, 'now').mockImplementation(() => realNow() + 3600_000);
        left.push(ctx.deadline - Date.now());
        vi.mocked(Date.now).mockImplementation(() => realNow() - 3600_000);
        left.push(ctx.deadline - Date.now());
        vi.mocked(Date.now).mockRestore();
        await ctx.complete(() => {});
      },
      giveUp: () => {},
    };
    const runner = runnerFor(db, jobs, handler, 60_000);
    await runner.start();
    await eventually(() => left.length === 3, 5_000, 'the job ran');
    await runner.stop(100);
    for (const ms of left) {
      expect(ms).toBeGreaterThan(59_000);
      expect(ms).toBeLessThanOrEqual(60_000);
    }
  });
  it('gives back a job whose claim was still waiting for the database when the runner stopped, before stop() resolves', async () => {
    const { db, jobs } = setup(0);
    let runs = 0;
    const runner = runnerFor(db, jobs, {
      async run(ctx) {
        runs++;
        await ctx.complete(() => {});
      },
      giveUp: () => {},
    });
    await runner.start();
    insertRowsSync(db, 'images', [{ id: imageId(0), customer: 'c', status: 'queued', filename: 'x', bytes: 1, sha256: 'ab'.repeat(32), format: 'png', width: 1, height: 1, pages: 1, source: 'upload', created_at: 0, queued_at: 0 }]);
    insertRowsSync(db, 'outbox', [{ id: 1, type: 'image.uploaded', image_id: imageId(0), payload: '{}', created_at: 0, dispatched_at: 0 }]);
    insertRowsSync(db, 'jobs', [{ kind: 'process_image', queue: 'image', image_id: imageId(0), customer: 'c', generation: 1, event_id: 1, status: 'queued', max_attempts: 3, run_at: 0, created_at: 0 }]);
    // A unit of work holds the database: the claim the kick starts waits for it.
    let release!: () => void;
    let holding!: () => void;
    const held = new Promise<void>((r) => (holding = r));
    const unit = portOver(db).unitOfWork(() => {
      holding();
      return new Promise<void>((r) => (release = r));
    });
    await held;
    const claimed = vi.fn();
    runner.events.on('claimed', claimed);
    runner.kick();
    await sleep(50);
    // stop() waits for the claim on its way, so it resolves only once the job is back.
    let stopped = false;
    const stopping = runner.stop(0).then(() => (stopped = true));
    await sleep(50);
    expect(stopped).toBe(false);
    release();
    await unit;
    await stopping;
    expect(db.prepare(`SELECT status, attempts, lease_token FROM jobs`).get()).toEqual({ status: 'queued', attempts: 0, lease_token: null });
    await sleep(50);
    expect(claimed).not.toHaveBeenCalled();
    expect(runs).toBe(0);
  });
});
