import type Database from 'better-sqlite3';
import type { Compilable, Kysely } from 'kysely';
import type { Database as Schema } from '../schema.js';
import { binder } from '../bind-params.js';
import { type PreparedQuery, type QueryArgs, type SqlExecutor, type SqlFunctions } from '../sql-executor.js';
import type { ConnectionGate } from './connection-gate.js';
import { sqliteFunctions, sqliteQueryBuilder } from './dialect.js';

/** How a statement gets the connection: directly, or after waiting at the gate. */
export type StatementScheduler = <T>(statement: () => T) => Promise<T>;

/**
 * Statements outside a unit of work: run at once when the gate is free (the common case: no
 * queueing, no extra tick), else after the unit of work that holds it.
 */
export function schedulerOutsideUnitOfWork(gate: ConnectionGate): StatementScheduler {
  return (statement) => {
    if (!gate.isHeld) {
      try {
        return Promise.resolve(statement());
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return gate.acquire().then(() => {
      try {
        return statement();
      } finally {
        gate.release();
      }
    });
  };
}

/**
 * A SqlExecutor over better-sqlite3: each query is compiled once (Kysely, SQLite dialect), at its
 * first call, into a cached prepared statement; a call binds its arguments in the compiled order and runs it.
 */
export function createSqliteExecutor(
  connection: Database.Database,
  schedule: StatementScheduler,
  builder: Kysely<Schema> = sqliteQueryBuilder,
  fns: SqlFunctions = sqliteFunctions,
): SqlExecutor {
  return {
    prepare<P extends object, O>(_args: P, build: (db: Kysely<Schema>, fns: SqlFunctions) => Compilable<O>): PreparedQuery<P, O> {
      // Compiled and prepared at its first call, once: the repositories exist twice (outside and
      // inside a unit of work) and a server uses a part of their queries (no S3 sync, no watch
      // folders: their statements are never run), so preparing all of them at start would hold
      // a few MB of statements for nothing.
      let prepared: { statement: Database.Statement<unknown[], O>; bind: ReturnType<typeof binder> } | undefined;
      const ready = () => {
        if (!prepared) {
          const compiled = build(builder, fns).compile();
          prepared = { statement: connection.prepare<unknown[], O>(compiled.sql), bind: binder(compiled.parameters) };
        }
        return prepared;
      };
      const argsOf = (args: unknown[]) => ready().bind(args[0] as Record<string, unknown> | undefined);
      return {
        all: (...args: QueryArgs<P>) => schedule(() => ready().statement.all(...argsOf(args))),
        first: (...args: QueryArgs<P>) => schedule(() => ready().statement.get(...argsOf(args))),
        run: (...args: QueryArgs<P>) => schedule(() => ready().statement.run(...argsOf(args)).changes),
      };
    },
  };
}
