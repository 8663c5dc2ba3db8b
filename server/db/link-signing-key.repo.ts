import { params, type SqlExecutor } from './sql-executor.js';

/**
 * The generated key that signs links when --url-signing-keys is not given (SQLite migration 015,
 * PostgreSQL 008): one row, created by whichever node asks first.
 */
export interface LinkSigningKeyRepo {
  /**
   * The installation's key: `candidate` when no key was kept yet (it is stored now), else the
   * key kept before. Insert-if-absent then read, each one statement: nodes starting together
   * each offer their own candidate, one insert wins, and all of them read the winner.
   */
  ensure(candidate: string, at: number): Promise<string>;
}

export function createLinkSigningKeyRepo(sql: SqlExecutor): LinkSigningKeyRepo {
  const offer = params<{ secret: string; at: number }>();
  const insert = sql.prepare(offer, (db) =>
    db
      .insertInto('link_signing_key')
      .values({ id: 1, secret: offer.secret, created_at: offer.at })
      .onConflict((oc) => oc.column('id').doNothing()),
  );
  const read = sql.prepare(params(), (db) => db.selectFrom('link_signing_key').select('secret').where('id', '=', 1));
  return {
    ensure: async (secret, at) => {
      await insert.run({ secret, at });
      return (await read.first())!.secret;
    },
  };
}
