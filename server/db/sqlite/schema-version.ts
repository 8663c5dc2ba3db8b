import Database from 'better-sqlite3';
import type { Db } from './connection.js';
import { MIGRATIONS } from './migrations/index.js';

/** The schema this program reads and writes: the version of its last migration. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** A database whose schema is not the one this program was built for. */
export class SchemaVersionError extends Error {}

/**
 * Why a database at schema version `found` cannot be used as it is, or undefined when it can.
 * Newer: written by a later version of Darkroom, whose tables this one does not know. Older: a
 * server of the previous version may still be using it, and only a start of the server (or a
 * repair, which holds the lock) brings it up to date.
 */
export function schemaVersionProblem(found: number, expected = SCHEMA_VERSION): string | undefined {
  if (found === expected) return undefined;
  if (found > expected) {
    return `the database is at schema version ${found}, newer than this Darkroom's (${expected}): use the Darkroom version that wrote it, or a later one`;
  }
  return `the database is at schema version ${found}, older than this Darkroom's (${expected}): start the server of this version once (it upgrades the database), then run this again`;
}

/**
 * Opens the database to read only: no migration, no write, no change to its journal mode, so it
 * is safe beside a running server, also one of another version. Refuses (SchemaVersionError)
 * a schema other than this program's, whose queries would not fit it.
 */
export function openDatabaseReadOnly(file: string): Db {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    // Read-only also means: a busy server's write lock is waited for briefly, not failed on.
    db.pragma('busy_timeout = 1000');
    const problem = schemaVersionProblem(readSchemaVersion(db));
    if (problem) throw new SchemaVersionError(problem);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/** The schema version recorded in a database file, read without changing anything. */
export function schemaVersionOf(file: string): number {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return readSchemaVersion(db);
  } finally {
    db.close();
  }
}

const readSchemaVersion = (db: Db) => db.pragma('user_version', { simple: true }) as number;
