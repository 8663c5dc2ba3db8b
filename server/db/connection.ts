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
  // with Retry-After (db/errors.ts) instead of every request stalling behind it.
  db.pragma('busy_timeout = 1000');
  migrate(db);
  return db;
}

/**
 * Runs `fn` in a transaction whose commit is on stable storage when this returns: for the
 * commits that accept uploads, which a 202 promises.
 *
 * Why switching per transaction holds: in WAL mode, `synchronous = NORMAL` syncs the log only
 * at checkpoints, `FULL` syncs it at every commit. SQLite reads the setting when it commits, and
 * the one connection runs one transaction at a time on the main thread (better-sqlite3 is
 * synchronous), so exactly this commit runs under FULL and everything else keeps NORMAL's
 * cheaper commits, which a crash of the process never loses anyway. The log is appended in
 * order, so this sync also makes every earlier commit durable, which does no harm.
 */
export function commitDurably<T>(db: Db, fn: () => T): T {
  // SQLite refuses to change the setting inside a transaction: this must be the outermost one.
  if (db.inTransaction) throw new Error('commitDurably must not run inside another transaction');
  db.pragma('synchronous = FULL');
  try {
    return db.transaction(fn)();
  } finally {
    db.pragma('synchronous = NORMAL');
  }
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
