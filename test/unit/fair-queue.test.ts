import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { seedQueuedJobs, seededImageId } from '../../bench/lib/queue-seed.js';
import { migrate, openDatabase, type Db } from '../../server/db/sqlite/connection.js';
import { createJobsRepo } from '../../server/db/jobs.repo.js';
import { MIGRATIONS } from '../../server/db/sqlite/migrations/index.js';
import { portOver, sqliteStatementsOf } from '../helpers/database.js';
import { tempDir } from '../helpers/server.js';

const freshDb = () => openDatabase(path.join(tempDir('darkroom-queue-'), 'darkroom.db'));

const jobsOf = (db: Db) => portOver(db).repos.jobs;

/** Claims `n` jobs one after the other; the customer of each. */
async function claimCustomers(db: Db, n: number, now = 0): Promise<string[]> {
  const jobs = jobsOf(db);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const job = await jobs.claim(now, now + 1000, `t${i}`);
    if (!job) break;
    out.push(job.customer);
  }
  return out;
}

/** `job_queues.waiting` must equal the queued jobs of each customer, whatever happened. */
function expectQueueBookkeepingExact(db: Db) {
  const counted = db
    .prepare(`SELECT customer, count(*) AS n FROM jobs WHERE status = 'queued' GROUP BY customer ORDER BY customer`)
    .all() as Array<{ customer: string; n: number }>;
  const kept = db
    .prepare(`SELECT customer, waiting AS n FROM job_queues WHERE waiting <> 0 ORDER BY customer`)
    .all() as Array<{ customer: string; n: number }>;
  expect(kept).toEqual(counted);
}

describe('fair queue', () => {
  it('claims round-robin across customers, least recently served first, oldest job first within one', async () => {
    const db = freshDb();
    let next = seedQueuedJobs(db, { jobs: 5, customerOf: () => 'a' });
    next = seedQueuedJobs(db, { jobs: 2, customerOf: () => 'b', from: next });
    seedQueuedJobs(db, { jobs: 1, customerOf: () => 'c', from: next });
    const jobs = jobsOf(db);
    const first = (await jobs.claim(0, 1000, 'x'))!;
    expect(first.image_id).toBe(seededImageId(0)); // a's oldest
    expect([first.customer, ...(await claimCustomers(db, 10))]).toEqual(['a', 'b', 'c', 'a', 'b', 'a', 'a', 'a']);
    expectQueueBookkeepingExact(db);
  });

  it("starts a newcomer's job next while another customer has 500 waiting", async () => {
    const db = freshDb();
    const next = seedQueuedJobs(db, { jobs: 500, customerOf: () => 'batch' });
    expect(await claimCustomers(db, 3)).toEqual(['batch', 'batch', 'batch']);
    seedQueuedJobs(db, { jobs: 1, customerOf: () => 'single', from: next });
    expect(await claimCustomers(db, 2)).toEqual(['single', 'batch']);
    expect(await jobsOf(db).countQueued()).toBe(496);
  });

  it('skips a customer whose jobs all wait out a backoff, and serves it once they are due', async () => {
    const db = freshDb();
    const next = seedQueuedJobs(db, { jobs: 2, customerOf: () => 'later', runAt: () => 5_000 });
    seedQueuedJobs(db, { jobs: 3, customerOf: () => 'now', from: next });
    expect(await claimCustomers(db, 10, 1_000)).toEqual(['now', 'now', 'now']);
    expect(await claimCustomers(db, 10, 5_000)).toEqual(['later', 'later']);
    expect(await jobsOf(db).nextRunAt()).toBeNull();
  });

  it('keeps the per-customer counts exact through retries, cancels, interrupted and given-back jobs, and deletes cascading from images', async () => {
    const db = freshDb();
    const jobs = jobsOf(db);
    const next = seedQueuedJobs(db, { jobs: 6, customerOf: (n) => (n % 2 ? 'odd' : 'even') });
    seedQueuedJobs(db, { jobs: 2, customerOf: () => 'gone', from: next });
    const a = (await jobs.claim(0, 1000, 'a'))!;
    const b = (await jobs.claim(0, 1000, 'b'))!;
    expect(await jobs.retry(a.id, 'a', 10, 'hiccup')).toBe(true); // back in the queue
    expect(await jobs.finish(b, 'b', 'done', 1)).toBe(true);
    expect(await jobs.cancelOlder(seededImageId(2), 'process_image', 2, 1)).toHaveLength(1);
    const c = (await jobs.claim(0, 1000, 'c'))!;
    expect(await jobs.requeueInterrupted(c, 0, 'the server stopped during this job')).toBe(true); // found at start
    const d = (await jobs.claim(0, 1000, 'd'))!;
    expect(await jobs.giveBack(d.id, 'd')).toBe(true); // stopped by a clean shutdown
    db.prepare(`DELETE FROM images WHERE customer = 'gone'`).run();
    expectQueueBookkeepingExact(db);
    expect(await jobs.countQueued()).toBe(5); // even: 0 (retried) and 4; odd: 1, 3 and 5
  });

  it('migrates an existing queue: customer from the image, counts filled, job ids continue', async () => {
    const file = path.join(tempDir('darkroom-queue-'), 'darkroom.db');
    const old = new Database(file);
    for (const m of MIGRATIONS.filter((m) => m.version <= 4)) old.exec(m.sql);
    old.pragma('user_version = 4');
    const image = old.prepare(
      `INSERT INTO images (id, customer, status, filename, bytes, sha256, format, width, height, source, created_at, queued_at)
       VALUES (?, ?, 'queued', 'x', 1, 'ab', 'png', 1, 1, 'upload', 0, 0)`,
    );
    const job = old.prepare(
      `INSERT INTO jobs (kind, image_id, generation, event_id, status, max_attempts, run_at, created_at) VALUES ('process_image', ?, 1, ?, ?, 3, 0, 0)`,
    );
    image.run(seededImageId(1), 'alice');
    image.run(seededImageId(2), 'bob');
    job.run(seededImageId(1), 1, 'queued');
    job.run(seededImageId(2), 2, 'done');
    job.run(seededImageId(2), 3, 'queued');
    job.run(seededImageId(2), 4, 'queued');
    old.prepare(`DELETE FROM jobs WHERE event_id = 4`).run(); // the highest id is gone, not forgotten
    old.close();

    const db = new Database(file);
    db.pragma('foreign_keys = ON');
    migrate(db);
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.at(-1)!.version);
    expect(db.prepare(`SELECT event_id, customer, status FROM jobs ORDER BY id`).all()).toEqual([
      { event_id: 1, customer: 'alice', status: 'queued' },
      { event_id: 2, customer: 'bob', status: 'done' },
      { event_id: 3, customer: 'bob', status: 'queued' },
    ]);
    expectQueueBookkeepingExact(db);
    await jobsOf(db).insertJob('extract_metadata', seededImageId(1), 5, 3, 0);
    expect(db.prepare(`SELECT max(id) AS id FROM jobs`).get()).toEqual({ id: 5 });
    expect(() => db.prepare(`UPDATE jobs SET status = 'cancelled' WHERE event_id = 1`).run()).not.toThrow();
  });

  it('claims through the per-customer index at 100,000 queued jobs: no scan of the jobs, no sort', async () => {
    const db = freshDb();
    seedQueuedJobs(db, { jobs: 100_000, customerOf: (n) => `customer-${n % 50}` });
    const jobs = jobsOf(db);
    const plan = () =>
      (db.prepare(`EXPLAIN QUERY PLAN ${claimSql()}`).all(1, 't', 'node', 0) as Array<{ detail: string }>).map(
        (r) => r.detail,
      );
    for (const analysed of [false, true]) {
      if (analysed) db.exec('ANALYZE');
      const steps = plan();
      console.log(`claim query plan${analysed ? ' (after ANALYZE)' : ''}:\n  ${steps.join('\n  ')}`);
      expect(steps).toContain('SCAN q USING INDEX job_queues_next');
      expect(steps.some((s) => /^SEARCH due USING COVERING INDEX jobs_queued_by_customer \(customer=\? AND run_at<\?\)$/.test(s))).toBe(true);
      expect(steps.some((s) => /SCAN (jobs|j|due)\b/.test(s))).toBe(false);
      expect(steps.some((s) => s.includes('TEMP B-TREE'))).toBe(false);
    }
    expect((await jobs.claim(0, 1, 't'))?.customer).toBe('customer-0');
  });
});

/** The image queue's claim statement exactly as the repository states it, compiled for SQLite. */
function claimSql(): string {
  const claim = sqliteStatementsOf(createJobsRepo).find((s) => s.sql.includes('"job_queues"') && s.sql.startsWith('update'));
  if (!claim) throw new Error('claim statement not found');
  return claim.sql;
}
