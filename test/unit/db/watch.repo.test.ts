/** The watch folders and their ledger through the database port, on every dialect. */
import { describe, expect, it } from 'vitest';
import type { JobStatus } from '../../../server/db/jobs.repo.js';
import type { WatchFileRow } from '../../../server/db/watch.repo.js';
import { DIALECTS } from '../../helpers/database.js';

const file = (path: string, over: Partial<WatchFileRow> = {}): WatchFileRow => ({
  path,
  folder: '/photos',
  size: 10,
  mtime_ms: 1,
  sha256: 'ab'.repeat(32),
  outcome: 'ingested',
  image_id: '00000000-0000-7000-8000-000000000001',
  error_code: null,
  seen_at: 5,
  ...over,
});

const watchJob = (lane: string, folder: string, status: JobStatus) => ({
  kind: 'watch_ingest' as const,
  queue: 'watch' as const,
  lane,
  payload: JSON.stringify({ folder }),
  status,
  max_attempts: 3,
  run_at: 0,
  created_at: 0,
});

describe.each(DIALECTS)('watch repository on $dialect', ({ open }) => {
  it('keeps the folders added in settings, oldest first; adding one again changes only its polling', async () => {
    const db = await open();
    await db.repos.watch.addFolder('/b', false, 2);
    await db.repos.watch.addFolder('/a', true, 1);
    await db.repos.watch.addFolder('/b', true, 9);
    expect(await db.repos.watch.listFolders()).toEqual([
      { path: '/a', poll: 1, added_at: 1 },
      { path: '/b', poll: 1, added_at: 2 },
    ]);
    expect(await db.repos.watch.removeFolder('/a')).toBe(true);
    expect(await db.repos.watch.removeFolder('/a')).toBe(false);
    expect((await db.repos.watch.listFolders()).map((f) => f.path)).toEqual(['/b']);
  });

  it('records what became of a file, replacing the row of a path seen before, and finds a twin by its bytes', async () => {
    const db = await open();
    await db.repos.watch.recordFile(file('/photos/a.jpg', { outcome: 'rejected', image_id: null, error_code: 'corrupt_image', sha256: null }));
    await db.repos.watch.recordFile(file('/photos/a.jpg', { size: 20, seen_at: 7 }));
    expect(await db.repos.watch.findFile('/photos/a.jpg')).toEqual(file('/photos/a.jpg', { size: 20, seen_at: 7 }));
    expect(await db.repos.watch.findFile('/photos/none.jpg')).toBeUndefined();

    expect(await db.repos.watch.findIngestedBySha256('/photos', 'ab'.repeat(32))).toMatchObject({ path: '/photos/a.jpg' });
    // Not another folder's, and not a refused file's.
    expect(await db.repos.watch.findIngestedBySha256('/other', 'ab'.repeat(32))).toBeUndefined();
    await db.repos.watch.recordFile(file('/photos/b.jpg', { sha256: 'cd'.repeat(32), outcome: 'rejected', image_id: null, error_code: 'x' }));
    expect(await db.repos.watch.findIngestedBySha256('/photos', 'cd'.repeat(32))).toBeUndefined();
  });

  it('counts a folder\'s ingested and refused files, and when it last took one', async () => {
    const db = await open();
    expect(await db.repos.watch.counts('/photos')).toEqual({ ingested: 0, rejected: 0, lastIngestedAt: null });
    await db.repos.watch.recordFile(file('/photos/a.jpg', { seen_at: 5 }));
    await db.repos.watch.recordFile(file('/photos/b.jpg', { seen_at: 9 }));
    await db.repos.watch.recordFile(file('/photos/c.jpg', { seen_at: 12, outcome: 'rejected', image_id: null, error_code: 'corrupt_image' }));
    await db.repos.watch.recordFile(file('/other/d.jpg', { folder: '/other', seen_at: 20 }));
    expect(await db.repos.watch.counts('/photos')).toEqual({ ingested: 2, rejected: 1, lastIngestedAt: 9 });
  });

  it('counts the files of a folder waiting for their ingest, and forgets the queued ones of a folder removed', async () => {
    const db = await open();
    await db.insert('jobs', [
      watchJob('/photos/a.jpg', '/photos', 'queued'),
      watchJob('/photos/b.jpg', '/photos', 'queued'),
      watchJob('/photos/c.jpg', '/photos', 'running'),
      watchJob('/photos/d.jpg', '/photos', 'failed'),
      watchJob('/other/e.jpg', '/other', 'queued'),
    ]);
    expect(await db.repos.watch.pendingFiles('/photos')).toBe(3);
    expect(await db.repos.watch.dropQueuedFiles('/photos')).toBe(2);
    // The running one is the job engine's to finish; the other folder's stay.
    expect(await db.repos.watch.pendingFiles('/photos')).toBe(1);
    expect(await db.repos.watch.pendingFiles('/other')).toBe(1);
  });

  it('writes a ledger row in a unit of work, undone with it', async () => {
    const db = await open();
    await expect(
      db.unitOfWork(async (repos) => {
        await repos.watch.recordFile(file('/photos/a.jpg'));
        throw new Error('the image was not recorded after all');
      }),
    ).rejects.toThrow();
    expect(await db.repos.watch.findFile('/photos/a.jpg')).toBeUndefined();
  });
});
