import type { PresetsTable } from './schema.js';
import { params, type SqlExecutor } from './sql-executor.js';

export type PresetRow = PresetsTable;

/**
 * Presets (SQLite migration 015, PostgreSQL 008): named render parameters, one list for the
 * installation. The parameters are kept as the JSON text the presets use case writes; this
 * repository does not read them.
 */
export interface PresetsRepo {
  /** Creates the preset or replaces its parameters (keeping when it was created); one statement, so two writers never half-apply. */
  put(name: string, params: string, at: number): Promise<PresetRow>;
  find(name: string): Promise<PresetRow | undefined>;
  /** Every preset, by name. */
  list(): Promise<PresetRow[]>;
  /** False when there was no such preset. */
  remove(name: string): Promise<boolean>;
}

export function createPresetsRepo(sql: SqlExecutor): PresetsRepo {
  const putArgs = params<{ name: string; params: string; at: number }>();
  const put = sql.prepare(putArgs, (db) =>
    db
      .insertInto('presets')
      .values({ name: putArgs.name, params: putArgs.params, created_at: putArgs.at, updated_at: putArgs.at })
      .onConflict((oc) => oc.column('name').doUpdateSet((eb) => ({ params: eb.ref('excluded.params'), updated_at: eb.ref('excluded.updated_at') })))
      .returningAll(),
  );
  const byName = params<{ name: string }>();
  const find = sql.prepare(byName, (db) => db.selectFrom('presets').selectAll().where('name', '=', byName.name));
  const list = sql.prepare(params(), (db) => db.selectFrom('presets').selectAll().orderBy('name'));
  const remove = sql.prepare(byName, (db) => db.deleteFrom('presets').where('name', '=', byName.name));
  return {
    put: async (name, json, at) => (await put.first({ name, params: json, at }))!,
    find: (name) => find.first({ name }),
    list: () => list.all(),
    remove: async (name) => (await remove.run({ name })) > 0,
  };
}
