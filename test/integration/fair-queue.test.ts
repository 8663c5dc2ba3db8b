import { afterAll, describe, expect, it } from 'vitest';
import type { JobRow } from '../../server/db/jobs.repo.js';
import { eventually } from '../helpers/eventually.js';
import { solid } from '../helpers/images.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const WORKERS = 2;
const BATCH_IMAGES = 260; // two jobs each: 520 queued
const FILES_PER_REQUEST = 52;

let t: TestServer | undefined;
afterAll(() => t?.close());

describe('fair queueing', () => {
  it("starts another customer's upload within the next 2 × --workers jobs while one customer has 500 waiting", async () => {
    t = await startTestServer({ config: { workers: String(WORKERS) } });
    const { runner, jobs, database } = t.server.parts;
    const batch = await t.client('user', 'batch-studio');
    const single = await t.client('user', 'single-photographer');
    // Big enough that the batch takes a while (tens of milliseconds a job), small to upload.
    const photo = await solid(1600, 1200, 'jpeg', '#5a7d9a');

    // The batch is queued while the runner holds still, so it really waits; then it runs.
    await runner.stop(0);
    for (let sent = 0; sent < BATCH_IMAGES; sent += FILES_PER_REQUEST) {
      const files = Array.from({ length: FILES_PER_REQUEST }, (_, i) => ({ name: `batch-${sent + i}.jpg`, data: photo, type: 'image/jpeg' }));
      expect((await batch.upload(files)).status).toBe(202);
    }
    expect(await jobs.countQueued()).toBe(BATCH_IMAGES * 2);

    const claims: JobRow[] = [];
    runner.events.on('claimed', (job) => claims.push(job));
    // The moment the single upload's jobs are queued, and how much of the batch waits then.
    let queuedAt: number | undefined;
    let batchWaiting = 0;
    // The dispatcher queues jobs with the repositories of its unit of work: watched there.
    const unitJobs = await database.unitOfWork(async (repos) => repos.jobs);
    const insertJob = unitJobs.insertJob;
    unitJobs.insertJob = async (...args) => {
      if (queuedAt === undefined && claims.length > 0) {
        queuedAt = claims.length;
        batchWaiting = await unitJobs.countQueued();
      }
      return insertJob(...args);
    };
    await runner.start();
    await eventually(() => claims.length >= WORKERS, 10_000, 'the batch started');

    const res = await single.upload([{ name: 'portrait.jpg', data: photo, type: 'image/jpeg' }]);
    expect(res.status).toBe(202);
    const done = await single.waitFor(res.body.id);
    expect(done.status).toBe('done');

    expect(queuedAt).toBeDefined();
    expect(batchWaiting).toBeGreaterThanOrEqual(500);
    const positions = claims.flatMap((job, i) => (job.image_id === res.body.id ? [i - queuedAt!] : []));
    console.log(`batch jobs waiting when the single upload was queued: ${batchWaiting}; its jobs were claims ${positions.map((p) => `#${p + 1}`).join(' and ')} after that`);
    expect(positions).toHaveLength(2); // extract_metadata and process_image
    for (const position of positions) expect(position).toBeLessThan(2 * WORKERS);
    // The batch did not have to drain first: almost all of it still waits.
    expect(await jobs.countQueued()).toBeGreaterThan(400);
    expect(claims.filter((job) => job.customer === 'batch-studio').length).toBeLessThan(100);
  });
});
