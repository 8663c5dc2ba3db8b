import type { ApiKeysTable } from './schema.js';
import { params, type SqlExecutor } from './sql-executor.js';

export { ROLES } from '../api/vocabulary.js';
export type { Role } from '../api/enums.js';
import type { Role } from '../api/enums.js';

export type ApiKeyRow = ApiKeysTable;
export type NewApiKeyRow = Omit<ApiKeyRow, 'last_used_at' | 'revoked_at'>;

export interface KeysRepo {
  insert(row: NewApiKeyRow): Promise<void>;
  findByHash(hash: string): Promise<ApiKeyRow | undefined>;
  findById(id: string): Promise<ApiKeyRow | undefined>;
  /** Keys not revoked, newest first. */
  listActive(): Promise<ApiKeyRow[]>;
  countActiveAdmins(): Promise<number>;
  /** False when there was no such key or it was revoked already. */
  revoke(id: string, at: number): Promise<boolean>;
  touch(id: string, at: number): Promise<void>;
}

export function createKeysRepo(sql: SqlExecutor): KeysRepo {
  const row = params<NewApiKeyRow>();
  const insert = sql.prepare(row, (db) =>
    db.insertInto('api_keys').values({
      id: row.id,
      key_hash: row.key_hash,
      key_prefix: row.key_prefix,
      customer: row.customer,
      role: row.role,
      name: row.name,
      created_at: row.created_at,
    }),
  );
  const byHash = params<{ hash: string }>();
  const findByHash = sql.prepare(byHash, (db) => db.selectFrom('api_keys').selectAll().where('key_hash', '=', byHash.hash));
  const byId = params<{ id: string }>();
  const findById = sql.prepare(byId, (db) => db.selectFrom('api_keys').selectAll().where('id', '=', byId.id));
  const listActive = sql.prepare(params(), (db) =>
    db.selectFrom('api_keys').selectAll().where('revoked_at', 'is', null).orderBy('created_at', 'desc').orderBy('id', 'desc'),
  );
  const countActiveAdmins = sql.prepare(params(), (db) =>
    db
      .selectFrom('api_keys')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('role', '=', 'admin')
      .where('revoked_at', 'is', null),
  );
  const stamp = params<{ id: string; at: number }>();
  const revoke = sql.prepare(stamp, (db) =>
    db.updateTable('api_keys').set({ revoked_at: stamp.at }).where('id', '=', stamp.id).where('revoked_at', 'is', null),
  );
  const touch = sql.prepare(stamp, (db) => db.updateTable('api_keys').set({ last_used_at: stamp.at }).where('id', '=', stamp.id));

  return {
    insert: async (key) => void (await insert.run(key)),
    findByHash: (hash) => findByHash.first({ hash }),
    findById: (id) => findById.first({ id }),
    listActive: () => listActive.all(),
    countActiveAdmins: async () => (await countActiveAdmins.first())!.n,
    revoke: async (id, at) => (await revoke.run({ id, at })) > 0,
    touch: async (id, at) => void (await touch.run({ id, at })),
  };
}
