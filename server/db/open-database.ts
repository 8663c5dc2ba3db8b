import path from 'node:path';
import type { Logger } from 'pino';
import { createInProcessSignals } from '../cluster/in-process-signals.js';
import type { ClusterSignals } from '../cluster/signals.js';
import type { DatabasePort } from './port.js';
import type { Db } from './sqlite/connection.js';
import { openSqliteDatabase } from './sqlite/sqlite-database.js';

/** Where the database is and how to reach it: the server's options (config.ts) about it. */
export interface DatabaseChoice {
  /** The data dir: SQLite's database file is darkroom.db in it. */
  dataDir: string;
  /** --fsync: whether SQLite syncs a durable commit. */
  fsync: boolean;
  /** --database-url: PostgreSQL instead of SQLite. */
  databaseUrl?: string;
  databasePoolSize?: number;
  databaseStatementTimeout?: number;
  databaseConnectTimeout?: number;
}

/** The port, and on SQLite its connection (for the tests and commands that look under the port). */
export type OpenedDatabase = DatabasePort & { readonly connection?: Db };

/**
 * Opens the database the options choose, for the composition roots (main.ts, cli.ts): SQLite
 * in the data dir by default, PostgreSQL with --database-url. The PostgreSQL adapter (and
 * node-postgres) is loaded only then, so the embedded default never loads it.
 */
export async function openChosenDatabase(
  choice: DatabaseChoice,
  options: { onIdleError?: (err: Error) => void; onMigrationNotice?: (message: string) => void; migrate?: boolean } = {},
): Promise<OpenedDatabase> {
  if (!choice.databaseUrl) return openSqliteDatabase(path.join(choice.dataDir, 'darkroom.db'), { fsync: choice.fsync });
  const { openPostgresDatabase } = await import('./postgres/postgres-database.js');
  return openPostgresDatabase({
    url: choice.databaseUrl,
    poolSize: choice.databasePoolSize,
    statementTimeoutMs: choice.databaseStatementTimeout,
    connectTimeoutMs: choice.databaseConnectTimeout,
    onIdleError: options.onIdleError,
    onMigrationNotice: options.onMigrationNotice,
    migrate: options.migrate,
  });
}

/**
 * The cluster signals (cluster/signals.ts) that go with the chosen database: in-process on
 * SQLite, where this process is the only node; LISTEN/NOTIFY on PostgreSQL, where any number of
 * nodes share it (loaded only then, like the database adapter).
 */
export async function openChosenSignals(choice: DatabaseChoice, logger?: Pick<Logger, 'warn' | 'info'>): Promise<ClusterSignals> {
  if (!choice.databaseUrl) return createInProcessSignals();
  const { openPostgresSignals } = await import('./postgres/postgres-signals.js');
  return openPostgresSignals({ url: choice.databaseUrl, connectTimeoutMs: choice.databaseConnectTimeout, logger });
}
