/**
 * The cost of a fair claim with 100,000 jobs queued: the round-robin claim of db/jobs.repo.ts,
 * through the database port as the runner makes it, against a plain arrival-order claim (the
 * same UPDATE … RETURNING, oldest due job first) on the same database in the same run.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase, type Db } from '../server/db/sqlite/connection.js';
import { sqliteDatabaseOver } from '../server/db/sqlite/sqlite-database.js';
import { median, quantile, type BenchEntry } from './report.js';
import { seedQueuedJobs } from './lib/queue-seed.js';

const QUEUED = 100_000;

/** The claim before fair queueing: the oldest due job, whoever it belongs to. */
function arrivalOrderClaim(db: Db) {
  const claim = db.prepare<{ now: number; leaseUntil: number; token: string }>(
    `UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_until = @leaseUntil, lease_token = @token
     WHERE id = (SELECT id FROM jobs WHERE status = 'queued' AND run_at <= @now ORDER BY run_at, id LIMIT 1)
     RETURNING *`,
  );
  return (now: number, leaseUntil: number, token: string) => claim.get({ now, leaseUntil, token });
}

/**
 * The round-robin claim as it was before the jobs repository went behind the database port:
 * the same statement written by hand and run by better-sqlite3 directly, the baseline of the
 * port's cost on the hottest query.
 */
function directFairClaim(db: Db) {
  const claim = db.prepare<{ now: number; leaseUntil: number; token: string }>(
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
  return (now: number, leaseUntil: number, token: string) => claim.get({ now, leaseUntil, token });
}

/** Microseconds per claim (each its own statement, as the runner makes it), median and p99. */
async function timeClaims(n: number, claim: (now: number, leaseUntil: number, token: string) => unknown) {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    if (!(await claim(1, 2, `t${i}`))) throw new Error('the queue ran dry');
    times.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  return { median: median(times.slice(100)), p99: quantile(times.slice(100), 0.99) };
}

/** A fresh database with 100,000 queued jobs: one customer's batch, many small ones, and `idle` customers whose jobs all wait out a backoff. */
function seeded(dir: string, name: string, idle: number): Db {
  const db = openDatabase(path.join(dir, `${name}.db`));
  let next = seedQueuedJobs(db, { jobs: idle, customerOf: (n) => `idle-${n}`, runAt: () => Number.MAX_SAFE_INTEGER });
  const rest = QUEUED - idle;
  next = seedQueuedJobs(db, { jobs: Math.round(rest * 0.9), customerOf: () => 'batch', from: next });
  seedQueuedJobs(db, { jobs: rest - Math.round(rest * 0.9), customerOf: (n) => `small-${n % 99}`, from: next });
  return db;
}

export async function queueBench(options: { quick: boolean }): Promise<BenchEntry[]> {
  const claims = options.quick ? 2_000 : 10_000;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-bench-queue-'));
  const entries: BenchEntry[] = [];
  try {
    for (const idle of [0, 1_000]) {
      const label = idle ? `, ${idle} more customers with nothing due` : '';
      const fairDb = seeded(dir, `fair-${idle}`, idle);
      const fair = await timeClaims(claims, sqliteDatabaseOver(fairDb).repos.jobs.claim);
      fairDb.close();
      const directDb = seeded(dir, `direct-${idle}`, idle);
      const direct = await timeClaims(claims, directFairClaim(directDb));
      directDb.close();
      const fifoDb = seeded(dir, `fifo-${idle}`, idle);
      const fifo = await timeClaims(claims, arrivalOrderClaim(fifoDb));
      fifoDb.close();
      console.log(
        `claim at ${QUEUED} queued${label}: fair through the port ${fair.median.toFixed(1)} µs (p99 ${fair.p99.toFixed(1)}), ` +
          `fair statement on better-sqlite3 directly ${direct.median.toFixed(1)} µs (p99 ${direct.p99.toFixed(1)})`,
      );
      console.log(`claim at ${QUEUED} queued${label}: fair ${fair.median.toFixed(1)} µs (p99 ${fair.p99.toFixed(1)}), arrival order ${fifo.median.toFixed(1)} µs (p99 ${fifo.p99.toFixed(1)})`);
      entries.push({
        suite: 'queue',
        name: `fair claim, ${QUEUED / 1000}k queued${label}`,
        value: fair.median,
        unit: 'µs',
        baseline: { name: 'arrival-order claim', value: fifo.median },
        ratio: fifo.median / fair.median,
        target: '≤ 1000 µs',
        met: fair.median <= 1000,
        notes: `median of ${claims - 100} claims (each its own statement), p99 ${fair.p99.toFixed(1)} µs; 100 customers with due jobs (one holds 90%)`,
      });
      entries.push({
        suite: 'queue',
        name: `fair claim through the port, ${QUEUED / 1000}k queued${label}`,
        value: fair.median,
        unit: 'µs',
        baseline: { name: 'the same statement on better-sqlite3 directly', value: direct.median },
        ratio: direct.median / fair.median,
        notes: `port overhead ${(fair.median - direct.median).toFixed(1)} µs per claim`,
      });
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return entries;
}
