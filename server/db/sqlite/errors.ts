import Database from 'better-sqlite3';
import { AppError } from '../../errors.js';

/** A database file that is damaged (not merely busy): an operator must look, so it is logged as an error. */
export function isDatabaseDamage(err: unknown): boolean {
  return err instanceof Database.SqliteError && /^SQLITE_(CORRUPT|NOTADB)/.test(err.code);
}

/**
 * SQLite's failures as the API's errors (CONTRACT §3): a database that is busy, locked by
 * another process, or failing underneath (I/O errors, a read-only or vanished file) is
 * `unavailable` with `Retry-After`, never a 500; a full disk is `insufficient_storage`. The
 * failed statement was rolled back, so nothing accepted is lost and the client may retry.
 * Undefined for anything that is not an SQLite error.
 */
export function translateDatabaseError(err: unknown): AppError | undefined {
  if (!(err instanceof Database.SqliteError)) return undefined;
  const code = err.code;
  if (code === 'SQLITE_FULL') {
    return new AppError('insufficient_storage', 'the disk holding the database is full');
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new AppError('unavailable', 'the database is busy; try again shortly', { 'Retry-After': '2' });
  }
  if (/^SQLITE_(IOERR|CANTOPEN|PROTOCOL|READONLY|NOMEM|CORRUPT|NOTADB)/.test(code)) {
    return new AppError('unavailable', `the database cannot be used now (${code}); try again later`, { 'Retry-After': '30' });
  }
  return undefined;
}
