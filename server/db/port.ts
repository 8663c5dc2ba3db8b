import type { AppError } from '../errors.js';
import type { Repositories } from './repositories.js';

/**
 * The database port: what the use cases know of the database. An adapter (db/sqlite/,
 * db/postgres/) implements it; nothing above db/ imports an adapter except the composition roots (main.ts,
 * cli.ts), which choose one.
 */
export interface DatabasePort {
  /** The repositories for work that needs no transaction: each call is its own statement. */
  readonly repos: Repositories;

  /**
   * Runs `work` in one transaction, with repositories bound to it, and commits when it resolves
   * (rolls back when it throws, and rethrows). While it is open no other unit of work runs,
   * also across its awaits, and on PostgreSQL on any node sharing the database: they wait until
   * it ends. So a "check, then act" inside it (read a row, decide, write) cannot be overtaken by
   * another caller. A single statement outside a unit of work never sees one half done (SQLite:
   * it waits for it; PostgreSQL: it sees the state before it), so a write outside one must be
   * safe as one conditional statement (docs/architecture.md, "Writes outside a unit of work"). Keep it short: everyone waits for it. Do no slow I/O inside; never open a unit of
   * work inside another (it would wait for itself).
   */
  unitOfWork<T>(work: (repos: Repositories, unit: UnitOfWork) => Promise<T>, options?: UnitOfWorkOptions): Promise<T>;

  /** The database answers a trivial query (for /readyz). */
  isReachable(): Promise<boolean>;

  /**
   * What the adapter's own engine can check of the database's storage (SQLite: its quick
   * check of pages, records and indexes): the problems the engine reports, none when sound.
   * It reads the whole database, so it is for `darkroom verify`, never for a request.
   */
  checkIntegrity(): Promise<string[]>;

  /**
   * A failure of the database as the API's error (CONTRACT §3: busy or failing → 503
   * `unavailable` with Retry-After; full → 507), or undefined when `err` is not the database's.
   */
  translateError(err: unknown): AppError | undefined;

  /**
   * Whether `err` says the database itself is damaged (not merely busy or unreachable): an
   * operator must look, so it is logged as an error rather than as a passing outage.
   */
  isDamage(err: unknown): boolean;

  /** Ends the connections; resolves once they are closed. */
  close(): Promise<void>;
}

/** What a unit of work offers besides its repositories. */
export interface UnitOfWork {
  /**
   * Runs `work` so that its writes can fail alone: when it throws, what it wrote is rolled back
   * (and the error rethrown) while the unit of work goes on; when it resolves, its writes stay
   * part of the unit of work. For batches whose items each keep their own outcome (group commit).
   * Await it before the next: savepoints nest, they do not run side by side.
   */
  savepoint<T>(work: () => Promise<T>): Promise<T>;
}

/** How the transport and the composition root read the database's failures (see DatabasePort). */
export type DatabaseErrors = Pick<DatabasePort, 'translateError' | 'isDamage'>;

export interface UnitOfWorkOptions {
  /**
   * The commit must be on stable storage when the unit of work resolves: set by the commits
   * that accept uploads, which a 202 promises. Whether that costs a sync is the adapter's
   * choice, made once where the database is opened (`--fsync false` turns it off).
   */
  durable?: boolean;
}
