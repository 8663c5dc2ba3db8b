/** The S3 sync's operations, parts, originals, counters and cursor through the database port, on every dialect. */
import { describe, expect, it } from 'vitest';
import type { Insertable } from 'kysely';
import type { ImagesTable, JobsTable, VariantsTable } from '../../../server/db/schema.js';
import type { JobStatus } from '../../../server/jobs/kinds.js';
import type { NewSyncJob } from '../../../server/db/sync.repo.js';
import { syncJobOf } from '../../../server/sync/sync-job.js';
import { DIALECTS } from '../../helpers/database.js';

const id = (n: number) => `00000000-0000-7000-8000-${String(n).padStart(12, '0')}`;
const sha = (c: string) => c.repeat(64);

const image = (n: number, over: Partial<Insertable<ImagesTable>> = {}): Insertable<ImagesTable> => ({
  id: id(n),
  customer: 'acme',
  status: 'done',
  filename: `${n}.jpg`,
  bytes: 100,
  sha256: sha('a'),
  format: 'jpeg',
  width: 4,
  height: 3,
  source: 'upload',
  created_at: n,
  queued_at: n,
  ...over,
});

const variant = (imageId: string, name: string, over: Partial<Insertable<VariantsTable>> = {}): Insertable<VariantsTable> => ({
  image_id: imageId,
  name,
  spec: '{}',
  status: 'done',
  format: 'webp',
  bytes: 10,
  path: `processed/${imageId}/${name}.webp`,
  ...over,
});

let events = 0;
const imageJob = (imageId: string, status: JobStatus): Insertable<JobsTable> => ({
  kind: 'process_image',
  queue: 'image',
  image_id: imageId,
  customer: 'acme',
  generation: 1,
  event_id: ++events,
  status,
  max_attempts: 3,
  run_at: 0,
  created_at: 0,
});

const put = (key: string, over: Partial<NewSyncJob> = {}): NewSyncJob => ({
  op: 'put_original',
  lane: key,
  key,
  sha256: key.slice('originals/'.length),
  bytes: 100,
  maxAttempts: 4,
  ...over,
});

describe.each(DIALECTS)('sync repository on $dialect', ({ open }) => {
  it('queues an operation as a job of the sync queue, once for an upload already waiting at the end of its lane', async () => {
    const db = await open();
    const sync = db.repos.sync;
    const key = `originals/${sha('a')}`;
    expect(await sync.enqueue(put(key, { imageId: id(1) }), 10)).toBe(true);
    // The same upload again while the first waits: one upload.
    expect(await sync.enqueue(put(key), 11)).toBe(false);
    // A delete is never folded; after it, an upload is queued again.
    expect(await sync.enqueue(put(key, { op: 'delete_original' }), 12)).toBe(true);
    expect(await sync.enqueue(put(key, { op: 'delete_original' }), 13)).toBe(true);
    expect(await sync.enqueue(put(key), 14)).toBe(true);
    // Another key in the same lane is another upload.
    expect(await sync.enqueue(put(key, { op: 'put_processed', key: 'processed/x/thumb.webp' }), 15)).toBe(true);

    expect(await sync.backlog()).toEqual({ jobs: 5, bytes: 500, oldest: 10 });
    expect((await db.rows('jobs')).map((j) => [j.kind, j.queue, j.lane, j.status, j.max_attempts, j.run_at])).toEqual([
      ['sync_put_original', 'sync', key, 'queued', 4, 10],
      ['sync_delete_original', 'sync', key, 'queued', 4, 12],
      ['sync_delete_original', 'sync', key, 'queued', 4, 13],
      ['sync_put_original', 'sync', key, 'queued', 4, 14],
      ['sync_put_processed', 'sync', key, 'queued', 4, 15],
    ]);
    // Failed ones are not part of the backlog.
    await db.insert('jobs', [{ kind: 'sync_delete_image', queue: 'sync', lane: 'processed/y', payload: JSON.stringify({ key: 'processed/y/' }), status: 'failed', max_attempts: 4, run_at: 0, created_at: 1 }]);
    expect((await sync.backlog()).jobs).toBe(5);
  });

  it('reads its operations as the engine stores them: kind, lane, payload and attempt limit', async () => {
    const db = await open();
    await db.repos.sync.enqueue(put(`originals/${sha('b')}`, { imageId: id(2), variant: null, bytes: 7 }), 20);
    const [queued] = await db.rows('jobs');
    expect(syncJobOf(queued as never)).toMatchObject({ op: 'put_original', lane: `originals/${sha('b')}`, key: `originals/${sha('b')}`, image_id: id(2), sha256: sha('b'), variant: null, bytes: 7, status: 'queued', attempts: 0, failed_at: null, upload_id: null, part_size: null });
    await db.insert('jobs', [{ kind: 'sync_delete_processed', queue: 'sync', lane: 'processed/z', payload: '{"key":"k"}', status: 'failed', max_attempts: 4, run_at: 0, created_at: 1, finished_at: 30, attempts: 4, last_error: 'access denied' }]);
    const [failed] = await db.repos.sync.failedRecent(10);
    expect(failed).toMatchObject({ kind: 'sync_delete_processed', queue: 'sync', status: 'failed', max_attempts: 4 });
    expect(syncJobOf(failed!)).toMatchObject({ op: 'delete_processed', key: 'k', attempts: 4, last_error: 'access denied', failed_at: 30 });
  });

  it('counts and lists the operations given up, newest first, and queues them again with their attempts from zero', async () => {
    const db = await open();
    const failed = (n: number, finishedAt: number): Insertable<JobsTable> => ({
      kind: 'sync_put_original',
      queue: 'sync',
      lane: `originals/${n}`,
      payload: JSON.stringify({ key: `originals/${n}`, bytes: n }),
      status: 'failed',
      attempts: 5,
      max_attempts: 5,
      run_at: 0,
      created_at: 0,
      finished_at: finishedAt,
    });
    await db.insert('jobs', [failed(1, 50), failed(2, 70), failed(3, 60)]);
    // Not the sync's: never counted, never retried here.
    await db.insert('jobs', [{ kind: 'purge', queue: 'maintenance', lane: 'purge', status: 'failed', max_attempts: 5, run_at: 0, created_at: 0, finished_at: 99 }]);
    expect(await db.repos.sync.failedCount()).toBe(3);
    expect((await db.repos.sync.failedRecent(2)).map((j) => syncJobOf(j).key)).toEqual(['originals/2', 'originals/3']);

    expect(await db.repos.sync.retryFailed(80)).toBe(3);
    expect(await db.repos.sync.failedCount()).toBe(0);
    expect(await db.repos.sync.backlog()).toEqual({ jobs: 3, bytes: 6, oldest: 0 });
    expect(await db.repos.sync.retryFailed(90)).toBe(0);
  });

  it('keeps a multipart upload of a job and its parts, a part recorded again replacing the first, and forgets them when the upload changes', async () => {
    const db = await open();
    const sync = db.repos.sync;
    await sync.enqueue(put(`originals/${sha('c')}`), 0);
    const jobId = (await db.rows('jobs'))[0]!.id;
    expect(await sync.uploadOf(jobId)).toBeNull();

    await db.unitOfWork((repos) => repos.sync.setUpload(jobId, 'up-1', 8));
    expect(await sync.uploadOf(jobId)).toBe('up-1');
    const part = (n: number, etag: string) => ({ jobId, uploadId: 'up-1', partNumber: n, etag, crc32: 'crc', bytes: 8 });
    await sync.addPart(part(2, 'e2'));
    await sync.addPart(part(1, 'e1'));
    await sync.addPart(part(2, 'e2-again'));
    expect(await sync.parts(jobId, 'up-1')).toEqual([
      { part_number: 1, etag: 'e1', crc32: 'crc', bytes: 8 },
      { part_number: 2, etag: 'e2-again', crc32: 'crc', bytes: 8 },
    ]);
    expect(await sync.parts(jobId, 'up-other')).toEqual([]);
    // The upload is part of the job's payload, read by the next attempt; a new one forgets the old one's parts.
    await db.unitOfWork((repos) => repos.sync.setUpload(jobId, 'up-2', 16));
    expect(await sync.uploadOf(jobId)).toBe('up-2');
    expect(syncJobOf((await db.rows('jobs'))[0] as never)).toMatchObject({ upload_id: 'up-2', part_size: 16, key: `originals/${sha('c')}`, bytes: 100 });
    expect(await sync.parts(jobId, 'up-1')).toEqual([]);

    await db.unitOfWork((repos) => repos.sync.setUpload(jobId, null, null));
    expect(await sync.uploadOf(jobId)).toBeNull();
    // Only the sync's jobs carry uploads.
    await db.insert('images', [image(9)]);
    await db.insert('jobs', [imageJob(id(9), 'queued')]);
    await db.unitOfWork((repos) => repos.sync.setUpload(2, 'up-x', 8));
    expect(await sync.uploadOf(2)).toBeNull();
    expect((await db.rows('jobs'))[1]!.payload).toBe('{}');
  });

  it('reads the outbox after its cursor, counts what it has not read, and moves the cursor', async () => {
    const db = await open();
    const sync = db.repos.sync;
    const event = (n: number) => ({ type: 'image.uploaded' as const, image_id: id(n), payload: '{}', created_at: n });
    await db.insert('outbox', [event(1), event(2), event(3)]);
    expect(await sync.unfedEvents()).toBe(3);
    expect((await sync.eventsAfter(0, 2)).map((e) => [e.id, e.type, e.image_id])).toEqual([
      [1, 'image.uploaded', id(1)],
      [2, 'image.uploaded', id(2)],
    ]);
    await sync.setCursor(2);
    expect((await sync.state()).outbox_cursor).toBe(2);
    expect(await sync.unfedEvents()).toBe(1);
    expect((await sync.eventsAfter(2, 10)).map((e) => e.id)).toEqual([3]);
  });

  it('counts what it synced, deleted and evicted', async () => {
    const db = await open();
    const sync = db.repos.sync;
    await sync.addSynced(100);
    await sync.addSynced(50);
    await sync.addDeleted(3);
    await sync.addDeleted(1);
    await sync.originalIsLocal(sha('a'), 70, 0);
    await db.unitOfWork((repos) => repos.sync.originalEvicted(sha('a'), 70));
    expect(await sync.state()).toMatchObject({ synced_objects: 2, synced_bytes: 150, deleted_objects: 4, evicted_originals: 1, evicted_bytes: 70, local_bytes: 0 });
  });

  it('tracks an original: local, synced, gone locally, touched at most once a minute', async () => {
    const db = await open();
    const sync = db.repos.sync;
    expect(await sync.original(sha('a'))).toBeUndefined();
    await sync.originalIsLocal(sha('a'), 100, 1_000);
    expect(await sync.original(sha('a'))).toEqual({ sha256: sha('a'), bytes: 100, local: 1, synced_at: null, last_used_at: 1_000 });
    expect((await sync.state()).local_bytes).toBe(100);

    await sync.originalSynced(sha('a'), 100, true, 2_000);
    expect(await sync.original(sha('a'))).toMatchObject({ local: 1, synced_at: 2_000, last_used_at: 1_000 });
    // Synced without a local copy (uploaded, then lost or evicted before the row): not local.
    await sync.originalSynced(sha('b'), 40, false, 2_500);
    expect(await sync.original(sha('b'))).toEqual({ sha256: sha('b'), bytes: 40, local: 0, synced_at: 2_500, last_used_at: 2_500 });

    await sync.touchOriginal(sha('a'), 30_000);
    expect((await sync.original(sha('a')))!.last_used_at).toBe(1_000);
    await sync.touchOriginal(sha('a'), 61_001);
    expect((await sync.original(sha('a')))!.last_used_at).toBe(61_001);

    await sync.originalGoneLocally(sha('a'));
    expect(await sync.original(sha('a'))).toMatchObject({ local: 0, synced_at: 2_000 });
    expect((await sync.state()).local_bytes).toBe(0);
    // Back on disk (brought back from the bucket): local again, its use now.
    await sync.originalIsLocal(sha('a'), 100, 70_000);
    expect(await sync.original(sha('a'))).toMatchObject({ local: 1, synced_at: 2_000, last_used_at: 70_000 });
  });

  it('forgets an original deleted from the bucket unless an image uses it again', async () => {
    const db = await open();
    await db.insert('images', [image(1, { sha256: sha('b'), format: 'png' })]);
    await db.repos.sync.originalSynced(sha('a'), 1, true, 1);
    await db.repos.sync.originalSynced(sha('b'), 1, true, 1);
    await db.unitOfWork(async (repos) => {
      await repos.sync.originalDeletedRemotely(sha('a'));
      await repos.sync.originalDeletedRemotely(sha('b'));
    });
    expect(await db.repos.sync.original(sha('a'))).toBeUndefined();
    expect(await db.repos.sync.original(sha('b'))).toMatchObject({ synced_at: null });
    expect(await db.repos.sync.imagesUsing(sha('b'))).toBe(1);
    expect(await db.repos.sync.imagesUsing(sha('a'))).toBe(0);
    expect(await db.repos.sync.formatOf(sha('b'))).toBe('png');
    expect(await db.repos.sync.formatOf(sha('a'))).toBeUndefined();
  });

  it('offers for eviction only local, verified, settled originals no processing is about to read, least recently used first', async () => {
    const db = await open();
    const sync = db.repos.sync;
    const synced = async (c: string, usedAt: number) => {
      await sync.originalIsLocal(sha(c), 10, usedAt);
      await sync.originalSynced(sha(c), 10, true, usedAt);
    };
    await synced('a', 30);
    await synced('b', 10);
    await synced('c', 20);
    await synced('d', 5);
    await synced('e', 6);
    await sync.originalIsLocal(sha('f'), 10, 1); // never synced
    // d: an operation of its lane is pending; e: an image of those bytes is being processed.
    await sync.enqueue(put(`originals/${sha('d')}`, { op: 'delete_original' }), 0);
    await db.insert('images', [image(1, { sha256: sha('e') }), image(2, { sha256: sha('a') })]);
    await db.insert('jobs', [imageJob(id(1), 'running'), imageJob(id(2), 'done')]);
    await sync.originalGoneLocally(sha('c'));
    await sync.originalIsLocal(sha('c'), 10, 20);

    expect((await sync.evictable(10)).map((o) => o.sha256)).toEqual([sha('b'), sha('c'), sha('a')]);
    expect((await sync.evictable(1)).map((o) => o.sha256)).toEqual([sha('b')]);
    await sync.originalGoneLocally(sha('b'));
    expect((await sync.evictable(10)).map((o) => o.sha256)).toEqual([sha('c'), sha('a')]);
  });

  it('counts the originals in use whose only copy is the bucket\'s', async () => {
    const db = await open();
    const sync = db.repos.sync;
    expect(await sync.evicted()).toEqual({ originals: 0, bytes: 0 });
    await db.insert('images', [image(1, { sha256: sha('a') }), image(2, { sha256: sha('b') })]);
    await sync.originalSynced(sha('a'), 30, false, 1);
    await sync.originalSynced(sha('b'), 40, true, 1);
    // Not used by any image any more: not counted.
    await sync.originalSynced(sha('c'), 50, false, 1);
    expect(await sync.evicted()).toEqual({ originals: 1, bytes: 30 });
  });

  it('starts fresh: every original and every processed file in place queued for upload, the cursor at the end of the outbox', async () => {
    const db = await open();
    const sync = db.repos.sync;
    await db.insert('images', [
      image(1, { sha256: sha('a'), bytes: 100 }),
      image(2, { sha256: sha('a'), bytes: 100 }),
      image(3, { sha256: sha('b'), bytes: 40 }),
    ]);
    await db.insert('variants', [
      variant(id(1), 'thumb'),
      variant(id(1), 'display', { format: 'jpeg', bytes: null, path: `processed/${id(1)}/display.jpg` }),
      variant(id(3), 'thumb', { status: 'expired' }),
      variant(id(3), 'display', { status: 'pending', path: null }),
    ]);
    await db.insert('outbox', [1, 2, 3].map((n) => ({ type: 'image.uploaded', image_id: id(n), payload: '{}', created_at: n })));
    // What the previous bucket had: its operations and its originals go.
    await sync.enqueue(put(`originals/${sha('z')}`), 0);
    await sync.originalSynced(sha('z'), 5, false, 0);

    await db.unitOfWork((repos) => repos.sync.startFresh('{"bucket":"b"}', 500, 7));

    expect(await sync.state()).toMatchObject({ target: '{"bucket":"b"}', outbox_cursor: 3, local_bytes: 140 });
    expect(await sync.unfedEvents()).toBe(0);
    expect(await sync.original(sha('z'))).toBeUndefined();
    expect(await sync.original(sha('a'))).toEqual({ sha256: sha('a'), bytes: 100, local: 1, synced_at: null, last_used_at: 500 });
    expect(await sync.backlog()).toEqual({ jobs: 4, bytes: 100 + 40 + 10 + 0, oldest: 500 });

    const jobs = (await db.rows('jobs'))
      .map((j) => ({ kind: j.kind, lane: j.lane, max_attempts: j.max_attempts, run_at: j.run_at, payload: JSON.parse(j.payload) as { key: string } }))
      .sort((x, y) => x.payload.key.localeCompare(y.payload.key));
    expect(jobs).toEqual([
      { kind: 'sync_put_original', lane: `originals/${sha('a')}`, max_attempts: 7, run_at: 500, payload: { key: `originals/${sha('a')}`, sha256: sha('a'), bytes: 100 } },
      { kind: 'sync_put_original', lane: `originals/${sha('b')}`, max_attempts: 7, run_at: 500, payload: { key: `originals/${sha('b')}`, sha256: sha('b'), bytes: 40 } },
      {
        kind: 'sync_put_processed',
        lane: `processed/${id(1)}`,
        max_attempts: 7,
        run_at: 500,
        payload: { key: `processed/${id(1)}/display.jpg`, imageId: id(1), variant: 'display', bytes: 0 },
      },
      {
        kind: 'sync_put_processed',
        lane: `processed/${id(1)}`,
        max_attempts: 7,
        run_at: 500,
        payload: { key: `processed/${id(1)}/thumb.webp`, imageId: id(1), variant: 'thumb', bytes: 10 },
      },
    ]);
    // An upload already waiting at the end of its lane is not queued again by the feeder.
    expect(await sync.enqueue(put(`originals/${sha('b')}`, { bytes: 40 }), 600)).toBe(false);
  });
});

