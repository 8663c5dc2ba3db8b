/**
 * What only the PostgreSQL adapter does: the schema migrated once by nodes starting together,
 * the unit-of-work lock that holds across nodes, and an outage or a timeout answered as 503.
 */
import { describe, expect, it } from 'vitest';
import type { NewApiKeyRow } from '../../../server/db/keys.repo.js';
import { POSTGRES_SCHEMA_VERSION } from '../../../server/db/postgres/migrate.js';
import { openPostgresDatabase, type PostgresDatabase } from '../../../server/db/postgres/postgres-database.js';
import { openTestPostgres } from '../../helpers/database.js';
import { privatePostgres } from '../../helpers/postgres.js';

const key = (id: string): NewApiKeyRow => ({ id, key_hash: `hash-${id}`, key_prefix: id, customer: 'acme', role: 'admin', name: null, created_at: 1 });
const aWhile = (ms = 20) => new Promise((resolve) => setTimeout(resolve, ms));

/** Another node on the same database: a second adapter with a pool of its own. */
async function secondNode(db: PostgresDatabase, options: { statementTimeoutMs?: number } = {}) {
  const url = (db.pool.options as { connectionString: string }).connectionString;
  return openPostgresDatabase({ url, poolSize: 2, ...options });
}

describe('PostgreSQL adapter', () => {
  it('migrates an empty database once when three nodes start on it at the same time', async () => {
    const server = await privatePostgres();
    const name = await server.createEmptyDatabase();
    const nodes = await Promise.all([1, 2, 3].map(() => openPostgresDatabase({ url: server.url(name), poolSize: 2 })));
    try {
      expect(nodes.map((n) => n.migrated).sort()).toEqual([[], [], Array.from({ length: POSTGRES_SCHEMA_VERSION }, (_, i) => i + 1)]);
      const { rows } = await nodes[0]!.pool.query('SELECT version FROM darkroom_schema ORDER BY version');
      expect(rows.map((r) => r.version)).toEqual(Array.from({ length: POSTGRES_SCHEMA_VERSION }, (_, i) => i + 1));
      // Every node works on the one schema.
      await nodes[1]!.repos.keys.insert(key('a'));
      expect(await nodes[2]!.repos.keys.findById('a')).toBeDefined();
    } finally {
      await Promise.all(nodes.map((n) => n.close()));
      await server.dropDatabase(name);
    }
  });

  it('refuses a database whose schema is newer than its own', async () => {
    const db = await openTestPostgres();
    await db.pool.query('INSERT INTO darkroom_schema (version, name) VALUES ($1, $2)', [POSTGRES_SCHEMA_VERSION + 1, 'from the future']);
    await expect(secondNode(db)).rejects.toThrow(/newer than this Darkroom's/);
  });

  it('keeps a unit of work alone across nodes: the other node’s unit waits for its commit, then sees its writes', async () => {
    const db = await openTestPostgres();
    const other = await secondNode(db);
    try {
      const order: string[] = [];
      let release!: () => void;
      const first = db.unitOfWork(async (repos) => {
        await repos.keys.insert(key('a'));
        order.push('first wrote');
        await new Promise<void>((resolve) => (release = resolve));
        order.push('first commits');
      });
      await aWhile(50);
      const second = other.unitOfWork(async (repos) => {
        order.push(`second sees ${await repos.keys.countActiveAdmins()}`);
      });
      await aWhile(200);
      expect(order).toEqual(['first wrote']);
      release();
      await Promise.all([first, second]);
      expect(order).toEqual(['first wrote', 'first commits', 'second sees 1']);
    } finally {
      await other.close();
    }
  });

  it('never lets two nodes claim one job: the claim that waited for the other’s takes nothing', async () => {
    const db = await openTestPostgres();
    const other = await secondNode(db);
    try {
      const image = { id: 'img-1', customer: 'acme', filename: 'a.png', bytes: 1, sha256: 'ab', format: 'png', width: 1, height: 1, pages: 1, source: 'upload', created_at: 1 };
      await db.repos.images.insert(image, []);
      await db.repos.jobs.insertJob('process_image', image.id, 1, 3, 1);
      let second: Promise<unknown> | undefined;
      const first = await other.unitOfWork(async (repos) => {
        const claimed = await repos.jobs.claim(10, 1_000, 'first');
        // This node's claim reads the job as still queued, and waits for the row until the
        // other node's claim commits.
        second = db.repos.jobs.claim(10, 1_000, 'second');
        await aWhile(200);
        return claimed;
      });
      expect(first?.lease_token).toBe('first');
      expect(await second).toBeUndefined();
      expect((await db.rows('jobs')).map((j) => [j.status, j.lease_token, j.attempts])).toEqual([['running', 'first', 1]]);
    } finally {
      await other.close();
    }
  });

  it('answers 503 with Retry-After when a unit of work waits past the statement timeout, and goes on after', async () => {
    const db = await openTestPostgres();
    const other = await secondNode(db, { statementTimeoutMs: 300 });
    try {
      let release!: () => void;
      const holding = db.unitOfWork(() => new Promise<void>((resolve) => (release = resolve)));
      await aWhile(50);
      const err = await other.unitOfWork(async (repos) => repos.keys.insert(key('a'))).catch((e: unknown) => e);
      expect((err as { code?: string }).code).toBe('57014');
      const translated = other.translateError(err);
      expect(translated?.code).toBe('unavailable');
      expect(translated?.headers['Retry-After']).toBeDefined();
      release();
      await holding;
      await other.unitOfWork(async (repos) => repos.keys.insert(key('a')));
      expect(await db.repos.keys.findById('a')).toBeDefined();
    } finally {
      await other.close();
    }
  });

  it('checks every index of its schema with amcheck where the extension is installed', async () => {
    const db = await openTestPostgres();
    expect(await db.checkIntegrity()).toEqual([]);
    await db.pool.query('CREATE EXTENSION amcheck');
    const checked: string[] = [];
    const query = db.pool.query.bind(db.pool);
    db.pool.query = ((text: string, values?: unknown[]) => {
      if (typeof text === 'string' && text.includes('bt_index_check')) checked.push(String(values?.[0]));
      return query(text, values);
    }) as typeof db.pool.query;
    expect(await db.checkIntegrity()).toEqual([]);
    expect(checked).toEqual(expect.arrayContaining(['images_by_customer', 'jobs_queued_by_customer', 'api_keys_pkey']));
  });

  it('opened not to migrate, refuses a schema other than its own', async () => {
    const server = await privatePostgres();
    const name = await server.createEmptyDatabase();
    try {
      await expect(openPostgresDatabase({ url: server.url(name), migrate: false })).rejects.toThrow(/schema version 0, older than this Darkroom's/);
    } finally {
      await server.dropDatabase(name);
    }
  });

  it('gives up a unit of work that waited past the statement timeout for its turn in this process, as 503, and the queue goes on', async () => {
    const db = await openTestPostgres({ statementTimeoutMs: 300 });
    let release!: () => void;
    const holding = db.unitOfWork(() => new Promise<void>((resolve) => (release = resolve)));
    const started = Date.now();
    const err = await db.unitOfWork(async (repos) => repos.keys.insert(key('a'))).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(db.translateError(err)).toMatchObject({ code: 'unavailable', headers: { 'Retry-After': '2' } });
    const next = db.unitOfWork(async (repos) => repos.keys.insert(key('b')));
    release();
    await holding;
    await next;
    expect(await db.repos.keys.findById('a')).toBeUndefined();
    expect(await db.repos.keys.findById('b')).toBeDefined();
  });

  it('reads BIGINT counts and sums as numbers and BYTEA as a Buffer', async () => {
    const db = await openTestPostgres();
    const { rows } = await db.pool.query("SELECT count(*) AS n, sum(x) AS s, '\\x0102'::bytea AS b FROM (VALUES (1::bigint), (2::bigint)) v(x)");
    expect(rows[0]).toEqual({ n: 2, s: 3, b: Buffer.from([1, 2]) });
  });

  it('tells damage from an outage', async () => {
    const db = await openTestPostgres();
    const damaged = Object.assign(new Error('invalid page in block 7'), { code: 'XX001' });
    expect(db.isDamage(damaged)).toBe(true);
    expect(db.translateError(damaged)?.code).toBe('unavailable');
    const full = Object.assign(new Error('could not extend file'), { code: '53100' });
    expect(db.isDamage(full)).toBe(false);
    expect(db.translateError(full)?.code).toBe('insufficient_storage');
    expect(db.translateError(Object.assign(new Error('duplicate key'), { code: '23505' }))).toBeUndefined();
    expect(db.translateError(new Error('something else'))).toBeUndefined();
  });

  // Last: it stops this file's server.
  it('while the server is down: unreachable, every call a 503 (never a hang), and all is there after it is back', async () => {
    const server = await privatePostgres();
    const db = await openTestPostgres({ connectTimeoutMs: 1_000 });
    await db.unitOfWork(async (repos) => repos.keys.insert(key('a')));
    server.stop();
    try {
      expect(await db.isReachable()).toBe(false);
      for (const call of [() => db.repos.keys.findById('a'), () => db.unitOfWork(async (repos) => repos.keys.insert(key('b')))]) {
        const started = Date.now();
        const err = await call().then(
          () => new Error('succeeded while the server was down'),
          (e: unknown) => e,
        );
        expect(db.translateError(err)).toMatchObject({ code: 'unavailable', headers: { 'Retry-After': expect.any(String) } });
        expect(Date.now() - started).toBeLessThan(5_000);
      }
    } finally {
      server.start();
    }
    expect(await db.isReachable()).toBe(true);
    expect(await db.repos.keys.findById('a')).toBeDefined();
    await db.unitOfWork(async (repos) => repos.keys.insert(key('b')));
    expect(await db.repos.keys.countActiveAdmins()).toBe(2);
  });
});
