import path from 'node:path';
import type { Insertable, Selectable } from 'kysely';
import { afterEach } from 'vitest';
import type { DatabasePort } from '../../server/db/port.js';
import type { Database } from '../../server/db/schema.js';
import { sqliteFunctions, sqliteQueryBuilder } from '../../server/db/sqlite/dialect.js';
import type { SqlExecutor } from '../../server/db/sql-executor.js';
import type { Db } from '../../server/db/sqlite/connection.js';
import type { Repositories } from '../../server/db/repositories.js';
import { openSqliteDatabase, sqliteDatabaseOver, type SqliteDatabase } from '../../server/db/sqlite/sqlite-database.js';
import { tempDirs } from './server.js';

/**
 * The database adapters a repository test runs against: `describe.each(DIALECTS)(…)`. Each
 * opens a fresh, fully migrated database and closes it after the test. A test here may use only
 * the port (repositories, units of work); one that looks under an adapter belongs to it.
 */
export interface TestDialect {
  dialect: string;
  open(): TestDatabase;
}

export interface TestDatabase extends DatabasePort {
  /** Rows put straight into a table: the state a test starts from, whichever repository owns it. */
  insert<T extends keyof Database>(table: T, rows: Insertable<Database[T]>[]): Promise<void>;
  /** Every row of a table, in insertion order: what a test checks a write left, whichever repository owns the table. */
  rows<T extends keyof Database>(table: T): Promise<Selectable<Database[T]>[]>;
}

/**
 * Rows put straight into a table on a SQLite connection, at once: the state a test of code still
 * on the connection starts from (the rows written with Kysely, whichever repository owns them).
 */
export function insertRowsSync<T extends keyof Database>(connection: Db, table: T, rows: Insertable<Database[T]>[]): void {
  for (const row of rows) {
    // Kysely's types cannot follow a table chosen by a type parameter; the row is checked by the signature.
    const query = sqliteQueryBuilder.insertInto(table).values(row as never).compile();
    connection.prepare(query.sql).run(...(query.parameters as unknown[]));
  }
}

/** Seeding on SQLite: the rows written with Kysely, run on the adapter's connection. */
function withSqliteSeeding(db: SqliteDatabase): SqliteDatabase & TestDatabase {
  return Object.assign(db, {
    async insert<T extends keyof Database>(table: T, rows: Insertable<Database[T]>[]) {
      insertRowsSync(db.connection, table, rows);
    },
    async rows<T extends keyof Database>(table: T) {
      return db.connection.prepare(`SELECT * FROM "${table}" ORDER BY rowid`).all() as Selectable<Database[T]>[];
    },
  });
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
export const openTestSqlite = (options: { fsync?: boolean } = {}) =>
  track(withSqliteSeeding(openSqliteDatabase(path.join(dir(), 'darkroom.db'), options)));

export const DIALECTS: TestDialect[] = [{ dialect: 'sqlite', open: () => openTestSqlite() }];

const ports = new WeakMap<Db, SqliteDatabase>();

/**
 * The port over a connection a test opened itself with `openDatabase` (for code whose other
 * repositories are still on the connection): one port per connection, as the gate requires.
 */
export function portOver(connection: Db): SqliteDatabase {
  let port = ports.get(connection);
  if (!port) ports.set(connection, (port = sqliteDatabaseOver(connection)));
  return port;
}

/** The port's unit of work over a connection a test opened itself (see portOver). */
export const unitOfWorkOver =
  (connection: Db) =>
  <T>(work: (repos: Repositories) => Promise<T>): Promise<T> =>
    portOver(connection).unitOfWork(work);

/**
 * The SQL a repository states, as SQLite's adapter compiles it (for tests that look at a query
 * plan): the repository is built over an executor that only records what it would prepare.
 */
export function sqliteStatementsOf(create: (sql: SqlExecutor) => unknown): Array<{ sql: string; parameters: readonly unknown[] }> {
  const statements: Array<{ sql: string; parameters: readonly unknown[] }> = [];
  create({
    prepare(_args, build) {
      const compiled = build(sqliteQueryBuilder, sqliteFunctions).compile();
      statements.push({ sql: compiled.sql, parameters: compiled.parameters });
      const never = () => Promise.reject(new Error('a recorded statement does not run'));
      return { all: never, first: never, run: never };
    },
  });
  return statements;
}
