/**
 * The cost of a fair claim with 100,000 jobs queued: the round-robin claim of db/jobs.repo.ts
 * against a plain arrival-order claim (the same UPDATE … RETURNING, oldest due job first) on
 * the same database in the same run.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase, type Db } from '../server/db/sqlite/connection.js';
import { createJobsRepo } from '../server/db/jobs.repo.js';
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

/** Microseconds per claim (each in its own transaction, as the runner does), median and p99. */
function timeClaims(db: Db, n: number, claim: (now: number, leaseUntil: number, token: string) => unknown) {
  const tx = db.transaction((i: number) => {
    if (!claim(1, 2, `t${i}`)) throw new Error('the queue ran dry');
  });
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    tx(i);
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
      const fair = timeClaims(fairDb, claims, createJobsRepo(fairDb).claim);
      fairDb.close();
      const fifoDb = seeded(dir, `fifo-${idle}`, idle);
      const fifo = timeClaims(fifoDb, claims, arrivalOrderClaim(fifoDb));
      fifoDb.close();
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
        notes: `median of ${claims - 100} claims (each its own transaction), p99 ${fair.p99.toFixed(1)} µs; 100 customers with due jobs (one holds 90%)`,
      });
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return entries;
}
