import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { MIGRATIONS } from './migrations/index.js';

export type Db = Database.Database;

/**
 * Opens the database in WAL mode (readers never block the writer, so the API stays responsive
 * while jobs commit) and brings the schema to the latest version.
 */
export function openDatabase(file: string): Db {
  // Private to this account like everything in the data folder (storage/private-files.ts).
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  // NORMAL is durable across process crashes in WAL mode; only an OS crash can lose the last
  // transactions, never corrupt the file.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  // How long a statement waits for another process's lock (a CLI command, a backup). The wait
  // blocks the event loop, so it is kept short: past it the request gets 503 `unavailable`
  // with Retry-After (errors.ts beside this file) instead of every request stalling behind it.
  db.pragma('busy_timeout = 1000');
  migrate(db);
  return db;
}

export function migrate(db: Db): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  for (const migration of MIGRATIONS) {
    if (migration.version <= current) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      db.pragma(`user_version = ${migration.version}`);
    })();
  }
}
