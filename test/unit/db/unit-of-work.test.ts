/**
 * The unit of work: one transaction that nothing else on the database overtakes, also across
 * its awaits; a throw rolls it all back; a durable one commits to stable storage.
 */
import Database from 'better-sqlite3';
import { describe, expect, it, vi } from 'vitest';
import type { NewApiKeyRow } from '../../../server/db/keys.repo.js';
import { DIALECTS, openTestSqlite } from '../../helpers/database.js';

const key = (id: string): NewApiKeyRow => ({ id, key_hash: `hash-${id}`, key_prefix: id, customer: 'acme', role: 'admin', name: null, created_at: 1 });
/** Lets timers and I/O callbacks run: what another request would do meanwhile. */
const aWhile = () => new Promise((resolve) => setTimeout(resolve, 20));

describe.each(DIALECTS)('unit of work on $dialect', ({ open }) => {
  it('commits what it wrote and resolves to what the work returned', async () => {
    const db = await open();
    const result = await db.unitOfWork(async (repos) => {
      await repos.keys.insert(key('a'));
      await repos.keys.insert(key('b'));
      return 'done';
    });
    expect(result).toBe('done');
    expect(await db.repos.keys.countActiveAdmins()).toBe(2);
  });

  it('rolls everything back when the work throws, and rethrows', async () => {
    const db = await open();
    const failure = new Error('changed my mind');
    await expect(
      db.unitOfWork(async (repos) => {
        await repos.keys.insert(key('a'));
        await aWhile();
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(await db.repos.keys.findById('a')).toBeUndefined();
    // The database is usable afterwards.
    await db.unitOfWork(async (repos) => repos.keys.insert(key('b')));
    expect(await db.repos.keys.findById('b')).toBeDefined();
  });

  it('rolls back when a statement fails midway', async () => {
    const db = await open();
    await expect(
      db.unitOfWork(async (repos) => {
        await repos.keys.insert(key('a'));
        await repos.keys.insert({ ...key('b'), key_hash: 'hash-a' }); // unique hash
      }),
    ).rejects.toThrow();
    expect(await db.repos.keys.findById('a')).toBeUndefined();
  });

  it('never shows a caller outside it a half-done unit', async () => {
    const db = await open();
    let outside: Promise<number> | undefined;
    await db.unitOfWork(async (repos) => {
      await repos.keys.insert(key('a'));
      // Asked while the unit is half done, not awaited here: on SQLite it waits for the unit.
      outside = db.repos.keys.countActiveAdmins();
      await aWhile();
      await repos.keys.insert(key('b'));
    });
    // SQLite: after the unit (2). PostgreSQL: the state before it (0), or after it if it ran later.
    expect([0, 2]).toContain(await outside);
  });

  it('runs a second unit of work after the first, never interleaved', async () => {
    const db = await open();
    const order: string[] = [];
    const first = db.unitOfWork(async (repos) => {
      order.push('first begins');
      await aWhile();
      await repos.keys.insert(key('a'));
      order.push('first ends');
    });
    const second = db.unitOfWork(async (repos) => {
      order.push('second begins');
      order.push(`second sees ${await repos.keys.countActiveAdmins()}`);
    });
    await Promise.all([first, second]);
    expect(order).toEqual(['first begins', 'first ends', 'second begins', 'second sees 1']);
  });

  it('lets the next caller in after a unit of work that failed', async () => {
    const db = await open();
    const failed = db.unitOfWork(async () => {
      await aWhile();
      throw new Error('boom');
    });
    const next = db.repos.keys.insert(key('a'));
    await expect(failed).rejects.toThrow('boom');
    await next;
    expect(await db.repos.keys.findById('a')).toBeDefined();
  });

  it('refuses its repositories once it has ended', async () => {
    const db = await open();
    const leaked = await db.unitOfWork(async (repos) => repos);
    await expect(leaked.keys.insert(key('a'))).rejects.toThrow(/after it ended/);
    expect(await db.repos.keys.findById('a')).toBeUndefined();
  });
});

describe('unit of work on SQLite', () => {
  const open = async () => openTestSqlite();

  it('makes a caller outside it wait until it ends (one connection: it would be part of the transaction)', async () => {
    const db = await open();
    const order: string[] = [];
    const unit = db.unitOfWork(async (repos) => {
      await repos.keys.insert(key('a'));
      order.push('inserted');
      await aWhile();
      // Check, then act: nobody can have changed the count in between.
      const admins = await repos.keys.countActiveAdmins();
      await aWhile();
      await repos.keys.insert(key('b'));
      order.push('committing');
      return admins;
    });
    await Promise.resolve();
    const outside = db.repos.keys.countActiveAdmins().then((n) => {
      order.push(`outside saw ${n}`);
      return n;
    });
    expect(await unit).toBe(1);
    expect(await outside).toBe(2);
    expect(order).toEqual(['inserted', 'committing', 'outside saw 2']);
  });

  it('reports the database reachable, after the unit of work that holds it', async () => {
    const db = await open();
    let release!: () => void;
    const unit = db.unitOfWork(() => new Promise<void>((resolve) => (release = resolve)));
    let reached: boolean | undefined;
    const reachable = db.isReachable().then((r) => (reached = r));
    await aWhile();
    expect(reached).toBeUndefined();
    release();
    await unit;
    expect(await reachable).toBe(true);
  });

  const synchronous = (db: ReturnType<typeof openTestSqlite>) => db.connection.pragma('synchronous', { simple: true });
  const FULL = 2;
  const NORMAL = 1;

  it('commits a durable unit with synchronous = FULL and goes back to NORMAL after', async () => {
    const db = openTestSqlite();
    expect(synchronous(db)).toBe(NORMAL);
    const during = await db.unitOfWork(
      async (repos) => {
        await repos.keys.insert(key('a'));
        return synchronous(db);
      },
      { durable: true },
    );
    expect(during).toBe(FULL);
    expect(synchronous(db)).toBe(NORMAL);
    // A plain unit of work keeps NORMAL's cheaper commit.
    expect(await db.unitOfWork(async () => synchronous(db))).toBe(NORMAL);
  });

  it('goes back to NORMAL after a durable unit that failed', async () => {
    const db = openTestSqlite();
    await expect(db.unitOfWork(async () => Promise.reject(new Error('no')), { durable: true })).rejects.toThrow('no');
    expect(synchronous(db)).toBe(NORMAL);
  });

  it('does not sync a durable unit when fsync is off (--fsync false)', async () => {
    const db = openTestSqlite({ fsync: false });
    expect(await db.unitOfWork(async () => synchronous(db), { durable: true })).toBe(NORMAL);
  });

  it('answers busy (503 with Retry-After) when another process holds the write lock, and is usable after', async () => {
    const db = openTestSqlite();
    const other = new Database(db.connection.name);
    other.exec('BEGIN IMMEDIATE');
    try {
      const err = await db.unitOfWork(async (repos) => repos.keys.insert(key('a'))).catch((e: unknown) => e);
      const translated = db.translateError(err);
      expect(translated?.code).toBe('unavailable');
      expect(translated?.headers?.['Retry-After']).toBeDefined();
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    await db.unitOfWork(async (repos) => repos.keys.insert(key('a')));
    expect(await db.repos.keys.findById('a')).toBeDefined();
  });

  it('compiles each query once, at its first call, not per call', async () => {
    const db = openTestSqlite();
    const prepare = vi.spyOn(db.connection, 'prepare');
    for (let i = 0; i < 5; i++) await db.repos.keys.findByHash(`h${i}`);
    expect(prepare).toHaveBeenCalledTimes(1);
    // The unit of work's repositories are a set of their own: their statement, once too.
    for (let i = 0; i < 3; i++) await db.unitOfWork(async (repos) => repos.keys.findByHash('h'));
    expect(prepare).toHaveBeenCalledTimes(2);
  });
});

describe.each(DIALECTS)('savepoints of a unit of work on $dialect', ({ open }) => {
  it('rolls back only the savepoint that failed; the rest of the unit commits', async () => {
    const db = await open();
    const refusal = new Error('this item is refused');
    const outcomes = await db.unitOfWork(async (repos, unit) => {
      const results: string[] = [];
      for (const id of ['a', 'b', 'c']) {
        try {
          await unit.savepoint(async () => {
            await repos.keys.insert(key(id));
            if (id === 'b') throw refusal;
          });
          results.push(`${id}: kept`);
        } catch (err) {
          results.push(`${id}: ${err === refusal ? 'rolled back' : String(err)}`);
        }
      }
      return results;
    });
    expect(outcomes).toEqual(['a: kept', 'b: rolled back', 'c: kept']);
    expect(await db.repos.keys.findById('a')).toBeDefined();
    expect(await db.repos.keys.findById('b')).toBeUndefined();
    expect(await db.repos.keys.findById('c')).toBeDefined();
  });

  it('is rolled back with its unit of work, although it succeeded', async () => {
    const db = await open();
    await expect(
      db.unitOfWork(async (repos, unit) => {
        await unit.savepoint(() => repos.keys.insert(key('a')));
        throw new Error('the batch failed');
      }),
    ).rejects.toThrow('the batch failed');
    expect(await db.repos.keys.findById('a')).toBeUndefined();
  });
});
