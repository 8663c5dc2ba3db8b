import path from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../server/db/sqlite/connection.js';
import type { JobRow } from '../../server/db/jobs.repo.js';
import { createOutagePause } from '../../server/jobs/outage.js';
import { createJobRunner, JobError, type JobHandler, type RunnerOptions } from '../../server/jobs/runner.js';
import { systemClock } from '../../server/util/clock.js';
import { eventually } from '../helpers/eventually.js';
import { insertRowsSync, portOver, unitOfWorkOver } from '../helpers/database.js';
import { tempDir } from '../helpers/server.js';

const silent = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const imageId = (i: number) => `00000000-0000-7000-8000-${String(i).padStart(12, '0')}`;

/** A real SQLite database with `images` queued process_image jobs. */
function setup(images = 0) {
  const db = openDatabase(path.join(tempDir('darkroom-engine-'), 'darkroom.db'));
  const jobs = portOver(db).repos.jobs;
  for (let i = 0; i < images; i++) {
    insertRowsSync(db, 'images', [{ id: imageId(i), customer: 'c', status: 'queued', filename: 'x', bytes: 1, sha256: 'ab'.repeat(32), format: 'png', width: 1, height: 1, pages: 1, source: 'upload', created_at: 0, queued_at: 0 }]);
    insertRowsSync(db, 'outbox', [{ id: i + 1, type: 'image.uploaded', image_id: imageId(i), payload: '{}', created_at: 0, dispatched_at: 0 }]);
    insertRowsSync(db, 'jobs', [{ kind: 'process_image', queue: 'image', image_id: imageId(i), customer: 'c', generation: 1, event_id: i + 1, status: 'queued', max_attempts: 3, run_at: 0, created_at: 0 }]);
  }
  return { db, jobs, unitOfWork: unitOfWorkOver(db) };
}

const done: JobHandler = { run: async (ctx) => void (await ctx.complete(() => {})), giveUp: () => {} };
const allSync = (handler: JobHandler) => ({
  sync_put_original: handler,
  sync_put_processed: handler,
  sync_delete_original: handler,
  sync_delete_processed: handler,
  sync_delete_image: handler,
});
const base = (s: ReturnType<typeof setup>): Omit<RunnerOptions, 'queues' | 'handlers'> => ({ repo: s.jobs, unitOfWork: s.unitOfWork, clock: systemClock, logger: silent });
const statusOf = (s: ReturnType<typeof setup>, id: number) => s.db.prepare(`SELECT status, attempts, last_error FROM jobs WHERE id = ?`).get(id) as Partial<JobRow> | undefined;
const idsOfKind = (s: ReturnType<typeof setup>, kind: string) => (s.db.prepare(`SELECT id FROM jobs WHERE kind = ? ORDER BY id`).all(kind) as Array<{ id: number }>).map((r) => r.id);

describe('the job engine: queues', () => {
  it('refuses to start when a kind of a queue that runs has no handler', () => {
    const s = setup();
    expect(() => createJobRunner({ ...base(s), queues: { image: { concurrency: 1, timeoutMs: 1000 } }, handlers: { process_image: done } })).toThrow(
      'no handler registered for job kind "extract_metadata"',
    );
    expect(() =>
      createJobRunner({ ...base(s), queues: { image: { concurrency: 1, timeoutMs: 1000 }, sync: { concurrency: 1, timeoutMs: 1000 } }, handlers: { process_image: done, extract_metadata: done } }),
    ).toThrow('no handler registered for job kind "sync_put_original"');
  });

  it('runs each queue within its own concurrency, so a sync backlog never holds up image jobs', async () => {
    const s = setup(3);
    for (let i = 0; i < 10; i++) await s.jobs.enqueue({ kind: 'sync_put_original', lane: `originals/${i}`, payload: { key: `originals/${i}` }, maxAttempts: 3 }, 0);
    const running = { image: 0, sync: 0 };
    const most = { image: 0, sync: 0 };
    const hold = (queue: 'image' | 'sync', ms: number): JobHandler => ({
      async run(ctx) {
        running[queue]++;
        most[queue] = Math.max(most[queue], running[queue]);
        await sleep(ms);
        running[queue]--;
        await ctx.complete(() => {});
      },
      giveUp: () => {},
    });
    const images: string[] = [];
    const runner = createJobRunner({
      ...base(s),
      queues: { image: { concurrency: 1, timeoutMs: 60_000 }, sync: { concurrency: 2, timeoutMs: 60_000, lanes: true, pollMs: 20 } },
      handlers: { process_image: hold('image', 20), extract_metadata: done, ...allSync(hold('sync', 200)) },
    });
    runner.events.on('settled', (job) => job.queue === 'image' && images.push(job.image_id!));
    await runner.start();
    // All three images are done while the slow sync operations are still going.
    await eventually(() => images.length === 3, 5_000, 'images done');
    expect(s.db.prepare(`SELECT count(*) AS n FROM jobs WHERE queue = 'sync'`).get()).not.toEqual({ n: 0 });
    await eventually(() => (s.db.prepare(`SELECT count(*) AS n FROM jobs WHERE queue = 'sync'`).get() as { n: number }).n === 0, 10_000, 'sync drained');
    expect(most).toEqual({ image: 1, sync: 2 });
    // A job that belongs to no image leaves the table when done; an image's jobs stay with it.
    expect(s.db.prepare(`SELECT count(*) AS n FROM jobs WHERE queue = 'image' AND status = 'done'`).get()).toEqual({ n: 3 });
    await runner.stop(100);
  });

  it('runs the jobs of one lane one at a time, in the order they were queued', async () => {
    const s = setup();
    await s.jobs.enqueue({ kind: 'sync_put_original', lane: 'originals/a', payload: { key: 'originals/a', n: 1 }, maxAttempts: 3 }, 0);
    await s.jobs.enqueue({ kind: 'sync_delete_original', lane: 'originals/a', payload: { key: 'originals/a', n: 2 }, maxAttempts: 3 }, 0);
    await s.jobs.enqueue({ kind: 'sync_put_original', lane: 'originals/b', payload: { key: 'originals/b', n: 3 }, maxAttempts: 3 }, 0);
    const order: string[] = [];
    let concurrentInLaneA = 0;
    let most = 0;
    const handler: JobHandler = {
      async run(ctx) {
        const { key, n } = JSON.parse(ctx.job.payload) as { key: string; n: number };
        if (key === 'originals/a') most = Math.max(most, ++concurrentInLaneA);
        order.push(`${n}:start`);
        await sleep(100);
        order.push(`${n}:end`);
        if (key === 'originals/a') concurrentInLaneA--;
        await ctx.complete(() => {});
      },
      giveUp: () => {},
    };
    const runner = createJobRunner({ ...base(s), queues: { sync: { concurrency: 4, timeoutMs: 60_000, lanes: true, pollMs: 20 } }, handlers: allSync(handler) });
    await runner.start();
    await eventually(() => order.length === 6, 5_000, 'all ran');
    await runner.stop(100);
    expect(most).toBe(1);
    expect(order.indexOf('2:start')).toBeGreaterThan(order.indexOf('1:end'));
    // Another lane does not wait.
    expect(order.indexOf('3:start')).toBeLessThan(order.indexOf('1:end'));
  });

  it('tries a job again later without counting the attempt when it is not ready yet', async () => {
    const s = setup();
    await s.jobs.enqueue({ kind: 'watch_ingest', lane: '/photos/a.jpg', maxAttempts: 1 }, 0);
    let runs = 0;
    const runner = createJobRunner({
      ...base(s),
      queues: { watch: { concurrency: 1, timeoutMs: 60_000, pollMs: 20 } },
      handlers: {
        watch_ingest: {
          async run(ctx) {
            if (++runs < 3) throw JobError.later(50, 'still being written');
            await ctx.complete(() => {});
          },
          giveUp: () => {
            throw new Error('not given up');
          },
        },
      },
    });
    await runner.start();
    await eventually(() => runs === 3, 5_000, 'three looks');
    await eventually(() => (s.db.prepare(`SELECT count(*) AS n FROM jobs`).get() as { n: number }).n === 0, 5_000, 'done with one attempt allowed');
    await runner.stop(100);
  });

  it('pauses a queue while its service is down: the attempts that met the outage do not count, and nothing is claimed until the service answers', async () => {
    const s = setup();
    for (let i = 0; i < 3; i++) await s.jobs.enqueue({ kind: 'sync_put_original', lane: `originals/${i}`, payload: { key: `originals/${i}` }, maxAttempts: 1 }, 0);
    let up = false;
    let probes = 0;
    const outage = createOutagePause({
      probe: async () => {
        probes++;
        if (!up) throw new Error('connect ECONNREFUSED');
      },
      describe: (err) => (err as Error).message,
      timing: { probeMinMs: 50, probeMaxMs: 100 },
      logger: silent,
      messages: { down: 'down', up: 'up' },
    });
    const tries: number[] = [];
    const handler: JobHandler = {
      async run(ctx) {
        tries.push(ctx.job.id);
        if (!up) throw new JobError('connect ECONNREFUSED', 'sync_failed', true, { mayBeOutage: true });
        await ctx.complete(() => {});
      },
      giveUp: () => {
        throw new Error('not given up: the outage was no fault of the job');
      },
    };
    const outcomes: string[] = [];
    const runner = createJobRunner({ ...base(s), queues: { sync: { concurrency: 1, timeoutMs: 60_000, lanes: true, pollMs: 20, outage } }, handlers: allSync(handler) });
    runner.events.on('settled', (_job, outcome) => outcomes.push(outcome));
    await runner.start();
    await eventually(() => outage.isDown(), 5_000, 'outage noticed');
    await sleep(400);
    // One job met the outage; the queue then claimed nothing while the probes kept failing.
    expect(tries).toHaveLength(1);
    expect(probes).toBeGreaterThanOrEqual(3);
    expect(outage.state()).toMatchObject({ lastError: 'connect ECONNREFUSED' });
    expect(statusOf(s, tries[0]!)).toMatchObject({ status: 'queued', attempts: 0 });
    up = true;
    await eventually(() => (s.db.prepare(`SELECT count(*) AS n FROM jobs`).get() as { n: number }).n === 0, 5_000, 'backlog drained');
    expect(outcomes).toEqual(['deferred', 'done', 'done', 'done']);
    expect(outage.isDown()).toBe(false);
    await runner.stop(100);
  });

  it('leaves the jobs of a queue that does not run here alone, also those found running at start', async () => {
    const s = setup(1);
    await s.jobs.enqueue({ kind: 'sync_put_original', lane: 'originals/x', payload: { key: 'originals/x' }, maxAttempts: 3 }, 0);
    const [syncId] = idsOfKind(s, 'sync_put_original');
    s.db.prepare(`UPDATE jobs SET status = 'running', attempts = 3, lease_token = 'dead', lease_until = 1 WHERE id = ?`).run(syncId);
    const runner = createJobRunner({ ...base(s), queues: { image: { concurrency: 1, timeoutMs: 60_000 } }, handlers: { process_image: done, extract_metadata: done } });
    await runner.start();
    await eventually(() => (s.db.prepare(`SELECT count(*) AS n FROM jobs WHERE queue = 'image' AND status = 'done'`).get() as { n: number }).n === 1, 5_000, 'image done');
    await sleep(100);
    await runner.stop(100);
    expect(statusOf(s, syncId!)).toMatchObject({ status: 'running', attempts: 3 });
  });

  it('gives the jobs of each queue the shutdown grace of their queue, then puts them back uncounted', async () => {
    const s = setup(1);
    await s.jobs.enqueue({ kind: 'sync_put_original', lane: 'originals/x', payload: { key: 'originals/x' }, maxAttempts: 3 }, 0);
    const ended: Record<string, number> = {};
    const waitForStop = (name: string): JobHandler => ({
      async run(ctx) {
        await new Promise((r) => ctx.signal.addEventListener('abort', r, { once: true }));
        ended[name] = Date.now();
        throw new Error('stopped');
      },
      giveUp: () => {},
    });
    const runner = createJobRunner({
      ...base(s),
      queues: { image: { concurrency: 1, timeoutMs: 60_000 }, sync: { concurrency: 1, timeoutMs: 60_000, stopGraceMs: 50, pollMs: 20 } },
      handlers: { process_image: waitForStop('image'), extract_metadata: done, ...allSync(waitForStop('sync')) },
    });
    await runner.start();
    await eventually(() => runner.inFlight() === 2, 5_000, 'both running');
    const stopping = Date.now();
    await runner.stop(400);
    expect(ended.sync! - stopping).toBeLessThan(300);
    expect(ended.image! - stopping).toBeGreaterThanOrEqual(350);
    expect(s.db.prepare(`SELECT queue, status, attempts FROM jobs ORDER BY queue`).all()).toEqual([
      { queue: 'image', status: 'queued', attempts: 0 },
      { queue: 'sync', status: 'queued', attempts: 0 },
    ]);
  });
});
