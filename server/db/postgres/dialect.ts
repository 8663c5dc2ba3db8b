import {
  DummyDriver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  RawNode,
  sql,
  ValueNode,
  type Expression,
  type OperationNode,
} from 'kysely';
import type { Database } from '../schema.js';
import type { SqlFunctions } from '../sql-executor.js';

/**
 * Kysely set up to write PostgreSQL's SQL and never to run it: each query is compiled here once
 * (placeholders $1, $2 … in the order of its parameters) and run through node-postgres as a
 * named prepared statement (executor.ts). Kysely's stock PostgresDialect would compile per call.
 */
export const postgresQueryBuilder = new Kysely<Database>({
  dialect: {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (db) => new PostgresIntrospector(db),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  },
});

/**
 * A member's value for json_build_object / jsonb_build_object. A bare parameter has no type
 * PostgreSQL could infer there ("could not determine data type of parameter"), so it is sent as
 * text; a repository that puts a number there casts it itself (sync.repo.ts `partSize`), which
 * SQLite's json_set reads the same way. Columns and expressions keep their own type (a BIGINT becomes a JSON number).
 */
function member(value: Expression<unknown>) {
  return isBareParameter(value.toOperationNode()) ? sql`cast(${value} as text)` : value;
}

/** `eb.val(p)` (a ValueNode) or `sql.val(p)` (a RawNode of nothing but one value). */
function isBareParameter(node: OperationNode): boolean {
  if (ValueNode.is(node)) return true;
  return RawNode.is(node) && node.parameters.length === 1 && node.sqlFragments.every((f) => f === '') && isBareParameter(node.parameters[0]!);
}

const members = (list: ReadonlyArray<readonly [string, Expression<unknown>]>) =>
  sql.join(list.flatMap(([name, value]) => [sql.lit(name), member(value)]));

export const postgresFunctions: SqlFunctions = {
  // The key is a literal, not a parameter, so an index on the same expression can serve it.
  jsonText: (column, key) => sql<string | null>`(cast(${sql.ref(column)} as jsonb) ->> ${sql.lit(key)})`,
  // json (not jsonb) keeps the members in the order given, as SQLite's json_object does.
  jsonObject: (list) => sql<string>`cast(json_build_object(${members(list)}) as text)`,
  // The rows' order is the aggregate's own clause here: PostgreSQL promises no order of the rows
  // an aggregate reads (SQLite reads them in the order of the index it scans).
  jsonArrayOfTexts: (column, orderBy = []) =>
    orderBy.length
      ? sql<string>`'[' || coalesce(string_agg(${sql.ref(column)}, ',' order by ${sql.join(orderBy.map((c) => sql.ref(c)))}), '') || ']'`
      : sql<string>`'[' || coalesce(string_agg(${sql.ref(column)}, ','), '') || ']'`,
  jsonSet: (column, list) => sql<string>`cast(cast(${sql.ref(column)} as jsonb) || jsonb_build_object(${members(list)}) as text)`,
  greatest: (...values) => sql<number>`greatest(${sql.join(values)})`,
};
