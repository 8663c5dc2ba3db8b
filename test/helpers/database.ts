import path from 'node:path';
import { afterEach } from 'vitest';
import type { DatabasePort } from '../../server/db/port.js';
import { openSqliteDatabase } from '../../server/db/sqlite/sqlite-database.js';
import { tempDirs } from './server.js';

/**
 * The database adapters a repository test runs against: `describe.each(DIALECTS)(…)`. Each
 * opens a fresh, fully migrated database and closes it after the test. A test here may use only
 * the port (repositories, units of work); one that looks under an adapter belongs to it.
 */
export interface TestDialect {
  dialect: string;
  open(): DatabasePort;
}

const dir = tempDirs('darkroom-db-');
const opened: DatabasePort[] = [];
afterEach(() => {
  for (const db of opened.splice(0)) db.close();
});

const track = <T extends DatabasePort>(db: T): T => {
  opened.push(db);
  return db;
};

/** A real SQLite file in a temp folder, opened as the server opens it (WAL, migrations). */
export const openTestSqlite = (options: { fsync?: boolean } = {}) => track(openSqliteDatabase(path.join(dir(), 'darkroom.db'), options));

export const DIALECTS: TestDialect[] = [{ dialect: 'sqlite', open: () => openTestSqlite() }];
