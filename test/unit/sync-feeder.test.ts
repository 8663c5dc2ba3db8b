/** The S3 sync's feeder over the database port: real SQLite, a real blob store. */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { createFsBlobStore } from '../../server/storage/fs/fs-blob-store.js';
import { createSyncFeeder } from '../../server/sync/feeder.js';
import { createManualClock } from '../../server/util/clock.js';
import { openTestSqlite } from '../helpers/database.js';
import { tempDirs } from '../helpers/server.js';

const dir = tempDirs('darkroom-feeder-');

describe('sync feeder', () => {
  it('with nothing to feed, takes no write lock: another process holding it (a backup, a CLI command) does not stall or fail the poll', async () => {
    const db = openTestSqlite({ fsync: false });
    const store = createFsBlobStore(dir(), { fsync: false });
    store.init();
    const feeder = createSyncFeeder({
      store,
      clock: createManualClock(0),
      unitOfWork: (work) => db.unitOfWork(work),
      sync: db.repos.sync,
      maxAttempts: 3,
    });
    const other = new Database(db.connection.name);
    try {
      other.exec('BEGIN IMMEDIATE');
      expect(await feeder.feed()).toEqual({ events: 0, originalsAdded: false, more: false });
    } finally {
      other.close();
    }
  });
});
