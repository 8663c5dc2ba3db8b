import type { QueryConfig, QueryResult, QueryResultRow } from 'pg';
import type { Compilable, Kysely } from 'kysely';
import { binder } from '../bind-params.js';
import type { Database as Schema } from '../schema.js';
import type { PreparedQuery, QueryArgs, SqlExecutor, SqlFunctions } from '../sql-executor.js';
import { postgresFunctions, postgresQueryBuilder } from './dialect.js';

/** What runs a statement: the pool (any free connection) or the connection of a unit of work. */
export interface Queryable {
  query<R extends QueryResultRow>(config: QueryConfig<unknown[]>): Promise<QueryResult<R>>;
}

/**
 * Each distinct statement text gets one name for the life of the process, so node-postgres
 * prepares it once per connection (PostgreSQL parses and plans it once there) and the
 * repositories' two sets (outside and inside a unit of work) share it.
 */
const statementNames = new Map<string, string>();
const nameOf = (text: string) => {
  let name = statementNames.get(text);
  if (!name) statementNames.set(text, (name = `darkroom_${statementNames.size + 1}`));
  return name;
};

/**
 * A SqlExecutor over node-postgres: each query is compiled once (Kysely, PostgreSQL dialect), at
 * its first call; a call binds its arguments to $1, $2 … in the compiled order and runs it on
 * whatever `target()` gives at that moment.
 */
export function createPostgresExecutor(
  target: () => Queryable,
  builder: Kysely<Schema> = postgresQueryBuilder,
  fns: SqlFunctions = postgresFunctions,
): SqlExecutor {
  return {
    prepare<P extends object, O>(_args: P, build: (db: Kysely<Schema>, fns: SqlFunctions) => Compilable<O>): PreparedQuery<P, O> {
      let prepared: { name: string; text: string; bind: ReturnType<typeof binder> } | undefined;
      const execute = async (args: unknown[]) => {
        if (!prepared) {
          const compiled = build(builder, fns).compile();
          prepared = { name: nameOf(compiled.sql), text: compiled.sql, bind: binder(compiled.parameters) };
        }
        const values = prepared.bind(args[0] as Record<string, unknown> | undefined);
        return target().query<O & QueryResultRow>({ name: prepared.name, text: prepared.text, values });
      };
      return {
        all: async (...args: QueryArgs<P>) => (await execute(args)).rows,
        first: async (...args: QueryArgs<P>) => (await execute(args)).rows[0],
        run: async (...args: QueryArgs<P>) => (await execute(args)).rowCount ?? 0,
      };
    },
  };
}
