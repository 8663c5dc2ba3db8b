/** The dispatcher over the database port: real SQLite. */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { createDispatcher } from '../../server/jobs/dispatcher.js';
import { createManualClock } from '../../server/util/clock.js';
import { openTestSqlite } from '../helpers/database.js';

describe('dispatcher', () => {
  it('with no pending event, takes no write lock: another process holding it (a CLI command) does not stall or fail a wake-up', async () => {
    const db = openTestSqlite({ fsync: false });
    const dispatcher = createDispatcher({ database: db, clock: createManualClock(0), maxAttempts: 3 });
    const other = new Database(db.connection.name);
    try {
      other.exec('BEGIN IMMEDIATE');
      expect(await dispatcher.dispatch()).toBe(0);
    } finally {
      other.close();
    }
  });

  it('turns pending events into jobs, each event once', async () => {
    const db = openTestSqlite({ fsync: false });
    const dispatcher = createDispatcher({ database: db, clock: createManualClock(0), maxAttempts: 3 });
    await db.insert('images', [
      { id: 'img-1', customer: 'c', status: 'queued', filename: 'x', bytes: 1, sha256: 'ab'.repeat(32), format: 'png', width: 1, height: 1, pages: 1, source: 'upload', created_at: 0, queued_at: 0 },
    ]);
    await db.unitOfWork(async ({ jobs }) => void (await jobs.appendEvent('image.uploaded', 'img-1', {}, 0)));
    expect(await dispatcher.dispatch()).toBe(1);
    expect(await dispatcher.dispatch()).toBe(0);
    expect((await db.rows('jobs')).map((j) => j.kind).sort()).toEqual(['extract_metadata', 'process_image']);
  });
});
