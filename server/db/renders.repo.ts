import type { Selectable } from 'kysely';
import { params, type SqlExecutor } from './sql-executor.js';
import type { RendersTable } from './schema.js';

export type RenderRow = Selectable<RendersTable>;

/** What a finished render records. */
export interface StoredRender {
  path: string;
  bytes: number;
  writtenAt: number;
  expiresAt: number;
}

/**
 * The result cache of renders (SQLite migration 014, PostgreSQL 007): a row is a claim while
 * one request renders (single flight across nodes), then the stored file until it expires.
 * Each write is one conditional statement, so two nodes asking at once cannot both win.
 */
export interface RendersRepo {
  find(key: string): Promise<RenderRow | undefined>;
  /**
   * Claims the render of `key` for `token` until `until`: true when there was no row, or its
   * claim had lapsed at `now` (its node died), or its file had expired; false while another
   * holder's claim is live or its file is current. A row taken over keeps its `path`, so the
   * file it names can be removed when the new one is recorded.
   */
  claim(row: { key: string; imageId: string; format: string; token: string; until: number }, now: number): Promise<boolean>;
  /** Extends a claim while its render runs; false when it was lost (taken over, or removed by a reprocess). */
  renew(key: string, token: string, until: number): Promise<boolean>;
  /** Records the file of a claimed render; false (nothing written) when the claim is not this token's any more. */
  complete(key: string, token: string, stored: StoredRender): Promise<boolean>;
  /** Gives up a claim (the render failed): the next request claims it again. */
  release(key: string, token: string): Promise<void>;
  /** Drops a stored render whose file is gone (only while it still names `path`): the next request renders again. */
  forget(key: string, path: string): Promise<boolean>;
  /** Stored renders whose file expired at `now`, oldest first. */
  expired(now: number, limit: number): Promise<RenderRow[]>;
  /** Removes a stored render that still names `path` and has expired at `now`: true when it did. */
  removeExpired(key: string, path: string, now: number): Promise<boolean>;
  /** Every render row of an image, removed; resolves to the files they named. */
  removeOfImage(imageId: string): Promise<string[]>;
  /** Whether a stored render names this blob key (the blob janitor keeps such a blob). */
  names(path: string): Promise<boolean>;
  /** The blob keys an image's stored renders name (recovery: files a record names). */
  pathsOf(imageId: string): Promise<string[]>;
}

export function createRendersRepo(sql: SqlExecutor): RendersRepo {
  const byKey = params<{ key: string }>();
  const find = sql.prepare(byKey, (db) => db.selectFrom('renders').selectAll().where('key', '=', byKey.key));
  const claimArgs = params<{ key: string; image_id: string; format: string; token: string; until: number; now: number }>();
  const claim = sql.prepare(claimArgs, (db) =>
    db
      .insertInto('renders')
      .values({ key: claimArgs.key, image_id: claimArgs.image_id, status: 'rendering', token: claimArgs.token, claim_until: claimArgs.until, format: claimArgs.format })
      .onConflict((oc) =>
        oc
          .column('key')
          .doUpdateSet((eb) => ({
            status: 'rendering' as const,
            token: eb.ref('excluded.token'),
            claim_until: eb.ref('excluded.claim_until'),
            format: eb.ref('excluded.format'),
          }))
          .where((eb) =>
            eb.or([
              eb.and([eb('renders.status', '=', 'rendering'), eb('renders.claim_until', '<', claimArgs.now)]),
              eb.and([eb('renders.status', '=', 'done'), eb('renders.expires_at', '<=', claimArgs.now)]),
            ]),
          ),
      ),
  );
  const renewArgs = params<{ key: string; token: string; until: number }>();
  const renew = sql.prepare(renewArgs, (db) =>
    db
      .updateTable('renders')
      .set({ claim_until: renewArgs.until })
      .where('key', '=', renewArgs.key)
      .where('token', '=', renewArgs.token)
      .where('status', '=', 'rendering'),
  );
  const completeArgs = params<{ key: string; token: string; path: string; bytes: number; written_at: number; expires_at: number }>();
  const complete = sql.prepare(completeArgs, (db) =>
    db
      .updateTable('renders')
      .set({ status: 'done', path: completeArgs.path, bytes: completeArgs.bytes, written_at: completeArgs.written_at, expires_at: completeArgs.expires_at })
      .where('key', '=', completeArgs.key)
      .where('token', '=', completeArgs.token)
      .where('status', '=', 'rendering'),
  );
  const held = params<{ key: string; token: string }>();
  const release = sql.prepare(held, (db) =>
    db.deleteFrom('renders').where('key', '=', held.key).where('token', '=', held.token).where('status', '=', 'rendering'),
  );
  const named = params<{ key: string; path: string }>();
  const forget = sql.prepare(named, (db) =>
    db.deleteFrom('renders').where('key', '=', named.key).where('path', '=', named.path).where('status', '=', 'done'),
  );
  const dueArgs = params<{ now: number; limit: number }>();
  const expired = sql.prepare(dueArgs, (db) =>
    db
      .selectFrom('renders')
      .selectAll()
      .where('status', '=', 'done')
      .where('expires_at', '<=', dueArgs.now)
      .orderBy('expires_at')
      .limit(dueArgs.limit),
  );
  const expiredArgs = params<{ key: string; path: string; now: number }>();
  const removeExpired = sql.prepare(expiredArgs, (db) =>
    db
      .deleteFrom('renders')
      .where('key', '=', expiredArgs.key)
      .where('path', '=', expiredArgs.path)
      .where('status', '=', 'done')
      .where('expires_at', '<=', expiredArgs.now),
  );
  const byImage = params<{ image_id: string }>();
  const pathsOf = sql.prepare(byImage, (db) => db.selectFrom('renders').select('path').where('image_id', '=', byImage.image_id).where('path', 'is not', null));
  const removeOfImage = sql.prepare(byImage, (db) => db.deleteFrom('renders').where('image_id', '=', byImage.image_id));
  const byPath = params<{ path: string }>();
  const names = sql.prepare(byPath, (db) => db.selectFrom('renders').select('key').where('path', '=', byPath.path).limit(1));

  return {
    find: (key) => find.first({ key }),
    claim: async ({ key, imageId, format, token, until }, now) => (await claim.run({ key, image_id: imageId, format, token, until, now })) > 0,
    renew: async (key, token, until) => (await renew.run({ key, token, until })) > 0,
    complete: async (key, token, s) => (await complete.run({ key, token, path: s.path, bytes: s.bytes, written_at: s.writtenAt, expires_at: s.expiresAt })) > 0,
    release: async (key, token) => void (await release.run({ key, token })),
    forget: async (key, path) => (await forget.run({ key, path })) > 0,
    expired: (now, limit) => expired.all({ now, limit }),
    removeExpired: async (key, path, now) => (await removeExpired.run({ key, path, now })) > 0,
    async removeOfImage(imageId) {
      const paths = (await pathsOf.all({ image_id: imageId })).map((r) => r.path!);
      await removeOfImage.run({ image_id: imageId });
      return paths;
    },
    names: async (path) => (await names.first({ path })) !== undefined,
    pathsOf: async (imageId) => (await pathsOf.all({ image_id: imageId })).map((r) => r.path!),
  };
}
