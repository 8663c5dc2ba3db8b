import type { Pool } from 'pg';
import { POSTGRES_MIGRATIONS } from './migrations/index.js';

/** The schema this program reads and writes on PostgreSQL: the version of its last migration. */
export const POSTGRES_SCHEMA_VERSION = POSTGRES_MIGRATIONS[POSTGRES_MIGRATIONS.length - 1]!.version;

/**
 * The advisory lock the migrations run under. Any constant works as long as nothing else on the
 * database uses it; these are "darkroom" and "migrate" in ASCII, to be recognisable in pg_locks.
 */
const MIGRATION_LOCK = 0x6461726b_6d696772n;

/**
 * Brings the schema to this program's version and resolves to the versions it applied (none
 * when another node, or an earlier start, already did). All of it is one transaction holding
 * an advisory lock: nodes starting at once take turns, the first migrates, the others find the
 * work done; a failure leaves the schema as it was (PostgreSQL's DDL is transactional).
 * Refuses a schema newer than this program's.
 */
export async function migratePostgres(pool: Pool, onNotice?: (message: string) => void): Promise<number[]> {
  const client = await pool.connect();
  // What a migration says for an administrator to do (005's BI role, where this role may not
  // create roles): PostgreSQL sends it as a NOTICE, which is passed on to the log.
  const notice = (n: { message?: string }) => {
    if (n.message?.startsWith('darkroom:')) onNotice?.(n.message.slice('darkroom: '.length));
  };
  client.on('notice', notice);
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    try {
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK.toString()]);
      await client.query(`CREATE TABLE IF NOT EXISTS darkroom_schema (
        version    integer PRIMARY KEY,
        name       text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
      const { rows } = await client.query<{ version: number }>('SELECT coalesce(max(version), 0) AS version FROM darkroom_schema');
      const current = Number(rows[0]!.version);
      if (current > POSTGRES_SCHEMA_VERSION) {
        throw new Error(
          `the database is at schema version ${current}, newer than this Darkroom's (${POSTGRES_SCHEMA_VERSION}): use the Darkroom version that wrote it, or a later one`,
        );
      }
      const applied: number[] = [];
      for (const migration of POSTGRES_MIGRATIONS) {
        if (migration.version <= current) continue;
        // No parameters: the simple protocol, which runs a script of several statements.
        await client.query(migration.sql);
        await client.query('INSERT INTO darkroom_schema (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
        applied.push(migration.version);
      }
      await client.query('COMMIT');
      return applied;
    } catch (err) {
      await client.query('ROLLBACK').catch((rollbackFailed: Error) => (broken = rollbackFailed));
      throw err;
    }
  } finally {
    client.off('notice', notice);
    client.release(broken);
  }
}

/**
 * Why the database's schema cannot be used as it is without migrating (a command that only
 * reads, beside servers of another version), or undefined when it is this program's.
 */
export async function postgresSchemaProblem(pool: Pool): Promise<string | undefined> {
  const { rows: table } = await pool.query("SELECT to_regclass('darkroom_schema') IS NOT NULL AS present");
  const found = table[0]!.present
    ? Number((await pool.query<{ version: number }>('SELECT coalesce(max(version), 0) AS version FROM darkroom_schema')).rows[0]!.version)
    : 0;
  if (found === POSTGRES_SCHEMA_VERSION) return undefined;
  if (found > POSTGRES_SCHEMA_VERSION) {
    return `the database is at schema version ${found}, newer than this Darkroom's (${POSTGRES_SCHEMA_VERSION}): use the Darkroom version that wrote it, or a later one`;
  }
  return `the database is at schema version ${found}, older than this Darkroom's (${POSTGRES_SCHEMA_VERSION}): start the server of this version once (it upgrades the database), then run this again`;
}
