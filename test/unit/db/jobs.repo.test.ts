/** The jobs of the job engine and the outbox through the database port, on every dialect. */
import { describe, expect, it } from 'vitest';
import type { NewImage } from '../../../server/db/images.repo.js';
import type { JobRow } from '../../../server/db/jobs.repo.js';
import { DIALECTS, type TestDatabase } from '../../helpers/database.js';
import { imageId, newImage } from '../../helpers/image-rows.js';

const id = imageId;

const image = (n: number, customer: string): NewImage => newImage(n, { customer, created_at: 0 });

/** Images of these customers, in this order, each with its `image.uploaded` event dispatched into a process_image job. */
async function queueImages(db: TestDatabase, customers: string[], runAt = 0): Promise<void> {
  let n = 0;
  for (const customer of customers) {
    n++;
    await db.repos.images.insert(image(n, customer), []);
    const event = await db.repos.jobs.appendEvent('image.uploaded', id(n), { customer }, 0);
    await db.repos.jobs.insertJob('process_image', id(n), event, 3, runAt);
    await db.repos.jobs.markDispatched(event, 0); // as the dispatcher does, in the same unit of work
  }
}

const syncJob = (key: string, n = 0) => ({ kind: 'sync_put_original' as const, lane: key, payload: { key, n }, maxAttempts: 3 });

describe.each(DIALECTS)('jobs repository on $dialect', ({ open }) => {
  it('keeps outbox events in order until they are marked dispatched', async () => {
    const { repos } = await open();
    const first = await repos.jobs.appendEvent('image.uploaded', id(1), { customer: 'a' }, 10);
    const second = await repos.jobs.appendEvent('image.deleted', null, {}, 11);
    expect(second).toBeGreaterThan(first);
    expect(await repos.jobs.pendingEvents(10)).toEqual([
      { id: first, type: 'image.uploaded', image_id: id(1), payload: '{"customer":"a"}', created_at: 10, dispatched_at: null },
      { id: second, type: 'image.deleted', image_id: null, payload: '{}', created_at: 11, dispatched_at: null },
    ]);
    expect(await repos.jobs.pendingEvents(1)).toHaveLength(1);
    await repos.jobs.markDispatched(first, 12);
    expect((await repos.jobs.pendingEvents(10)).map((e) => e.id)).toEqual([second]);
  });

  it('counts as queued the jobs that events not dispatched yet will make, so admission sees them from the commit on', async () => {
    const { repos } = await open();
    expect(await repos.jobs.countQueued()).toBe(0);
    const uploaded = await repos.jobs.appendEvent('image.uploaded', id(1), { customer: 'a' }, 0);
    const reprocess = await repos.jobs.appendEvent('image.reprocess_requested', id(2), { customer: 'a' }, 0);
    await repos.jobs.appendEvent('image.deleted', id(3), {}, 0); // makes no job
    expect(await repos.jobs.countQueued()).toBe(3); // metadata and processing, then processing again
    await repos.jobs.markDispatched(uploaded, 1);
    expect(await repos.jobs.countQueued()).toBe(1);
    await repos.jobs.markDispatched(reprocess, 1);
    expect(await repos.jobs.countQueued()).toBe(0);
  });

  it('queues an image job once per event and kind, and none for an image gone or a generation superseded', async () => {
    const db = await open();
    await queueImages(db, ['a']);
    await db.repos.jobs.insertJob('process_image', id(1), 1, 3, 0); // the same event dispatched again
    await db.repos.jobs.insertJob('process_image', id(9), 2, 3, 0); // no such image
    await db.repos.jobs.insertJob('process_image', id(1), 3, 3, 0, 2); // generation 2 is not current
    expect(await db.repos.jobs.countQueued()).toBe(1);
    expect(await db.repos.jobs.jobsOfCurrentGeneration(id(1))).toEqual([{ kind: 'process_image', status: 'queued', last_error: null }]);
  });

  it('queues a job of a lane once while an identical one waits last in that lane', async () => {
    const { repos } = await open();
    expect(await repos.jobs.enqueue(syncJob('originals/a'), 0)).toBe(true);
    expect(await repos.jobs.enqueue(syncJob('originals/a'), 1)).toBe(false);
    expect(await repos.jobs.enqueue(syncJob('originals/a', 1), 2)).toBe(true); // another payload
    expect(await repos.jobs.enqueue(syncJob('originals/a'), 3)).toBe(true); // no longer last
    expect(await repos.jobs.enqueue(syncJob('originals/b'), 4)).toBe(true); // another lane
    expect(await repos.jobs.enqueue({ kind: 'purge', maxAttempts: 1 }, 5)).toBe(true);
    expect(await repos.jobs.enqueue({ kind: 'purge', maxAttempts: 1 }, 5)).toBe(true); // no lane: no dedupe
    // Running, the last of the lane no longer stops an identical one.
    const claimed = (await repos.jobs.claimInQueue('sync', false, 10, 100, 't'))!;
    expect(claimed).toMatchObject({ lane: 'originals/a', status: 'running', attempts: 1, lease_token: 't', queue: 'sync' });
    expect(await repos.jobs.countQueued()).toBe(0); // image jobs only
    expect(await repos.jobs.nextRunAt('sync')).toBe(2);
    expect(await repos.jobs.nextRunAt('maintenance')).toBe(5);
    expect(await repos.jobs.nextRunAt('watch')).toBeNull();
  });

  it('claims image jobs round-robin across customers, least recently served first, oldest first within one', async () => {
    const db = await open();
    await queueImages(db, ['a', 'a', 'a', 'b', 'c', 'b']);
    const customers: string[] = [];
    for (let i = 0; i < 10; i++) {
      const job = await db.repos.jobs.claim(0, 1000, `t${i}`);
      if (!job) break;
      customers.push(`${job.customer}:${job.image_id.slice(-1)}`);
    }
    expect(customers).toEqual(['a:1', 'b:4', 'c:5', 'a:2', 'b:6', 'a:3']);
    expect(await db.repos.jobs.countQueued()).toBe(0);
    expect(await db.repos.jobs.countRunning()).toBe(6);
  });

  it('keeps the fair queue’s bookkeeping exact through insert, claim, retry and a cascading delete (its triggers)', async () => {
    const db = await open();
    await queueImages(db, ['a', 'a', 'b']);
    const queues = async () => (await db.rows('job_queues')).map((q) => [q.customer, q.waiting, q.served_seq > 0]);
    expect(await queues()).toEqual([['a', 2, false], ['b', 1, false]]);
    const claimed = (await db.repos.jobs.claim(0, 1000, 'lease'))!;
    expect(claimed.customer).toBe('a');
    expect(await queues()).toEqual([['a', 1, true], ['b', 1, false]]);
    const b = (await db.repos.jobs.claim(0, 1000, 'lease b'))!;
    expect(b.customer).toBe('b');
    const [servedA, servedB] = (await db.rows('job_queues')).map((q) => q.served_seq);
    expect(servedB).toBeGreaterThan(servedA!);
    expect(await db.repos.jobs.retry(claimed.id, 'lease', 0, 'again')).toBe(true);
    expect(await queues()).toEqual([['a', 2, true], ['b', 0, true]]);
    // The image's queued job goes with it (ON DELETE CASCADE), and out of the count.
    expect(await db.repos.images.delete(id(2))).toBe(true);
    expect(await queues()).toEqual([['a', 1, true], ['b', 0, true]]);
    expect(await db.repos.jobs.countQueued()).toBe(1);
  });

  it('claims only due jobs, and says when the next one is due', async () => {
    const db = await open();
    await queueImages(db, ['a'], 5_000);
    expect(await db.repos.jobs.claim(1_000, 2_000, 't')).toBeUndefined();
    expect(await db.repos.jobs.nextRunAt()).toBe(5_000);
    expect(await db.repos.jobs.claim(5_000, 6_000, 't')).toMatchObject({ customer: 'a', lease_until: 6_000 });
  });

  it('claims the jobs of a queue with lanes in the order of each lane, one at a time per lane', async () => {
    const { repos } = await open();
    await repos.jobs.enqueue(syncJob('originals/a', 1), 0);
    await repos.jobs.enqueue(syncJob('originals/a', 2), 0);
    await repos.jobs.enqueue(syncJob('originals/b', 3), 0);
    const payloadOf = (job: JobRow | undefined) => job && (JSON.parse(job.payload) as { n: number }).n;
    const first = await repos.jobs.claimInQueue('sync', true, 0, 100, 't1');
    expect(payloadOf(first)).toBe(1);
    // a's second waits for its first; b's runs meanwhile.
    expect(payloadOf(await repos.jobs.claimInQueue('sync', true, 0, 100, 't2'))).toBe(3);
    expect(await repos.jobs.claimInQueue('sync', true, 0, 100, 't3')).toBeUndefined();
    // Without lanes the oldest due job is next, whatever runs.
    expect(payloadOf(await repos.jobs.claimInQueue('sync', false, 0, 100, 't3'))).toBe(2);
    expect(await repos.jobs.finish(first!, 't1', 'done', 1)).toBe(true);
  });

  it('ends, retries and gives back a job only under its lease token', async () => {
    const db = await open();
    await queueImages(db, ['a', 'b', 'c']);
    const a = (await db.repos.jobs.claim(0, 100, 'ta'))!;
    const b = (await db.repos.jobs.claim(0, 100, 'tb'))!;
    const c = (await db.repos.jobs.claim(0, 100, 'tc'))!;
    expect(await db.repos.jobs.isOwned(a.id, 'ta')).toBe(true);
    expect(await db.repos.jobs.isOwned(a.id, 'tb')).toBe(false);

    expect(await db.repos.jobs.finish(a, 'wrong', 'done', 5)).toBe(false);
    expect(await db.repos.jobs.finish(a, 'ta', 'failed', 5, 'broken')).toBe(true);
    expect(await db.repos.jobs.finish(a, 'ta', 'done', 6)).toBe(false); // ended already

    expect(await db.repos.jobs.retry(b.id, 'wrong', 50, 'hiccup')).toBe(false);
    expect(await db.repos.jobs.retry(b.id, 'tb', 50, 'hiccup', false)).toBe(true); // not counted
    expect(await db.repos.jobs.giveBack(c.id, 'wrong')).toBe(false);
    expect(await db.repos.jobs.giveBack(c.id, 'tc')).toBe(true);
    expect(await db.repos.jobs.isOwned(c.id, 'tc')).toBe(false);

    const again = (await db.repos.jobs.claim(50, 100, 'tb2'))!;
    const rows = new Map([again, (await db.repos.jobs.claim(50, 100, 'tc2'))!].map((j) => [j.id, j]));
    expect(rows.get(b.id)).toMatchObject({ attempts: 1, last_error: 'hiccup', run_at: 50 });
    expect(rows.get(c.id)).toMatchObject({ attempts: 1 }); // given back: its attempt did not count
    expect(await db.repos.jobs.jobsOfCurrentGeneration(id(1))).toEqual([{ kind: 'process_image', status: 'failed', last_error: 'broken' }]);
  });

  it('removes a done job of no image, and keeps a done image job', async () => {
    const db = await open();
    await queueImages(db, ['a']);
    await db.repos.jobs.enqueue({ kind: 'purge', maxAttempts: 1 }, 0);
    const purge = (await db.repos.jobs.claimInQueue('maintenance', false, 0, 100, 'tp'))!;
    const image = (await db.repos.jobs.claim(0, 100, 'ti'))!;
    expect(await db.repos.jobs.finish(purge, 'tp', 'done', 1)).toBe(true);
    expect(await db.repos.jobs.finish(image, 'ti', 'done', 1)).toBe(true);
    expect(await db.repos.jobs.running()).toEqual([]);
    expect(await db.repos.jobs.nextRunAt('maintenance')).toBeNull();
    expect(await db.repos.jobs.jobsOfCurrentGeneration(id(1))).toEqual([{ kind: 'process_image', status: 'done', last_error: null }]);
  });

  it('queues again or fails a job found running without a runner, under the token it was found with', async () => {
    const db = await open();
    await queueImages(db, ['a', 'b']);
    const a = (await db.repos.jobs.claim(0, 100, 'ta'))!;
    const b = (await db.repos.jobs.claim(0, 100, 'tb'))!;
    expect((await db.repos.jobs.running()).map((j) => j.id)).toEqual([a.id, b.id]);

    expect(await db.repos.jobs.requeueInterrupted({ id: a.id, lease_token: 'other' }, 20, 'stopped')).toBe(false);
    expect(await db.repos.jobs.requeueInterrupted(a, 20, 'the server stopped during this job once')).toBe(true);
    expect(await db.repos.jobs.failFound(b, 30, 'out of attempts', true)).toBe(true);
    expect(await db.repos.jobs.failFound(b, 30, 'out of attempts', true)).toBe(false);

    expect(await db.repos.jobs.running()).toEqual([]);
    const requeued = (await db.repos.jobs.claim(20, 100, 'ta2'))!;
    expect(requeued).toMatchObject({ id: a.id, attempts: 2, interruptions: 1, last_error: 'the server stopped during this job once' });
    expect(await db.repos.jobs.jobsOfCurrentGeneration(id(2))).toEqual([{ kind: 'process_image', status: 'failed', last_error: 'out of attempts' }]);
  });

  it('finds a job left running with no lease token, as an older version could leave one', async () => {
    const db = await open();
    await db.insert('jobs', [{ kind: 'purge', queue: 'maintenance', status: 'running', max_attempts: 1, run_at: 0, created_at: 0, lease_until: null, lease_token: null }]);
    const [found] = await db.repos.jobs.running();
    expect(found).toMatchObject({ lease_token: null });
    expect(await db.repos.jobs.failFound(found!, 5, 'gone', false)).toBe(true);
    expect(await db.repos.jobs.running()).toEqual([]);
  });

  it('finds the leases that ran out, except those of jobs running here', async () => {
    const db = await open();
    await queueImages(db, ['a', 'b', 'c']);
    const a = (await db.repos.jobs.claim(0, 100, 'ta'))!;
    const b = (await db.repos.jobs.claim(0, 100, 'tb'))!;
    await db.repos.jobs.claim(0, 500, 'tc'); // its lease still holds
    expect((await db.repos.jobs.expiredLeases(200, [])).map((j) => j.id)).toEqual([a.id, b.id]);
    expect((await db.repos.jobs.expiredLeases(200, new Set([a.id]))).map((j) => j.id)).toEqual([b.id]);
    expect(await db.repos.jobs.expiredLeases(100, [])).toEqual([]);
  });

  it("cancels an image's unfinished jobs of one kind older than a generation, and lists what is unfinished", async () => {
    const db = await open();
    await queueImages(db, ['a']);
    const metadataEvent = await db.repos.jobs.appendEvent('image.uploaded', id(1), {}, 0);
    await db.repos.jobs.insertJob('extract_metadata', id(1), metadataEvent, 3, 0);
    const laterEvent = await db.repos.jobs.appendEvent('image.reprocess_requested', id(1), {}, 0);
    await db.repos.jobs.insertJob('process_image', id(1), laterEvent, 3, 0);
    const running = (await db.repos.jobs.claim(0, 100, 't'))!;
    expect(running.kind).toBe('process_image');
    const all = await db.repos.jobs.unfinishedOf(id(1));
    expect(all).toHaveLength(3);

    expect(await db.repos.jobs.cancelOlder(id(1), 'process_image', 1, 5)).toEqual([]); // none older
    const cancelled = await db.repos.jobs.cancelOlder(id(1), 'process_image', 2, 5);
    expect(cancelled).toHaveLength(2); // the running one and the queued one
    expect(cancelled).toContain(running.id);
    expect(await db.repos.jobs.isOwned(running.id, 't')).toBe(false); // its lease is gone
    // The metadata extraction carries on.
    expect(await db.repos.jobs.unfinishedOf(id(1))).toEqual(all.filter((j) => !cancelled.includes(j)));
    expect(await db.repos.jobs.jobsOfCurrentGeneration(id(1))).toContainEqual({ kind: 'extract_metadata', status: 'queued', last_error: null });
  });
});
