import { afterEach, describe, expect, it } from 'vitest';
import type { JobOutcome } from '../../server/jobs/runner.js';
import type { JobRow } from '../../server/db/jobs.repo.js';
import { eventually } from '../helpers/eventually.js';
import { solid } from '../helpers/images.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let t: TestServer | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

/** The image's process_image jobs by status, from the database. */
function processJobs(server: TestServer, imageId: string): Record<string, number> {
  const rows = server.server.parts.db
    .prepare(`SELECT status, count(*) AS n FROM jobs WHERE image_id = ? AND kind = 'process_image' GROUP BY status`)
    .all(imageId) as Array<{ status: string; n: number }>;
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

describe('reprocess', () => {
  it('counts against --max-queued-jobs like an upload: 429 with Retry-After once the queue is full', async () => {
    t = await startTestServer({ config: { maxQueuedJobs: '20' } });
    const { runner, jobs } = t.server.parts;
    const alice = await t.client('user', 'alice');
    const bob = await t.client('user', 'bob');
    const png = await solid(64, 48, 'png');
    await runner.stop(0); // nothing leaves the queue while it fills

    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await alice.upload([{ name: `a${i}.png`, data: png, type: 'image/png' }]);
      expect(res.status).toBe(202);
      ids.push(res.body.id);
    }
    expect(await jobs.countQueued()).toBe(20);

    const refused = await alice.json('POST', `/v1/image/${ids[0]}/reprocess`);
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('too_many_requests');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    // Refused means nothing happened: no new generation, no new job.
    expect((await alice.json('GET', `/v1/image/${ids[0]}`)).body.status).toBe('queued');
    expect((await t.server.parts.images.findById(ids[0]!))!.generation).toBe(1);
    expect(await jobs.countQueued()).toBe(20);
    const upload = await bob.upload([{ name: 'b.png', data: png, type: 'image/png' }]);
    expect(upload.status).toBe(429);
  });

  it("40 calls on one image leave one job, not 40; other customers' uploads are still accepted", async () => {
    t = await startTestServer({ config: { maxQueuedJobs: '20' } });
    const { runner, jobs } = t.server.parts;
    const alice = await t.client('user', 'alice');
    const bob = await t.client('user', 'bob');
    const png = await solid(64, 48, 'png');
    const first = await alice.upload([{ name: 'a.png', data: png, type: 'image/png' }]);
    expect((await alice.waitFor(first.body.id)).status).toBe('done');

    await runner.stop(0);
    for (let i = 0; i < 40; i++) {
      const res = await alice.json('POST', `/v1/image/${first.body.id}/reprocess`);
      expect(res.status, JSON.stringify(res.body)).toBe(202);
    }
    expect(processJobs(t, first.body.id)).toEqual({ done: 1, cancelled: 39, queued: 1 });
    expect(await jobs.countQueued()).toBe(1);
    for (let i = 0; i < 5; i++) expect((await bob.upload([{ name: `b${i}.png`, data: png, type: 'image/png' }])).status).toBe(202);

    await runner.start();
    const done = await alice.waitFor(first.body.id);
    expect(done.status).toBe('done');
    expect(done.variants.every((v: { status: string }) => v.status === 'done')).toBe(true);
    expect((await t.server.parts.images.findById(first.body.id))!.generation).toBe(41);
    expect(processJobs(t, first.body.id)).toEqual({ done: 2, cancelled: 39 });
  });

  it('stops a running process job of the image and keeps its first metadata extraction', async () => {
    t = await startTestServer({ config: { workers: '2' } });
    const { runner } = t.server.parts;
    const alice = await t.client('user', 'alice');
    // Several large variants: the first job is still running when the reprocess comes.
    const photo = await solid(2000, 1500, 'jpeg', '#3d6b4f');
    const variants = JSON.stringify(
      Array.from({ length: 4 }, (_, i) => ({ name: `v${i}`, width: 2000, height: 1500, fit: 'fill', format: 'avif', quality: 90 })),
    );
    const settled: Array<[JobRow, JobOutcome]> = [];
    runner.events.on('settled', (job, outcome) => settled.push([job, outcome]));
    const claimed: JobRow[] = [];
    runner.events.on('claimed', (job) => claimed.push(job));

    const res = await alice.upload([{ name: 'a.jpg', data: photo, type: 'image/jpeg' }], { variants });
    expect(res.status).toBe(202);
    const firstJob = await eventually(() => claimed.find((j) => j.kind === 'process_image'), 10_000, 'processing started');
    expect((await alice.json('POST', `/v1/image/${res.body.id}/reprocess`)).status).toBe(202);

    // Stopped, not left to finish or failed: its row says cancelled, and nothing of it committed.
    const [, outcome] = await eventually(() => settled.find(([job]) => job.id === firstJob.id), 30_000, 'the first job ended');
    expect(outcome).toBe('cancelled');
    const done = await alice.waitFor(res.body.id, ['done', 'failed'], 120_000);
    expect(done.status).toBe('done');
    expect(done.variants.map((v: { status: string }) => v.status)).toEqual(Array(4).fill('done'));
    expect(processJobs(t, res.body.id)).toEqual({ cancelled: 1, done: 1 });
    // The first generation's metadata extraction was not superseded, and it completed.
    const metadata = await alice.json('GET', `/v1/image/${res.body.id}/metadata`);
    expect(metadata.body).toMatchObject({ extracted: true, width: 2000, height: 1500 });
  });
});
