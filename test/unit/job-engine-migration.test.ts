import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { seededImageId } from '../../bench/lib/queue-seed.js';
import { openDatabase } from '../../server/db/sqlite/connection.js';
import { MIGRATIONS } from '../../server/db/sqlite/migrations/index.js';
import { SCHEMA_VERSION } from '../../server/db/sqlite/schema-version.js';
import { syncJobOf } from '../../server/sync/sync-job.js';
import { portOver } from '../helpers/database.js';
import { tempDir } from '../helpers/server.js';

describe('migration 008: one job engine', () => {
  it('moves the S3 sync queue into jobs: operations, their attempts and errors, and the parts of an upload in progress', async () => {
    const file = path.join(tempDir('darkroom-engine-migration-'), 'darkroom.db');
    const old = new Database(file);
    for (const m of MIGRATIONS.filter((m) => m.version <= 6)) old.exec(m.sql);
    old.pragma('user_version = 6');
    old.prepare(
      `INSERT INTO images (id, customer, status, filename, bytes, sha256, format, width, height, source, created_at, queued_at)
       VALUES (?, 'alice', 'queued', 'x', 1, 'ab', 'png', 1, 1, 'upload', 0, 0)`,
    ).run(seededImageId(1));
    const job = old.prepare(
      `INSERT INTO jobs (kind, image_id, customer, generation, event_id, status, max_attempts, run_at, created_at) VALUES (?, ?, 'alice', 1, ?, 'queued', 3, 0, 0)`,
    );
    job.run('extract_metadata', seededImageId(1), 1);
    job.run('process_image', seededImageId(1), 1);
    const sync = old.prepare(
      `INSERT INTO s3_sync_jobs (op, lane, key, image_id, sha256, variant, bytes, event_id, status, attempts, run_at, lease_token, last_error, failed_at, created_at, upload_id, part_size)
       VALUES (@op, @lane, @key, @image, @sha, @variant, @bytes, 1, @status, @attempts, 5, @token, @error, @failedAt, 3, @upload, @partSize)`,
    );
    const none = { image: null, sha: null, variant: null, bytes: 0, token: null, error: null, failedAt: null, upload: null, partSize: null };
    sync.run({ ...none, op: 'put_original', lane: 'originals/ab', key: 'originals/ab', sha: 'ab', bytes: 20_000_000, status: 'running', attempts: 1, token: 't', upload: 'up-1', partSize: 8 });
    sync.run({ ...none, op: 'put_processed', lane: `processed/${seededImageId(1)}`, key: `processed/${seededImageId(1)}/thumb.webp`, image: seededImageId(1), variant: 'thumb', bytes: 10, status: 'queued', attempts: 2, error: 'slow down' });
    sync.run({ ...none, op: 'delete_original', lane: 'originals/cd', key: 'originals/cd', sha: 'cd', status: 'failed', attempts: 5, error: 'access denied', failedAt: 9 });
    old.prepare(`INSERT INTO s3_sync_parts (job_id, upload_id, part_number, etag, crc32, bytes) VALUES (1, 'up-1', ?, ?, 'crc', 8)`).run(1, 'e1');
    old.prepare(`INSERT INTO s3_sync_parts (job_id, upload_id, part_number, etag, crc32, bytes) VALUES (1, 'up-1', ?, ?, 'crc', 8)`).run(2, 'e2');
    old.close();

    const db = openDatabase(file);
    // Migrated to the latest version, past 8.
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    const rows = db.prepare(`SELECT * FROM jobs ORDER BY id`).all() as Array<Record<string, unknown>>;
    expect(rows.map((r) => [r.id, r.kind, r.queue, r.status, r.attempts])).toEqual([
      [1, 'extract_metadata', 'image', 'queued', 0],
      [2, 'process_image', 'image', 'queued', 0],
      // After every job id the jobs table had given.
      [3, 'sync_put_original', 'sync', 'running', 1],
      [4, 'sync_put_processed', 'sync', 'queued', 2],
      [5, 'sync_delete_original', 'sync', 'failed', 5],
    ]);
    const syncRepo = portOver(db).repos.sync;
    const running = syncJobOf(rows[2] as never);
    expect(running).toMatchObject({ op: 'put_original', lane: 'originals/ab', key: 'originals/ab', sha256: 'ab', bytes: 20_000_000, upload_id: 'up-1', part_size: 8 });
    // The upload in progress keeps its parts: the next attempt resumes it.
    expect((await syncRepo.parts(3, 'up-1')).map((p) => p.etag)).toEqual(['e1', 'e2']);
    expect(syncJobOf(rows[3] as never)).toMatchObject({ op: 'put_processed', image_id: seededImageId(1), variant: 'thumb', last_error: 'slow down' });
    expect((await syncRepo.failedRecent(10)).map(syncJobOf)).toMatchObject([{ id: 5, op: 'delete_original', key: 'originals/cd', attempts: 5, last_error: 'access denied', failed_at: 9 }]);
    expect(await syncRepo.backlog()).toMatchObject({ jobs: 1, bytes: 10 });
    expect(db.prepare(`SELECT name FROM sqlite_master WHERE name = 's3_sync_jobs'`).get()).toBeUndefined();

    // The fair queue's bookkeeping is untouched and counts image jobs only.
    const jobs = portOver(db).repos.jobs;
    expect(await jobs.countQueued()).toBe(2);
    await jobs.enqueue({ kind: 'watch_ingest', lane: '/photos/a.jpg', maxAttempts: 3 }, 0);
    expect(await jobs.countQueued()).toBe(2);
    expect(await jobs.claim(0, 1, 't')).toMatchObject({ kind: 'extract_metadata', customer: 'alice' });
    // New ids continue after the moved ones; deleting the sync's jobs takes their parts along.
    expect(db.prepare(`SELECT max(id) AS id FROM jobs`).get()).toEqual({ id: 6 });
    db.prepare(`DELETE FROM jobs WHERE id = 3`).run();
    expect(await syncRepo.parts(3, 'up-1')).toEqual([]);
  });
});
