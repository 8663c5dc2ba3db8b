/**
 * A private PostgreSQL server for one test file: initdb into a temp folder, pg_ctl start on a
 * free port (fsync off: a test cluster need not survive a power cut), and a fresh database per
 * test, copied from a template migrated once (CREATE DATABASE … TEMPLATE takes a few ms). It is
 * started at the first test that asks for it and stopped, its folder removed, after the file.
 *
 * Without PostgreSQL's programs the tests that need them fail with what to install: CI installs
 * them (.ci/run), and a test that skips would hide a dialect nobody ran.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll } from 'vitest';
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

/** Debian installs the programs off PATH, under /usr/lib/postgresql/<version>/bin. */
function findBin(): string {
  const onPath = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' }).stdout.trim();
  if (onPath) return path.dirname(onPath);
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root)
    ? fs
        .readdirSync(root)
        .filter((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (!versions.length) {
    throw new Error(
      'these tests need PostgreSQL (initdb, pg_ctl): none on PATH nor in /usr/lib/postgresql/*/bin. ' +
        'Install it (Debian: apt-get install postgresql; .ci/run does) and run the tests again.',
    );
  }
  return path.join(root, versions[0]!, 'bin');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function startPrivatePostgres(): Promise<PrivatePostgres & { destroy(): void }> {
  const bin = findBin();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-pg-'));
  const data = path.join(dir, 'data');
  // PostgreSQL refuses to run as root: as root, its programs run as the postgres account, which
  // then owns the folder.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    fs.chownSync(dir, uid, gid);
  }
  const run = (program: string, args: string[]) => {
    const [command, all] = asRoot ? ['runuser', ['-u', 'postgres', '--', path.join(bin, program), ...args]] : [path.join(bin, program), args];
    const result = spawnSync(command, all, { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`${program} failed: ${result.stderr || result.stdout}`);
  };
  run('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync']);
  const port = await freePort();
  const options = [
    `-p ${port}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
    '-c max_connections=300',
  ].join(' ');
  const start = () => run('pg_ctl', ['-D', data, '-l', path.join(dir, 'log'), '-o', options, '-w', 'start']);
  const stop = () => run('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
  start();

  const url = (database: string) => `postgres://postgres@127.0.0.1:${port}/${database}`;
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
  let destroyed = false;
  const destroy = () => {
    if (destroyed) return;
    destroyed = true;
    try {
      run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } catch {
      // Already stopped (a test stopped it).
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', destroy);
  return {
    url,
    createDatabase: () => create('darkroom_template'),
    createEmptyDatabase: () => create('template0'),
    async dropDatabase(name) {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
    stop,
    start,
    destroy: () => {
      void admin.end().catch(() => undefined);
      destroy();
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
