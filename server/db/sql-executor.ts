import type { Compilable, Expression, Kysely, RawBuilder } from 'kysely';
import type { Database } from './schema.js';

/**
 * How a repository states its queries so every dialect can run them (the database port's
 * half that repositories see; port.ts is the half the use cases see).
 *
 * A repository states each query once, when it is created, with Kysely (typed against
 * db/schema.ts, reads like SQL) and named parameters in place of values. The adapter builds and
 * compiles it once into its dialect's SQL (the SQLite adapter at its first call, so statements a
 * server never runs cost nothing) and keeps the prepared statement: a call binds the arguments
 * and runs it, with no query building or compiling per call (which costs tens of µs in Kysely
 * and would be paid on the hottest paths: the upload commit, the job claim, every request's key
 * lookup). The methods are async for every dialect; SQLite's adapter answers synchronously
 * underneath.
 */
export interface SqlExecutor {
  /**
   * @param args the query's parameters, from `params<…>()`: typed stand-ins for the values a
   *   call passes.
   * @param build the query, built with Kysely and the dialect's functions.
   */
  prepare<P extends object, O>(args: P, build: (db: Kysely<Database>, fns: SqlFunctions) => Compilable<O>): PreparedQuery<P, O>;
}

/** Arguments of a call: none for a query without parameters. */
export type QueryArgs<P> = keyof P extends never ? [] : [args: P];

export interface PreparedQuery<P, O> {
  /** Every row. */
  all(...args: QueryArgs<P>): Promise<O[]>;
  /** The first row, or undefined. */
  first(...args: QueryArgs<P>): Promise<O | undefined>;
  /** Runs a write; resolves to the number of rows it changed. */
  run(...args: QueryArgs<P>): Promise<number>;
}

/**
 * SQL that differs between dialects beyond what Kysely writes for us (JSON, dates). Each
 * adapter supplies its own; a repository never writes a dialect's function by name.
 */
export interface SqlFunctions {
  /** A JSON text column's top-level member as text (SQLite json_extract; PostgreSQL ->>). */
  jsonText(column: string, key: string): RawBuilder<string | null>;
  /**
   * A JSON object text with these members in this order (SQLite json_object; PostgreSQL
   * json_build_object). A text value becomes a JSON string, a number a number, NULL null.
   */
  jsonObject(members: ReadonlyArray<readonly [name: string, value: Expression<unknown>]>): RawBuilder<string>;
  /**
   * An aggregate: the rows' JSON texts in `column` as one JSON array text, `[]` for none (SQLite
   * group_concat; PostgreSQL string_agg). In the order of `orderBy`, which must be the order the
   * rows come in on SQLite (an index's): SQLite keeps the order it reads and so needs no sort,
   * PostgreSQL promises none and sorts inside the aggregate.
   */
  jsonArrayOfTexts(column: string, orderBy?: readonly string[]): RawBuilder<string>;
  /**
   * A JSON object text `column` with these top-level members set (added or replaced), the
   * others kept (SQLite json_set; PostgreSQL `jsonb ||`). NULL sets a member to null.
   */
  jsonSet(column: string, members: ReadonlyArray<readonly [name: string, value: Expression<unknown>]>): RawBuilder<string>;
  /** The largest of these numbers (SQLite's scalar max; PostgreSQL greatest). */
  greatest(...values: Expression<number>[]): RawBuilder<number>;
}

/** A named parameter inside a built query, bound to the call's argument of that name. */
export class QueryParam {
  constructor(readonly name: string) {}
}

/**
 * Typed stand-ins for a query's parameters: `const p = params<{ id: string }>()` gives `p.id`,
 * which a query uses where the value goes (`.where('id', '=', p.id)`) and which is typed as a
 * string for Kysely. The query then takes `{ id }` on every call.
 */
export function params<P extends object = Record<never, never>>(): P {
  const cache = new Map<string, QueryParam>();
  return new Proxy({} as P, {
    get(_target, name) {
      if (typeof name !== 'string') return undefined;
      let param = cache.get(name);
      if (!param) cache.set(name, (param = new QueryParam(name)));
      return param;
    },
  });
}
