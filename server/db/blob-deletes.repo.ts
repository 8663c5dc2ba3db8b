import { params, type SqlExecutor } from './sql-executor.js';

export interface BlobDeleteRow {
  id: string;
  key: string;
  due_at: number;
  claimed_until: number | null;
}

/**
 * The journal of deletes of a remote primary store (SQLite migration 012, PostgreSQL 004; services/blob-placement.ts):
 * decided deletes, and the intents of uploads in progress, which become deletes when nobody
 * commits them.
 */
export interface BlobDeletesRepo {
  /** Records a delete of `key` (or an upload's intent), due at `dueAt`. */
  schedule(row: { id: string; key: string; dueAt: number }): Promise<void>;
  /** Removes a row: the upload it stood for was recorded, or the delete was carried out. */
  remove(id: string): Promise<void>;
  /** Rows due now and not claimed by a live lease, oldest first. */
  due(now: number, limit: number): Promise<BlobDeleteRow[]>;
  find(id: string): Promise<BlobDeleteRow | undefined>;
  /** Claims a row for deleting until `until`; false when another node holds a live claim. */
  claim(id: string, until: number, now: number): Promise<boolean>;
  /** Gives a claim up (the delete failed and is tried again later). */
  release(id: string): Promise<void>;
  /** Whether a node is deleting `key` now (a claim whose lease is live). */
  isBeingDeleted(key: string, now: number): Promise<boolean>;
  /** Whether an upload of `key` is in progress (an intent not yet due). */
  isBeingWritten(key: string, now: number): Promise<boolean>;
  /** When the next row falls due, or undefined when there is none. */
  nextDueAt(): Promise<number | undefined>;
}

export function createBlobDeletesRepo(sql: SqlExecutor): BlobDeletesRepo {
  const row = params<{ id: string; key: string; due_at: number }>();
  const insert = sql.prepare(row, (db) => db.insertInto('blob_deletes').values({ id: row.id, key: row.key, due_at: row.due_at }));
  const byId = params<{ id: string }>();
  const remove = sql.prepare(byId, (db) => db.deleteFrom('blob_deletes').where('id', '=', byId.id));
  const find = sql.prepare(byId, (db) => db.selectFrom('blob_deletes').selectAll().where('id', '=', byId.id));
  const dueArgs = params<{ now: number; limit: number }>();
  const due = sql.prepare(dueArgs, (db) =>
    db
      .selectFrom('blob_deletes')
      .selectAll()
      .where('due_at', '<=', dueArgs.now)
      .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<', dueArgs.now)]))
      .orderBy('due_at')
      .limit(dueArgs.limit),
  );
  const claimArgs = params<{ id: string; until: number; now: number }>();
  const claim = sql.prepare(claimArgs, (db) =>
    db
      .updateTable('blob_deletes')
      .set({ claimed_until: claimArgs.until })
      .where('id', '=', claimArgs.id)
      .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<', claimArgs.now)])),
  );
  const release = sql.prepare(byId, (db) => db.updateTable('blob_deletes').set({ claimed_until: null }).where('id', '=', byId.id));
  const keyNow = params<{ key: string; now: number }>();
  const beingDeleted = sql.prepare(keyNow, (db) =>
    db.selectFrom('blob_deletes').select('id').where('key', '=', keyNow.key).where('claimed_until', '>=', keyNow.now).limit(1),
  );
  const beingWritten = sql.prepare(keyNow, (db) =>
    db.selectFrom('blob_deletes').select('id').where('key', '=', keyNow.key).where('due_at', '>', keyNow.now).limit(1),
  );
  const nextDue = sql.prepare(params(), (db) => db.selectFrom('blob_deletes').select((eb) => eb.fn.min<number>('due_at').as('at')));

  return {
    schedule: async ({ id, key, dueAt }) => void (await insert.run({ id, key, due_at: dueAt })),
    remove: async (id) => void (await remove.run({ id })),
    due: (now, limit) => due.all({ now, limit }),
    find: (id) => find.first({ id }),
    claim: async (id, until, now) => (await claim.run({ id, until, now })) > 0,
    release: async (id) => void (await release.run({ id })),
    isBeingDeleted: async (key, now) => (await beingDeleted.first({ key, now })) !== undefined,
    isBeingWritten: async (key, now) => (await beingWritten.first({ key, now })) !== undefined,
    async nextDueAt() {
      const at = (await nextDue.first())?.at;
      return at === null || at === undefined ? undefined : Number(at);
    },
  };
}
