import pg from 'pg';
import type { DatabasePort, UnitOfWork, UnitOfWorkOptions } from '../port.js';
import { createRepositories, type Repositories } from '../repositories.js';
import { isConnectionFailure, isPostgresDamage, translatePostgresError, UnitOfWorkWaitTimeout } from './errors.js';
import { createPostgresExecutor, type Queryable } from './executor.js';
import { migratePostgres, postgresSchemaProblem } from './migrate.js';

export interface PostgresDatabaseOptions {
  /** `postgres://user:pass@host:port/db` (--database-url). */
  url: string;
  /** Connections this process keeps at most (--database-pool-size). */
  poolSize?: number;
  /** A statement running longer is cancelled by the server (--database-statement-timeout), in ms. */
  statementTimeoutMs?: number;
  /** How long to wait for a connection (a new one, or a free one of the pool), in ms. */
  connectTimeoutMs?: number;
  /** False: do not migrate, refuse a schema other than this program's (a command that only reads). */
  migrate?: boolean;
  /** A connection failed while idle in the pool (the server restarted): the pool drops it and goes on. */
  onIdleError?: (err: Error) => void;
  /** Something a migration asks an administrator to do (migrate.ts): for the log. */
  onMigrationNotice?: (message: string) => void;
}

/** The database port on PostgreSQL, plus its pool: for tests, and the versions this start migrated. */
export interface PostgresDatabase extends DatabasePort {
  readonly pool: pg.Pool;
  /** The migrations this process applied at open; none when the schema was up to date. */
  readonly migrated: number[];
}

/**
 * The lock every unit of work holds from BEGIN to COMMIT, on every node sharing the database:
 * "darkunit" in ASCII. See unitOfWork below.
 */
const UNIT_OF_WORK_LOCK = (0x6461726b_756e6974n).toString();

/** PostgreSQL's type ids of BIGINT (count(*) too) and NUMERIC (what sum() of a BIGINT is). */
const INT8 = 20;
const NUMERIC = 1700;

/**
 * BIGINT and NUMERIC as JS numbers, as db/schema.ts promises (node-postgres gives strings, as a
 * BIGINT may exceed 2^53): every such column holds times in ms, ids, counts and byte sizes,
 * far below 2^53. BYTEA is a Buffer already.
 */
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8 || oid === NUMERIC ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

/**
 * Opens a pool on the database, brings the schema up to date (once across nodes starting
 * together: migrate.ts) and returns the port over it.
 */
export async function openPostgresDatabase(options: PostgresDatabaseOptions): Promise<PostgresDatabase> {
  const statementTimeoutMs = options.statementTimeoutMs ?? 15_000;
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    // The server cancels a statement past this (57014 → 503); waiting for the unit-of-work lock
    // counts too, so a node never waits forever behind another.
    statement_timeout: statementTimeoutMs,
    // And the client gives up a little later, for a server that does not answer at all (a
    // network partition, a stopped machine), where the server's own timeout cannot fire.
    query_timeout: statementTimeoutMs + 5_000,
    // A node that stops in the middle of a unit of work (a hung event loop) must not keep the
    // unit-of-work lock: the server ends such a session.
    idle_in_transaction_session_timeout: Math.max(60_000, statementTimeoutMs * 4),
    keepAlive: true,
    application_name: 'darkroom',
    types,
  });
  // Without a listener, an idle connection's failure (the server restarting) would be thrown as
  // an uncaught 'error' event and end the process; the pool has already dropped the connection.
  pool.on('error', (err) => options.onIdleError?.(err));
  try {
    if (options.migrate === false) {
      const problem = await postgresSchemaProblem(pool);
      if (problem) throw new Error(problem);
      return postgresDatabaseOver(pool, [], statementTimeoutMs);
    }
    return postgresDatabaseOver(pool, await migratePostgres(pool, options.onMigrationNotice), statementTimeoutMs);
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }
}

function postgresDatabaseOver(pool: pg.Pool, migrated: number[], statementTimeoutMs: number): PostgresDatabase {
  const repos = createRepositories(createPostgresExecutor(() => pool));

  // The unit of work's connection while one is open in this process (one at a time: see `turn`).
  let current: pg.PoolClient | undefined;
  const inside = (): Queryable => {
    if (!current) throw new Error('a unit of work’s repositories were used after it ended');
    return current;
  };
  const unitRepos = createRepositories(createPostgresExecutor(inside));

  // Units of work of this process queue here, in arrival order, before taking a connection:
  // the advisory lock would serialise them anyway, but each waiter would hold a connection of
  // the pool while it waits, and the statements outside units of work need those.
  // A unit of work waits at most the statement timeout for its turn (as it would for the lock in
  // PostgreSQL), then fails as `unavailable`: while the server cannot be reached, each unit ahead
  // may take the whole connect timeout to fail, and the queue behind must not grow into a hang.
  let queue: Promise<void> = Promise.resolve();
  const turn = (): Promise<() => void> => {
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const before = queue;
    queue = before.then(() => mine);
    return new Promise((resolve, reject) => {
      let gaveUp = false;
      const timer = setTimeout(() => {
        gaveUp = true;
        reject(new UnitOfWorkWaitTimeout(statementTimeoutMs));
      }, statementTimeoutMs);
      void before.then(() => {
        // Its turn came after it gave up: passed straight on to the next in line.
        if (gaveUp) return release();
        clearTimeout(timer);
        resolve(release);
      });
    });
  };

  let savepoints = 0;
  const unit: UnitOfWork = {
    async savepoint<T>(work: () => Promise<T>): Promise<T> {
      const client = current;
      if (!client) throw new Error('a savepoint outside its unit of work');
      const name = `item_${++savepoints}`;
      await client.query(`SAVEPOINT ${name}`);
      try {
        const result = await work();
        await client.query(`RELEASE SAVEPOINT ${name}`);
        return result;
      } catch (err) {
        // Undo this item's writes only (PostgreSQL also needs it to use the transaction again
        // after a failed statement); the savepoint stays open after ROLLBACK TO, so RELEASE.
        await client.query(`ROLLBACK TO SAVEPOINT ${name}`);
        await client.query(`RELEASE SAVEPOINT ${name}`);
        throw err;
      } finally {
        savepoints--;
      }
    },
  };

  return {
    pool,
    migrated,
    repos,
    // Any number of nodes share a PostgreSQL database: a start takes back only its own node
    // id's jobs, and never marks the other nodes stopped (they may well be running).
    soleNode: false,

    /**
     * One transaction on one connection, holding the unit-of-work advisory lock from its start:
     * while it is open no other unit of work runs on any node of the cluster, so check-then-act
     * inside it is safe as on SQLite. The price is that units of work of the whole cluster run
     * one at a time (each a few ms: an upload's commit, a job's claim or completion); locking
     * the rows each unit touches instead is the refinement for when that becomes the limit.
     * Statements outside a unit of work do not wait for it (docs/architecture.md lists why each
     * such write is safe). `durable` needs nothing: PostgreSQL's commit is synchronous
     * (synchronous_commit on, its default), so a commit that returned is on stable storage.
     */
    async unitOfWork<T>(work: (repos: Repositories, unit: UnitOfWork) => Promise<T>, _options: UnitOfWorkOptions = {}): Promise<T> {
      const done = await turn();
      let client: pg.PoolClient | undefined;
      let broken: Error | undefined;
      // A checked-out connection reports its failure (the server ended the session) as an
      // 'error' event, which with no listener would end the process; the statement under way
      // fails too, and the connection is closed at release.
      const onError = (err: Error) => (broken = err);
      try {
        client = await pool.connect();
        client.on('error', onError);
        await client.query('BEGIN');
        try {
          await client.query('SELECT pg_advisory_xact_lock($1)', [UNIT_OF_WORK_LOCK]);
          current = client;
          const result = await work(unitRepos, unit);
          await client.query('COMMIT');
          return result;
        } catch (err) {
          current = undefined;
          if (isConnectionFailure(err)) broken = err as Error;
          else await client.query('ROLLBACK').catch((failed: Error) => (broken = failed));
          throw err;
        }
      } catch (err) {
        if (isConnectionFailure(err)) broken ??= err as Error;
        throw err;
      } finally {
        current = undefined;
        client?.off('error', onError);
        // A connection that failed is closed rather than handed to the next caller.
        client?.release(broken);
        done();
      }
    },

    async isReachable() {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), 2_000)));
      try {
        return await Promise.race([pool.query({ text: 'SELECT 1', query_timeout: 2_000 } as pg.QueryConfig).then(() => true, () => false), timeout]);
      } finally {
        clearTimeout(timer);
      }
    },

    // PostgreSQL checks pages as it reads them (and their checksums, when the cluster was made
    // with them): damage shows as XX001/XX002 on the statement that meets it (isDamage). Its
    // structural check is the amcheck extension, which an operator installs: when it is there,
    // each of the schema's B-tree indexes is checked (bt_index_check: a shared lock, no writes
    // blocked); without it there is nothing the engine offers to check, and none is reported.
    async checkIntegrity() {
      const { rows: installed } = await pool.query("SELECT 1 FROM pg_extension WHERE extname = 'amcheck'");
      if (!installed.length) return [];
      const { rows: indexes } = await pool.query<{ name: string }>(
        `SELECT c.oid::regclass::text AS name FROM pg_index i
           JOIN pg_class c ON c.oid = i.indexrelid
           JOIN pg_am am ON am.oid = c.relam
          WHERE am.amname = 'btree' AND c.relnamespace = current_schema()::regnamespace`,
      );
      const problems: string[] = [];
      for (const { name } of indexes) {
        try {
          await pool.query('SELECT bt_index_check($1::regclass)', [name]);
        } catch (err) {
          if (isConnectionFailure(err)) throw err;
          problems.push(`${name}: ${(err as Error).message}`);
        }
      }
      return problems;
    },

    translateError: translatePostgresError,

    isDamage: isPostgresDamage,

    async close() {
      await pool.end();
    },
  };
}
