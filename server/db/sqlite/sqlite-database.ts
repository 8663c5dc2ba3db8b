import { openDatabase, type Db } from './connection.js';
import { isDatabaseDamage, translateDatabaseError } from './errors.js';
import type { DatabasePort, UnitOfWork, UnitOfWorkOptions } from '../port.js';
import { createRepositories, type Repositories } from '../repositories.js';
import { ConnectionGate } from './connection-gate.js';
import { createSqliteExecutor, schedulerOutsideUnitOfWork, type StatementScheduler } from './executor.js';

export interface SqliteDatabaseOptions {
  /**
   * Whether a durable unit of work syncs its commit to stable storage; false only with
   * `--fsync false`, which gives up that promise for the whole data folder.
   */
  fsync?: boolean;
}

/** The database port on SQLite, plus its connection: for the CLI's commands that work on the file itself, and for tests. */
export interface SqliteDatabase extends DatabasePort {
  readonly connection: Db;
}

/** Opens (creating and migrating as needed) the SQLite database file behind the port. */
export function openSqliteDatabase(file: string, options: SqliteDatabaseOptions = {}): SqliteDatabase {
  return sqliteDatabaseOver(openDatabase(file), options);
}

/**
 * The port over a connection already open and migrated (db/connection.ts). There must be one
 * per connection: the gate that keeps a unit of work alone on it lives here.
 */
export function sqliteDatabaseOver(connection: Db, { fsync = true }: SqliteDatabaseOptions = {}): SqliteDatabase {
  const gate = new ConnectionGate();
  const outside = schedulerOutsideUnitOfWork(gate);
  const repos = createRepositories(createSqliteExecutor(connection, outside));

  // The repositories a unit of work hands out run at once: the unit of work holds the gate. Used
  // after their unit of work ended (a leaked reference), they would run outside any transaction
  // while another holds the connection, so they refuse.
  let inUnitOfWork = false;
  const inside: StatementScheduler = (statement) => {
    if (!inUnitOfWork) return Promise.reject(new Error('a unit of work’s repositories were used after it ended'));
    try {
      return Promise.resolve(statement());
    } catch (err) {
      return Promise.reject(err);
    }
  };
  const unitRepos: Repositories = createRepositories(createSqliteExecutor(connection, inside));

  let savepoints = 0;
  const unit: UnitOfWork = {
    async savepoint<T>(work: () => Promise<T>): Promise<T> {
      if (!inUnitOfWork) throw new Error('a savepoint outside its unit of work');
      const name = `item_${++savepoints}`;
      connection.exec(`SAVEPOINT ${name}`);
      try {
        const result = await work();
        connection.exec(`RELEASE ${name}`);
        return result;
      } catch (err) {
        // Undo this item's writes only; RELEASE then closes the savepoint (it stays open after ROLLBACK TO).
        if (connection.inTransaction) {
          connection.exec(`ROLLBACK TO ${name}`);
          connection.exec(`RELEASE ${name}`);
        }
        throw err;
      } finally {
        savepoints--;
      }
    },
  };

  return {
    connection,
    repos,

    async unitOfWork<T>(work: (repos: Repositories, unit: UnitOfWork) => Promise<T>, { durable = false }: UnitOfWorkOptions = {}): Promise<T> {
      await gate.acquire();
      try {
        // Why switching per transaction holds: in WAL mode, `synchronous = NORMAL` syncs the log
        // only at checkpoints, `FULL` at every commit. SQLite reads the setting when it commits,
        // and the gate keeps this the only transaction on the connection, so exactly this commit
        // runs under FULL; everything else keeps NORMAL's cheaper commits, which a crash of the
        // process never loses anyway. SQLite refuses the change inside a transaction, hence here.
        const sync = durable && fsync;
        if (sync) connection.pragma('synchronous = FULL');
        try {
          // IMMEDIATE takes the write lock now: a second process holding it (a CLI repair) makes
          // this fail at once as busy (503) rather than midway, after reads that then go stale.
          connection.exec('BEGIN IMMEDIATE');
          inUnitOfWork = true;
          try {
            const result = await work(unitRepos, unit);
            connection.exec('COMMIT');
            return result;
          } catch (err) {
            // SQLite may have rolled back already (some errors end the transaction themselves).
            if (connection.inTransaction) connection.exec('ROLLBACK');
            throw err;
          } finally {
            inUnitOfWork = false;
          }
        } finally {
          if (sync) connection.pragma('synchronous = NORMAL');
        }
      } finally {
        gate.release();
      }
    },

    isReachable: () => outside(() => connection.prepare('SELECT 1 AS ok').get() !== undefined),

    // quick_check: the structure of every page, record and index, without integrity_check's
    // cross-check of each index against its table (which costs minutes on a large database).
    // Damage bad enough stops the check itself (SQLITE_CORRUPT): that is its finding too.
    checkIntegrity: () =>
      outside(() => {
        try {
          const rows = connection.pragma('quick_check') as Array<{ quick_check: string }>;
          return rows.length === 1 && rows[0]!.quick_check === 'ok' ? [] : rows.map((row) => row.quick_check);
        } catch (err) {
          if (isDatabaseDamage(err)) return [(err as Error).message];
          throw err;
        }
      }),

    translateError: translateDatabaseError,

    isDamage: isDatabaseDamage,

    // Synchronous underneath: the connection is closed when this returns.
    async close() {
      connection.close();
    },
  };
}
