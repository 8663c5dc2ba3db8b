import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { openDatabase, type Db } from '../../server/db/sqlite/connection.js';
import { createGroupCommit } from '../../server/services/ingest/group-commit.js';
import { createBlobPlacement } from '../../server/services/blob-placement.js';
import { blobKeys } from '../../server/storage/blob-store.js';
import { systemClock } from '../../server/util/clock.js';
import { createFsBlobStore } from '../../server/storage/fs/fs-blob-store.js';
import type { Repositories } from '../../server/db/repositories.js';
import { portOver } from '../helpers/database.js';
import { tempDirs } from '../helpers/server.js';

const tempDir = tempDirs('darkroom-group-commit-');
const dbs: Db[] = [];
afterEach(() => vi.restoreAllMocks());
afterAll(() => {
  for (const db of dbs) db.close();
});

/** A real data dir: SQLite file, blob store; and a log of the outermost commits and folder flushes. */
function setup() {
  const dir = tempDir();
  const db = openDatabase(path.join(dir, 'darkroom.db'));
  dbs.push(db);
  const store = createFsBlobStore(dir);
  store.init();
  const images = portOver(db).repos.images;
  const log: string[] = [];
  const transaction = db.transaction.bind(db);
  vi.spyOn(db, 'transaction').mockImplementation(((fn: () => unknown) => {
    const tx = transaction(fn);
    return () => {
      const outermost = !db.inTransaction;
      const full = db.pragma('synchronous', { simple: true }) === 2;
      const result = tx();
      if (outermost) log.push(full ? 'commit (log synced)' : 'commit');
      return result;
    };
  }) as typeof db.transaction);
  // A unit of work of the port ends with COMMIT on the connection.
  const exec = db.exec.bind(db);
  vi.spyOn(db, 'exec').mockImplementation((source: string) => {
    if (source !== 'COMMIT') return exec(source);
    const full = db.pragma('synchronous', { simple: true }) === 2;
    const result = exec(source);
    log.push(full ? 'commit (log synced)' : 'commit');
    return result;
  });
  const fsyncSync = fs.fsyncSync;
  vi.spyOn(fs, 'fsyncSync').mockImplementation((fd: number) => {
    log.push(`flush ${path.relative(dir, fs.readlinkSync(`/proc/self/fd/${fd}`)) || '.'}`);
    return fsyncSync(fd);
  });
  return { dir, db, store, images, log, commits: createGroupCommit({ database: portOver(db), placement: createBlobPlacement({ store, database: portOver(db), clock: systemClock }) }) };
}

let n = 0;
/** A temp file with bytes of its own (or `bytes`), and a record for it. */
function upload(t: ReturnType<typeof setup>, bytes = crypto.randomBytes(64)) {
  const tmpPath = t.store.stagingPath();
  fs.writeFileSync(tmpPath, bytes);
  const sha256 = crypto.createHash('sha256').update(bytes).digest('hex');
  const id = `0190a0b0-0000-7000-8000-${String(++n).padStart(12, '0')}`;
  const row = { id, customer: 'c', filename: 'f.jpg', bytes: bytes.length, sha256, format: 'jpeg', width: 1, height: 1, pages: 1, source: 'upload', created_at: n };
  const originals = { blobs: [{ file: tmpPath, key: blobKeys.original(sha256), sha256 }], intents: [] };
  return { tmpPath, sha256, id, originals, record: async (repos: Repositories) => repos.images.insert(row, []) };
}

describe('group commit', () => {
  it('moves in and records the uploads ready together with one flush per folder and one synced commit', async () => {
    const t = setup();
    const uploads = [upload(t), upload(t), upload(t)];
    await Promise.all(uploads.map((u) => t.commits.submit({ originals: u.originals, record: u.record })));

    const commits = t.log.filter((l) => l.startsWith('commit'));
    expect(commits).toEqual(['commit (log synced)']);
    const folders = new Set(uploads.map((u) => `flush ${path.relative(t.dir, path.dirname(t.store.originalPath(u.sha256)))}`));
    for (const folder of folders) {
      expect(t.log.filter((l) => l === folder)).toHaveLength(1);
      expect(t.log.indexOf(folder)).toBeLessThan(t.log.indexOf('commit (log synced)'));
    }
    for (const u of uploads) {
      expect(await t.images.findById(u.id)).toBeDefined();
      expect(fs.existsSync(t.store.originalPath(u.sha256))).toBe(true);
      expect(fs.existsSync(u.tmpPath)).toBe(false);
    }
  });

  it('fails a request alone: its records are rolled back, its original removed unless another record uses it', async () => {
    const t = setup();
    const shared = crypto.randomBytes(64);
    const ok = upload(t);
    const okShared = upload(t, shared);
    const failing = upload(t);
    const failingShared = upload(t, shared);
    const refusal = new Error('the watch ledger refused');
    const results = await Promise.allSettled([
      t.commits.submit({ originals: ok.originals, record: ok.record }),
      t.commits.submit({
        originals: failing.originals,
        record: async (repos) => {
          await failing.record(repos);
          throw refusal;
        },
      }),
      t.commits.submit({ originals: okShared.originals, record: okShared.record }),
      t.commits.submit({
        originals: failingShared.originals,
        record: async (repos) => {
          await failingShared.record(repos);
          throw refusal;
        },
      }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected']);
    expect((results[1] as PromiseRejectedResult).reason).toBe(refusal);
    expect(t.log.filter((l) => l.startsWith('commit'))).toHaveLength(1);

    expect(await t.images.findById(ok.id)).toBeDefined();
    expect(await t.images.findById(okShared.id)).toBeDefined();
    expect(await t.images.findById(failing.id)).toBeUndefined();
    expect(await t.images.findById(failingShared.id)).toBeUndefined();
    expect(fs.existsSync(t.store.originalPath(failing.sha256))).toBe(false);
    // The same bytes as a request that went through: kept for it.
    expect(fs.readFileSync(t.store.originalPath(okShared.sha256)).equals(shared)).toBe(true);
    expect(fs.readdirSync(t.store.dirs.tmp)).toEqual([]);
  });

  it('fails the whole batch when the commit itself fails, leaving nothing behind', async () => {
    const t = setup();
    const uploads = [upload(t), upload(t)];
    // A full disk or an I/O error at commit time, as SQLite reports it.
    const pragma = t.db.pragma.bind(t.db);
    vi.spyOn(t.db, 'pragma').mockImplementation(((source: string, options?: { simple?: boolean }) => {
      if (source === 'synchronous = FULL') throw Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' });
      return pragma(source, options);
    }) as typeof t.db.pragma);
    const results = await Promise.allSettled(uploads.map((u) => t.commits.submit({ originals: u.originals, record: u.record })));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    for (const u of uploads) {
      expect(await t.images.findById(u.id)).toBeUndefined();
      expect(fs.existsSync(t.store.originalPath(u.sha256))).toBe(false);
    }
    expect(fs.readdirSync(t.store.dirs.tmp)).toEqual([]);
  });
});
