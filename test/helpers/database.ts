import path from 'node:path';
import type { Insertable, Kysely, Selectable } from 'kysely';
import { afterEach } from 'vitest';
import type { DatabasePort } from '../../server/db/port.js';
import type { Database } from '../../server/db/schema.js';
import { postgresFunctions, postgresQueryBuilder } from '../../server/db/postgres/dialect.js';
import { openPostgresDatabase, type PostgresDatabase, type PostgresDatabaseOptions } from '../../server/db/postgres/postgres-database.js';
import { sqliteFunctions, sqliteQueryBuilder } from '../../server/db/sqlite/dialect.js';
import type { SqlExecutor, SqlFunctions } from '../../server/db/sql-executor.js';
import type { Db } from '../../server/db/sqlite/connection.js';
import type { Repositories } from '../../server/db/repositories.js';
import { openSqliteDatabase, sqliteDatabaseOver, type SqliteDatabase } from '../../server/db/sqlite/sqlite-database.js';
import { privatePostgres } from './postgres.js';
import { tempDirs } from './server.js';

/**
 * The database adapters a repository test runs against: `describe.each(DIALECTS)(…)`. Each
 * opens a fresh, fully migrated database and closes it after the test. A test here may use only
 * the port (repositories, units of work); one that looks under an adapter belongs to it.
 */
export interface TestDialect {
  dialect: string;
  open(): Promise<TestDatabase>;
}

export interface TestDatabase extends DatabasePort {
  /** Rows put straight into a table: the state a test starts from, whichever repository owns it. */
  insert<T extends keyof Database>(table: T, rows: Insertable<Database[T]>[]): Promise<void>;
  /**
   * Every row of a table, in the order of its key (ROW_ORDER: ids, so insertion order, where a
   * table has them): what a test checks a write left, whichever repository owns the table.
   */
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

/** How `rows` orders each table: by columns both dialects have (PostgreSQL has no rowid). */
const ROW_ORDER: Record<keyof Database, string[]> = {
  api_keys: ['created_at', 'id'],
  images: ['created_at', 'id'],
  image_metadata: ['image_id'],
  variants: ['image_id', 'position', 'name'],
  outbox: ['id'],
  jobs: ['id'],
  job_queues: ['customer'],
  stats_daily: ['level', 'day', 'customer', 'format'],
  watch_folders: ['added_at', 'path'],
  watch_files: ['seen_at', 'path'],
  s3_originals: ['sha256'],
  s3_sync_parts: ['job_id', 'part_number'],
  s3_sync_state: ['id'],
  webhook_endpoints: ['created_at', 'id'],
  webhook_messages: ['created_at', 'id'],
  webhook_deliveries: ['created_at', 'id'],
  nodes: ['id'],
  schedule_slots: ['name', 'slot'],
  blob_deletes: ['due_at', 'id'],
  upload_locks: ['upload_id'],
  renders: ['key'],
  presets: ['name'],
  link_signing_key: ['id'],
  finished_uploads: ['upload_id'],
};
const orderOf = (table: keyof Database) => ROW_ORDER[table].map((c) => `"${c}"`).join(', ');

/** Seeding on SQLite: the rows written with Kysely, run on the adapter's connection. */
function withSqliteSeeding(db: SqliteDatabase): SqliteDatabase & TestDatabase {
  return Object.assign(db, {
    async insert<T extends keyof Database>(table: T, rows: Insertable<Database[T]>[]) {
      insertRowsSync(db.connection, table, rows);
    },
    async rows<T extends keyof Database>(table: T) {
      return db.connection.prepare(`SELECT * FROM "${table}" ORDER BY ${orderOf(table)}`).all() as Selectable<Database[T]>[];
    },
  });
}

/** Seeding on PostgreSQL: the same rows, compiled for PostgreSQL and run on the adapter's pool. */
function withPostgresSeeding(db: PostgresDatabase): PostgresDatabase & TestDatabase {
  return Object.assign(db, {
    async insert<T extends keyof Database>(table: T, rows: Insertable<Database[T]>[]) {
      for (const row of rows) {
        const query = postgresQueryBuilder.insertInto(table).values(row as never).compile();
        await db.pool.query(query.sql, query.parameters as unknown[]);
      }
    },
    async rows<T extends keyof Database>(table: T) {
      return (await db.pool.query(`SELECT * FROM "${table}" ORDER BY ${orderOf(table)}`)).rows as Selectable<Database[T]>[];
    },
  });
}

const dir = tempDirs('darkroom-db-');
const opened: DatabasePort[] = [];
const databases: string[] = [];
afterEach(async () => {
  for (const db of opened.splice(0)) await db.close();
  for (const name of databases.splice(0)) await (await privatePostgres()).dropDatabase(name);
});

const track = <T extends DatabasePort>(db: T): T => {
  opened.push(db);
  return db;
};

/** A real SQLite file in a temp folder, opened as the server opens it (WAL, migrations). */
export const openTestSqlite = (options: { fsync?: boolean } = {}) =>
  track(withSqliteSeeding(openSqliteDatabase(path.join(dir(), 'darkroom.db'), options)));

/** A fresh, migrated database on this test file's private PostgreSQL server (helpers/postgres.ts). */
export async function openTestPostgres(options: Partial<PostgresDatabaseOptions> = {}) {
  const server = await privatePostgres();
  const name = await server.createDatabase();
  databases.push(name);
  return track(withPostgresSeeding(await openPostgresDatabase({ url: server.url(name), poolSize: 4, ...options })));
}

export const DIALECTS: TestDialect[] = [
  { dialect: 'sqlite', open: async () => openTestSqlite() },
  { dialect: 'postgres', open: () => openTestPostgres() },
];

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
  return statementsOf(create, sqliteQueryBuilder, sqliteFunctions);
}

/** The same, as PostgreSQL's adapter compiles them. */
export function postgresStatementsOf(create: (sql: SqlExecutor) => unknown): Array<{ sql: string; parameters: readonly unknown[] }> {
  return statementsOf(create, postgresQueryBuilder, postgresFunctions);
}

function statementsOf(
  create: (sql: SqlExecutor) => unknown,
  builder: Kysely<Database>,
  fns: SqlFunctions,
): Array<{ sql: string; parameters: readonly unknown[] }> {
  const statements: Array<{ sql: string; parameters: readonly unknown[] }> = [];
  create({
    prepare(_args, build) {
      const compiled = build(builder, fns).compile();
      statements.push({ sql: compiled.sql, parameters: compiled.parameters });
      const never = () => Promise.reject(new Error('a recorded statement does not run'));
      return { all: never, first: never, run: never };
    },
  });
  return statements;
}
