/** The capacity tier's eviction over the database port: real SQLite, real blob stores. */
import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { blobKeys } from '../../server/storage/blob-store.js';
import { createFsBlobStore } from '../../server/storage/fs/fs-blob-store.js';
import { createOriginalsTier } from '../../server/sync/originals-tier.js';
import { createManualClock } from '../../server/util/clock.js';
import { openTestSqlite } from '../helpers/database.js';
import { tempDirs } from '../helpers/server.js';

const dir = tempDirs('darkroom-tier-');
const BYTES = 1_000;

/** Three originals of 1000 bytes on disk, each with a verified bucket copy, used longest ago first. */
async function setUp(maxLocalBytes: number | undefined, options: { failUnitOfWork?: number } = {}) {
  const db = openTestSqlite({ fsync: false });
  const store = createFsBlobStore(dir(), { fsync: false });
  store.init();
  const replica = createFsBlobStore(dir(), { fsync: false });
  replica.init();
  const shas: string[] = [];
  let units = 0;
  for (let n = 0; n < 3; n++) {
    const bytes = Buffer.alloc(BYTES, n + 1);
    const sha256 = crypto.createHash('sha256').update(bytes).digest('hex');
    await store.put(blobKeys.original(sha256), Readable.from([bytes]), { sha256 });
    await replica.put(blobKeys.original(sha256), Readable.from([bytes]), { sha256 });
    await db.repos.sync.originalIsLocal(sha256, BYTES, n);
    await db.repos.sync.originalSynced(sha256, BYTES, true, n);
    shas.push(sha256);
  }
  const tier = createOriginalsTier({
    sync: db.repos.sync,
    // A fault to inject: the nth unit of work fails after its work, so it rolls back.
    unitOfWork: (work) =>
      db.unitOfWork(async (repos) => {
        const result = await work(repos);
        if (++units === options.failUnitOfWork) throw new Error('the commit failed');
        return result;
      }),
    store,
    replica,
    // Within a minute of the last use: reading an original does not reorder them.
    clock: createManualClock(10),
    logger: pino({ level: 'silent' }),
    maxLocalBytes,
  });
  return { db, store, tier, shas };
}

describe('capacity tier: eviction', () => {
  it('evicts least recently used originals down to the limit, counting each once however many ask at the same time', async () => {
    const { db, store, tier, shas } = await setUp(1_500);
    const [a, b] = await Promise.all([tier.evict(), tier.evict(), tier.evict()]);
    expect(a).toBe(2);
    expect(b).toBe(2);
    expect(shas.map((sha) => store.existsSync(blobKeys.original(sha)))).toEqual([false, false, true]);
    expect(await db.repos.sync.state()).toMatchObject({ local_bytes: BYTES, evicted_originals: 2, evicted_bytes: 2 * BYTES });
    expect(await tier.evict()).toBe(0);
  });

  it('leaves an original being read alone, and takes the next one instead', async () => {
    const { db, store, tier, shas } = await setUp(2_500);
    const reading = await tier.source.acquire(shas[0]!);
    try {
      expect(await tier.evict()).toBe(1);
      expect(shas.map((sha) => store.existsSync(blobKeys.original(sha)))).toEqual([true, false, true]);
      expect((await db.repos.sync.original(shas[0]!))!.local).toBe(1);
    } finally {
      reading.release();
    }
  });

  it('a commit that fails leaves at most one row claiming a local copy that is gone', async () => {
    const { db, store, tier, shas } = await setUp(0, { failUnitOfWork: 2 });
    await expect(tier.evict()).rejects.toThrow('the commit failed');
    const claimsGoneCopy = [];
    for (const sha of shas) {
      if ((await db.repos.sync.original(sha))!.local === 1 && !store.existsSync(blobKeys.original(sha))) claimsGoneCopy.push(sha);
    }
    expect(claimsGoneCopy).toEqual([shas[1]]);
    expect(store.existsSync(blobKeys.original(shas[2]!))).toBe(true);
  });

  it('evicts nothing without a limit', async () => {
    const { db, store, tier, shas } = await setUp(undefined);
    expect(await tier.evict()).toBe(0);
    expect(shas.every((sha) => store.existsSync(blobKeys.original(sha)))).toBe(true);
    expect((await db.repos.sync.state()).local_bytes).toBe(3 * BYTES);
  });
});
