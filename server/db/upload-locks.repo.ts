import { params, type SqlExecutor } from './sql-executor.js';

/**
 * The locks of resumable uploads across nodes (SQLite migration 013, PostgreSQL 006): a lease
 * per upload, taken by one statement so two nodes asking at once cannot both have it.
 */
export interface UploadLocksRepo {
  /** Takes the lock of `uploadId` for `token` until `until`: true unless another holder's lease is live at `now`. */
  take(uploadId: string, token: string, until: number, now: number): Promise<boolean>;
  /** Extends the holder's lease; false when it lost the lock (its lease ran out and was taken). */
  renew(uploadId: string, token: string, until: number): Promise<boolean>;
  /** Gives the lock up (only the holder's own). */
  release(uploadId: string, token: string): Promise<void>;
}

export function createUploadLocksRepo(sql: SqlExecutor): UploadLocksRepo {
  const takeArgs = params<{ upload_id: string; token: string; until: number; now: number }>();
  const take = sql.prepare(takeArgs, (db) =>
    db
      .insertInto('upload_locks')
      .values({ upload_id: takeArgs.upload_id, token: takeArgs.token, until: takeArgs.until })
      .onConflict((oc) =>
        oc
          .column('upload_id')
          .doUpdateSet((eb) => ({ token: eb.ref('excluded.token'), until: eb.ref('excluded.until') }))
          .where('upload_locks.until', '<', takeArgs.now),
      ),
  );
  const renewArgs = params<{ upload_id: string; token: string; until: number }>();
  const renew = sql.prepare(renewArgs, (db) =>
    db.updateTable('upload_locks').set({ until: renewArgs.until }).where('upload_id', '=', renewArgs.upload_id).where('token', '=', renewArgs.token),
  );
  const held = params<{ upload_id: string; token: string }>();
  const release = sql.prepare(held, (db) => db.deleteFrom('upload_locks').where('upload_id', '=', held.upload_id).where('token', '=', held.token));
  return {
    take: async (upload_id, token, until, now) => (await take.run({ upload_id, token, until, now })) > 0,
    renew: async (upload_id, token, until) => (await renew.run({ upload_id, token, until })) > 0,
    release: async (upload_id, token) => void (await release.run({ upload_id, token })),
  };
}
