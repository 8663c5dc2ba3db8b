/**
 * Leases across nodes (CONTRACT §9: a job runs on one node at a time; when that node dies its job
 * is taken up by another within 60 s). Two runners with different node ids share one real
 * SQLite database, as nodes share one PostgreSQL database; one of them stops renewing its
 * leases without giving anything back, as a node killed with SIGKILL (or frozen) does. Leases
 * are shortened here (300 ms, renewed every 100 ms) so takeover is seen in a second rather than
 * in the 30 s of a real lease.
 */
import path from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../server/db/sqlite/connection.js';
import type { ImageJobRow, JobsRepo } from '../../server/db/jobs.repo.js';
import { createJobRunner, type JobError, type JobHandler, type JobOutcome } from '../../server/jobs/runner.js';
import { systemClock } from '../../server/util/clock.js';
import { eventually } from '../helpers/eventually.js';
import { insertRowsSync, portOver, unitOfWorkOver } from '../helpers/database.js';
import { tempDir } from '../helpers/server.js';

const LEASE = { ms: 300, renewEveryMs: 100 };
const imageId = (i: number) => `00000000-0000-7000-8000-${String(i).padStart(12, '0')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A real SQLite database with `n` images, each with one queued process_image job. */
function setup(n: number) {
  const db = openDatabase(path.join(tempDir(), 'darkroom.db'));
  for (let i = 0; i < n; i++) {
    insertRowsSync(db, 'images', [{ id: imageId(i), customer: 'c', status: 'queued', filename: 'x', bytes: 1, sha256: 'ab'.repeat(32), format: 'png', width: 1, height: 1, pages: 1, source: 'upload', created_at: 0, queued_at: 0 }]);
    insertRowsSync(db, 'outbox', [{ id: i + 1, type: 'image.uploaded', image_id: imageId(i), payload: '{}', created_at: 0, dispatched_at: 0 }]);
    insertRowsSync(db, 'jobs', [{ kind: 'process_image', queue: 'image', image_id: imageId(i), customer: 'c', generation: 1, event_id: i + 1, status: 'queued', max_attempts: 3, run_at: 0, created_at: 0 }]);
  }
  return db;
}

type Db = ReturnType<typeof setup>;

/** A node: a runner under its own node id, whose lease renewals can be made to fail (`stall`). */
function node(db: Db, nodeId: string, handler: JobHandler<ImageJobRow>) {
  const jobs = portOver(db).repos.jobs;
  let stalled = false;
  const repo: JobsRepo = {
    ...jobs,
    renewLeases: (node, until) => (stalled ? Promise.reject(new Error('this node is frozen')) : jobs.renewLeases(node, until)),
  };
  const outcomes: JobOutcome[] = [];
  const runner = createJobRunner({
    repo,
    unitOfWork: unitOfWorkOver(db),
    handlers: { process_image: handler, extract_metadata: { run: async () => {}, giveUp: () => {} } },
    clock: systemClock,
    queues: { image: { concurrency: 1, timeoutMs: 60_000 } },
    logger: pino({ level: 'silent' }),
    nodeId,
    soleNode: false,
    lease: LEASE,
    onJobSettled: (_job, outcome) => outcomes.push(outcome),
  });
  return {
    runner,
    outcomes,
    stall: (on = true) => void (stalled = on),
  };
}

const row = (db: Db, i = 0) =>
  db.prepare(`SELECT status, attempts, interruptions, lease_node, last_error FROM jobs WHERE image_id = ?`).get(imageId(i)) as {
    status: string;
    attempts: number;
    interruptions: number;
    lease_node: string | null;
    last_error: string | null;
  };

describe('leases across nodes', () => {
  it('takes over, within the lease time, a job whose node stopped renewing without giving it back; the stalled node commits nothing', async () => {
    const db = setup(1);
    const ranOn: string[] = [];
    let commitOnA: Promise<boolean> | undefined;
    let releaseA!: () => void;
    const aMayFinish = new Promise<void>((r) => (releaseA = r));
    const a = node(db, 'a', {
      async run(ctx) {
        ranOn.push('a');
        await aMayFinish;
        commitOnA = ctx.complete(() => {});
        await commitOnA;
      },
      giveUp: () => {},
    });
    await a.runner.start();
    await eventually(() => ranOn.length === 1, 5_000, 'node a started the job');
    expect(row(db)).toMatchObject({ status: 'running', lease_node: 'a', attempts: 1 });
    // Node b starts meanwhile: the job is a's, alive, and b leaves it alone.
    const b = node(db, 'b', {
      async run(ctx) {
        ranOn.push('b');
        await ctx.complete(() => {});
      },
      giveUp: () => {},
    });
    await b.runner.start();
    await sleep(3 * LEASE.ms);
    expect(ranOn).toEqual(['a']);
    // a freezes: no renewal, no giving back, as after SIGKILL.
    a.stall();
    const frozenAt = Date.now();
    await eventually(() => ranOn.length === 2, 5_000, 'node b took the job over');
    // Within the lease, plus b's lapse check and poll (1 s each at most), plus the backoff of a
    // first interrupted attempt (at most 1 s), with room for a busy machine.
    expect(Date.now() - frozenAt).toBeLessThan(LEASE.ms + 5_000);
    expect(ranOn).toEqual(['a', 'b']);
    await eventually(() => row(db).status === 'done', 5_000, 'b finished it');
    expect(row(db)).toMatchObject({ status: 'done', attempts: 2, interruptions: 1, lease_node: 'b' });
    // a wakes up and tries to commit its result: refused, the job is b's.
    releaseA();
    await eventually(() => commitOnA !== undefined, 5_000, 'a tried to commit');
    expect(await commitOnA).toBe(false);
    await eventually(() => a.runner.inFlight() === 0, 5_000, 'a let go of it');
    expect(row(db)).toMatchObject({ status: 'done', attempts: 2, interruptions: 1 });
    expect(b.outcomes).toEqual(['done']);
    await Promise.all([a.runner.stop(100), b.runner.stop(100)]);
  });

  it('never takes a job from a node that keeps renewing, however long the job runs', async () => {
    const db = setup(1);
    const ranOn: string[] = [];
    const a = node(db, 'a', {
      async run(ctx) {
        ranOn.push('a');
        // Ten times the lease.
        await sleep(10 * LEASE.ms);
        await ctx.complete(() => {});
      },
      giveUp: () => {},
    });
    const b = node(db, 'b', {
      async run() {
        ranOn.push('b');
      },
      giveUp: () => {},
    });
    await a.runner.start();
    await eventually(() => ranOn.length === 1, 5_000, 'node a started the job');
    await b.runner.start();
    await eventually(() => row(db).status === 'done', 10_000, 'a finished it');
    expect(ranOn).toEqual(['a']);
    expect(row(db)).toMatchObject({ status: 'done', attempts: 1, interruptions: 0, lease_node: 'a' });
    expect(a.outcomes).toEqual(['done']);
    await Promise.all([a.runner.stop(100), b.runner.stop(100)]);
  });

  it('stops its run of a job another node took over, once it can renew again and sees the lease is gone', async () => {
    const db = setup(1);
    const stoppedFor: string[] = [];
    let bStarted = false;
    const a = node(db, 'a', {
      async run(ctx) {
        await new Promise((r) => ctx.signal.addEventListener('abort', r, { once: true }));
        stoppedFor.push((ctx.signal.reason as JobError).code);
      },
      giveUp: () => {},
    });
    await a.runner.start();
    await eventually(() => a.runner.inFlight() === 1, 5_000, 'node a started the job');
    a.stall();
    const b = node(db, 'b', {
      async run(ctx) {
        bStarted = true;
        // Holds it until a has noticed.
        await eventually(() => stoppedFor.length === 1, 10_000, 'a stopped its run');
        await ctx.complete(() => {});
      },
      giveUp: () => {},
    });
    await b.runner.start();
    await eventually(() => bStarted, 5_000, 'b took the job over');
    a.stall(false);
    await eventually(() => stoppedFor.length === 1, 5_000, 'a stopped its run');
    expect(stoppedFor).toEqual(['lease_lost']);
    await eventually(() => a.outcomes.length === 1, 5_000, 'a settled its run');
    expect(a.outcomes).toEqual(['lost']);
    await eventually(() => row(db).status === 'done', 5_000, 'b finished it');
    expect(row(db)).toMatchObject({ status: 'done', attempts: 2, interruptions: 1, lease_node: 'b' });
    await Promise.all([a.runner.stop(100), b.runner.stop(100)]);
  });

  it('at start takes back at once the jobs its own node id left running, and leaves a live node\'s alone', async () => {
    const db = setup(2);
    const future = Date.now() + 60_000;
    // Image 0: left running by this node's previous process (same --node-id). Image 1: running
    // on node b, whose lease is alive.
    db.prepare(`UPDATE jobs SET status = 'running', attempts = 1, lease_token = 'old', lease_node = 'a', lease_until = ? WHERE image_id = ?`).run(future, imageId(0));
    db.prepare(`UPDATE jobs SET status = 'running', attempts = 1, lease_token = 'b-run', lease_node = 'b', lease_until = ? WHERE image_id = ?`).run(future, imageId(1));
    const ran: string[] = [];
    const a = node(db, 'a', {
      async run(ctx) {
        ran.push(ctx.job.image_id);
        await ctx.complete(() => {});
      },
      giveUp: () => {},
    });
    await a.runner.start();
    expect(row(db, 0)).toMatchObject({ status: 'queued', interruptions: 1, last_error: 'the server stopped during this job once' });
    await eventually(() => row(db, 0).status === 'done', 5_000, 'its own job ran again');
    await sleep(500);
    expect(ran).toEqual([imageId(0)]);
    expect(row(db, 1)).toMatchObject({ status: 'running', lease_node: 'b', interruptions: 0 });
    await a.runner.stop(100);
  });
});
