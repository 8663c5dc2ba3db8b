/**
 * An image is settled (status, statistics, its `image.processed` or `image.failed` event) once
 * per generation, however its jobs of this and older generations end. Real SQLite, the real
 * repositories, dispatcher and metadata handler; jobs are finished the way the runner does.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../server/db/sqlite/connection.js';
import type { ImageJobRow } from '../../server/db/jobs.repo.js';
import { createDispatcher } from '../../server/jobs/dispatcher.js';
import { createExtractMetadataHandler } from '../../server/jobs/handlers/extract-metadata.js';
import type { ImagePool } from '../../server/jobs/pool.js';
import { JobError } from '../../server/jobs/runner.js';
import { createLifecycle } from '../../server/services/lifecycle.js';
import { createFsBlobStore } from '../../server/storage/fs/fs-blob-store.js';
import { systemClock } from '../../server/util/clock.js';
import { portOver, unitOfWorkOver } from '../helpers/database.js';
import { tempDir } from '../helpers/server.js';

const ID = '00000000-0000-7000-8000-000000000001';

async function setup() {
  const dir = tempDir('darkroom-lifecycle-');
  const db = openDatabase(path.join(dir, 'darkroom.db'));
  const images = portOver(db).repos.images;
  const jobs = portOver(db).repos.jobs;
  const lifecycle = createLifecycle({ images, clock: systemClock });
  const unitOfWork = unitOfWorkOver(db);
  const dispatcher = createDispatcher({ database: portOver(db), clock: systemClock, maxAttempts: 3 });
  const metadata = createExtractMetadataHandler({
    images,
    store: createFsBlobStore(dir),
    pool: {} as ImagePool, // only giveUp is used here, which needs no worker
    clock: systemClock,
    lifecycle,
  });
  const now = Date.now();
  await images.insert(
    { id: ID, customer: 'c', filename: 'x.png', bytes: 1, sha256: 'ab'.repeat(32), format: 'png', width: 1, height: 1, pages: 1, source: 'upload', created_at: now },
    [],
  );
  await jobs.appendEvent('image.uploaded', ID, { customer: 'c', format: 'png' }, now);
  await dispatcher.dispatch();

  const job = (kind: string, generation: number) =>
    db.prepare<[string, string, number], ImageJobRow>(`SELECT * FROM jobs WHERE image_id = ? AND kind = ? AND generation = ?`).get(ID, kind, generation)!;
  /** Claims the job and finishes it as the runner does: in one transaction with settling. */
  const finish = async (kind: 'process_image' | 'extract_metadata', generation: number) => {
    const row = job(kind, generation);
    db.prepare(`UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_token = 't' WHERE id = ?`).run(row.id);
    await unitOfWork(async (repos) => {
      expect(await repos.jobs.finish(row, 't', 'done', Date.now())).toBe(true);
      await lifecycle.settle(row, repos);
    });
  };
  /** Fails it for good, as the runner does after its last attempt. */
  const giveUp = async (kind: 'extract_metadata', generation: number) => {
    const row = job(kind, generation);
    db.prepare(`UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_token = 't' WHERE id = ?`).run(row.id);
    await unitOfWork(async (repos) => {
      expect(await repos.jobs.finish(row, 't', 'failed', Date.now(), 'broken')).toBe(true);
      await metadata.giveUp(row, new JobError('broken', 'corrupt_image', false), repos);
    });
  };
  /** POST /v1/image/{id}/reprocess: a new generation, older processing cancelled (images.service). */
  const reprocess = () =>
    unitOfWork(async (repos) => {
      const at = Date.now();
      const generation = await repos.images.startGeneration(ID, at);
      await repos.jobs.appendEvent('image.reprocess_requested', ID, { generation }, at);
      await repos.jobs.cancelOlder(ID, 'process_image', generation, at);
      return generation;
    });
  const counted = () => db.prepare(`SELECT coalesce(sum(processed), 0) AS processed, coalesce(sum(failed), 0) AS failed FROM stats_daily WHERE level = 0`).get();
  const events = (type: string) => (db.prepare(`SELECT count(*) AS n FROM outbox WHERE type = ?`).get(type) as { n: number }).n;
  const image = async () => (await images.findById(ID))!;
  return { dispatcher, finish, giveUp, reprocess, counted, events, image };
}

describe('settling an image', () => {
  it('counts a reprocessed image once when the original upload\'s metadata extraction ends after the new generation', async () => {
    const t = await setup();
    expect(await t.reprocess()).toBe(2);
    await t.dispatcher.dispatch();
    await t.finish('process_image', 2);
    expect(await t.image()).toMatchObject({ status: 'done', generation: 2 });
    const processedAt = (await t.image()).processed_at;
    expect(t.counted()).toEqual({ processed: 1, failed: 0 });

    // The first generation's extraction, left running by the reprocess, ends now.
    await t.finish('extract_metadata', 1);
    expect(t.counted()).toEqual({ processed: 1, failed: 0 });
    expect(t.events('image.processed')).toBe(1);
    expect(await t.image()).toMatchObject({ status: 'done', processed_at: processedAt });
  });

  it('does not settle a new generation whose jobs do not exist yet when an older job ends', async () => {
    const t = await setup();
    await t.reprocess(); // its event is not dispatched yet: generation 2 has no jobs
    await t.finish('extract_metadata', 1);
    expect(await t.image()).toMatchObject({ status: 'queued', processed_at: null });
    expect(t.counted()).toEqual({ processed: 0, failed: 0 });
    expect(t.events('image.processed')).toBe(0);

    await t.dispatcher.dispatch();
    await t.finish('process_image', 2);
    expect((await t.image()).status).toBe('done');
    expect(t.counted()).toEqual({ processed: 1, failed: 0 });
    expect(t.events('image.processed')).toBe(1);
  });

  it('does not settle again when an older generation\'s extraction fails for good after the new one settled', async () => {
    const t = await setup();
    await t.reprocess();
    await t.dispatcher.dispatch();
    await t.finish('process_image', 2);
    await t.giveUp('extract_metadata', 1);
    expect((await t.image()).status).toBe('done');
    expect(t.counted()).toEqual({ processed: 1, failed: 0 });
    expect(t.events('image.processed') + t.events('image.failed')).toBe(1);
  });

  it('settles an upload once both of its jobs have ended, in either order', async () => {
    const t = await setup();
    await t.finish('process_image', 1);
    expect((await t.image()).status).toBe('queued'); // its metadata is still being read
    await t.finish('extract_metadata', 1);
    expect((await t.image()).status).toBe('done');
    expect(t.counted()).toEqual({ processed: 1, failed: 0 });
    expect(t.events('image.processed')).toBe(1);
  });
});
