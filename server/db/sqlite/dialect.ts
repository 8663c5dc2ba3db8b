import { DummyDriver, Kysely, SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler, sql } from 'kysely';
import type { Database } from '../schema.js';
import type { SqlFunctions } from '../sql-executor.js';

/**
 * Kysely set up to write SQLite's SQL and never to run it: queries are compiled here once and
 * run through better-sqlite3's own prepared statements (executor.ts). Kysely's stock
 * SqliteDialect would run them too, but through an async mutex and a fresh compile per call,
 * which the hot paths cannot afford.
 */
export const sqliteQueryBuilder = new Kysely<Database>({
  dialect: {
    createAdapter: () => new SqliteAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (db) => new SqliteIntrospector(db),
    createQueryCompiler: () => new SqliteQueryCompiler(),
  },
});

export const sqliteFunctions: SqlFunctions = {
  // The path is a literal, not a parameter, so an index on the same expression can serve it.
  jsonText: (column, key) => sql<string | null>`json_extract(${sql.ref(column)}, ${sql.lit(`$.${key}`)})`,
  jsonObject: (members) => sql<string>`json_object(${sql.join(members.flatMap(([name, value]) => [sql.lit(name), value]))})`,
  jsonArrayOfTexts: (column) => sql<string>`'[' || coalesce(group_concat(${sql.ref(column)}, ','), '') || ']'`,
  jsonSet: (column, members) =>
    sql<string>`json_set(${sql.join([sql.ref(column), ...members.flatMap(([name, value]) => [sql.lit(`$.${name}`), value])])})`,
  // With two or more arguments SQLite's max is the scalar one, not the aggregate.
  greatest: (...values) => sql<number>`max(${sql.join(values)})`,
  // One writer at a time: no row is ever locked by another claimer (and SQLite has no FOR UPDATE).
  skipLocked: (query) => query,
};
