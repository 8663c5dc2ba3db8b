import type { Db } from './connection.js';

export { ROLES } from '../api/vocabulary.js';
export type { Role } from '../api/enums.js';
import type { Role } from '../api/enums.js';

export interface ApiKeyRow {
  id: string;
  key_hash: string;
  key_prefix: string;
  customer: string;
  role: Role;
  name: string | null;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

export function createKeysRepo(db: Db) {
  const insert = db.prepare<[Omit<ApiKeyRow, 'last_used_at' | 'revoked_at'>]>(
    `INSERT INTO api_keys (id, key_hash, key_prefix, customer, role, name, created_at)
     VALUES (@id, @key_hash, @key_prefix, @customer, @role, @name, @created_at)`,
  );
  const byHash = db.prepare<[string], ApiKeyRow>(`SELECT * FROM api_keys WHERE key_hash = ?`);
  const byId = db.prepare<[string], ApiKeyRow>(`SELECT * FROM api_keys WHERE id = ?`);
  const active = db.prepare<[], ApiKeyRow>(
    `SELECT * FROM api_keys WHERE revoked_at IS NULL ORDER BY created_at DESC, id DESC`,
  );
  const activeAdmins = db.prepare<[], { n: number }>(
    `SELECT count(*) AS n FROM api_keys WHERE role = 'admin' AND revoked_at IS NULL`,
  );
  const revoke = db.prepare<[number, string]>(`UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`);
  const touch = db.prepare<[number, string]>(`UPDATE api_keys SET last_used_at = ? WHERE id = ?`);

  return {
    insert: (row: Omit<ApiKeyRow, 'last_used_at' | 'revoked_at'>) => void insert.run(row),
    findByHash: (hash: string) => byHash.get(hash),
    findById: (id: string) => byId.get(id),
    listActive: () => active.all(),
    countActiveAdmins: () => activeAdmins.get()!.n,
    revoke: (id: string, at: number) => revoke.run(at, id).changes > 0,
    touch: (id: string, at: number) => void touch.run(at, id),
  };
}

export type KeysRepo = ReturnType<typeof createKeysRepo>;
