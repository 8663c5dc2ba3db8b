/**
 * A private PostgreSQL server for one test file: initdb into a temp folder, pg_ctl start on a
 * free port (fsync off: a test cluster need not survive a power cut), and a fresh database per
 * test, copied from a template migrated once (CREATE DATABASE … TEMPLATE takes a few ms). It is
 * started at the first test that asks for it and stopped, its folder removed, after the file.
 *
 * Without PostgreSQL's programs the tests that need them fail with what to install: CI installs
 * them (.ci/run), and a test that skips would hide a dialect nobody ran.
 */
import pg from 'pg';
import { afterAll } from 'vitest';
import { startPostgresServer } from '../../bench/lib/postgres-server.js';
import { openPostgresDatabase } from '../../server/db/postgres/postgres-database.js';

export interface PrivatePostgres {
  /** The URL of a database of this server. */
  url(database: string): string;
  /** A new database with the migrated schema; dropped with the server. */
  createDatabase(): Promise<string>;
  /** A new empty database (nothing migrated). */
  createEmptyDatabase(): Promise<string>;
  dropDatabase(name: string): Promise<void>;
  /** Stops the server (fast: connections are ended), as an outage; `start` brings it back on the same port. */
  stop(): void;
  start(): void;
}

async function startPrivatePostgres(): Promise<PrivatePostgres & { destroy(): void }> {
  const server = await startPostgresServer({ prefix: 'darkroom-pg-', maxConnections: 300 });
  const { url } = server;
  const admin = new pg.Pool({ connectionString: url('postgres'), max: 2 });
  admin.on('error', () => undefined);
  // The template every test's database is copied from, migrated once.
  await admin.query('CREATE DATABASE darkroom_template');
  const template = await openPostgresDatabase({ url: url('darkroom_template') });
  await template.close();

  let made = 0;
  const create = async (from: string) => {
    const name = `test_${process.pid}_${++made}`;
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${from}`);
    return name;
  };
  return {
    url,
    createDatabase: () => create('darkroom_template'),
    createEmptyDatabase: () => create('template0'),
    async dropDatabase(name) {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
    stop: () => server.stop('fast'),
    start: server.start,
    destroy: () => {
      void admin.end().catch(() => undefined);
      server.destroy();
    },
  };
}

let server: ReturnType<typeof startPrivatePostgres> | undefined;
afterAll(async () => {
  if (server) (await server).destroy();
  server = undefined;
});

/** This test file's private PostgreSQL server, started at the first call. */
export function privatePostgres(): Promise<PrivatePostgres> {
  server ??= startPrivatePostgres();
  return server;
}
