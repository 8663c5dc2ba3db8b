/**
 * A 202 means the original is on stable storage. A power cut cannot be simulated, so these
 * tests watch the filesystem layer instead: every fsync a server makes is recorded (with the
 * inode and path of what was flushed) next to every commit of its database (with whether the
 * log was synced), and each way in is checked for the order a power cut needs: the file's bytes,
 * then its directory entry (and those of directories created for it), then the commit, then the
 * answer. Processed files likewise before the commit that says `done`.
 */
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../server/config.js';
import { FSYNC_OFF_NOTICE, startServer, type RunningServer } from '../../server/main.js';
import { eventually } from '../helpers/eventually.js';
import { sha256 } from '../helpers/hash.js';
import { solid } from '../helpers/images.js';
import { ADMIN_KEY, ApiClient, tempDirs } from '../helpers/server.js';
import { TusClient } from '../helpers/tus.js';

type Entry =
  | { op: 'fsync'; kind: 'file' | 'dir'; path: string; ino: number }
  | { op: 'commit'; full: boolean; images: number; doneVariants: number }
  | { op: 'answer'; what: string };

const dir = tempDirs('darkroom-durability-');
const servers: RunningServer[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(options: { fsync: boolean; watch?: string[] }) {
  const dataDir = dir('darkroom-durability-');
  const printed: string[] = [];
  const config = parseConfig({
    dataDir,
    port: '0',
    workers: '1',
    adminKey: ADMIN_KEY,
    logLevel: 'silent',
    minFreeBytes: '1MB',
    fsync: String(options.fsync),
    watch: options.watch ?? [],
  });
  const server = await startServer(config, {
    logger: pino({ level: 'silent' }),
    print: (line) => printed.push(line),
    watchTiming: { stabilityMs: 300, pollIntervalMs: 100, retryMs: 300 },
  });
  servers.push(server);
  return { server, printed, admin: new ApiClient(server.url, ADMIN_KEY), log: observe(server) };
}

/**
 * Records every fsync (through `fs`, as the server makes them) and every outermost commit of
 * the server's database, in the order they happen.
 */
function observe(server: RunningServer): Entry[] {
  const log: Entry[] = [];
  const { db, store } = server.parts;
  const describeFd = (fd: number) => {
    const stat = fs.fstatSync(fd);
    const target = fs.readlinkSync(`/proc/self/fd/${fd}`);
    return { kind: stat.isDirectory() ? ('dir' as const) : ('file' as const), path: path.relative(store.root, target) || '.', ino: stat.ino };
  };
  const fsync = fs.fsync;
  vi.spyOn(fs, 'fsync').mockImplementation(((fd: number, callback: (err: NodeJS.ErrnoException | null) => void) => {
    log.push({ op: 'fsync', ...describeFd(fd) });
    return fsync(fd, callback);
  }) as typeof fs.fsync);
  const fsyncSync = fs.fsyncSync;
  vi.spyOn(fs, 'fsyncSync').mockImplementation((fd: number) => {
    log.push({ op: 'fsync', ...describeFd(fd) });
    return fsyncSync(fd);
  });

  const images = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM images');
  const done = db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM variants WHERE status = 'done'`);
  const transaction = db.transaction.bind(db);
  vi.spyOn(db, 'transaction').mockImplementation(((fn: (...args: unknown[]) => unknown) => {
    const tx = transaction(fn);
    return (...args: unknown[]) => {
      const outermost = !db.inTransaction;
      const full = db.pragma('synchronous', { simple: true }) === 2; // 2 = FULL, 1 = NORMAL
      const result = tx(...args);
      if (outermost) log.push({ op: 'commit', full, images: images.get()!.n, doneVariants: done.get()!.n });
      return result;
    };
  }) as typeof db.transaction);
  // A unit of work of the database port ends with COMMIT on the same connection.
  const exec = db.exec.bind(db);
  vi.spyOn(db, 'exec').mockImplementation((source: string) => {
    if (source !== 'COMMIT') return exec(source);
    const full = db.pragma('synchronous', { simple: true }) === 2;
    const result = exec(source);
    log.push({ op: 'commit', full, images: images.get()!.n, doneVariants: done.get()!.n });
    return result;
  });
  return log;
}

const countImages = (server: RunningServer) => (server.parts.db.prepare('SELECT count(*) AS n FROM images').get() as { n: number }).n;

/**
 * The order a power cut needs, for the original with this sha256, among the entries from
 * `from` on: its bytes flushed (the very inode now in originals/), the directories that got new
 * entries flushed (the shard folder; with `created`, its parents too), then the commit that
 * recorded the image, with the log synced, then the answer.
 */
function expectDurableOriginal(server: RunningServer, log: Entry[], from: number, sha: string, imagesBefore: number, created: boolean) {
  const { store } = server.parts;
  const original = store.originalPath(sha);
  const ino = fs.statSync(original).ino;
  const shard = path.relative(store.root, path.dirname(original));
  const at = (match: (e: Entry) => boolean) => log.findIndex((e, i) => i >= from && match(e));

  const fileAt = at((e) => e.op === 'fsync' && e.kind === 'file' && e.ino === ino);
  const dirAt = at((e) => e.op === 'fsync' && e.kind === 'dir' && e.path === shard);
  const commitAt = at((e) => e.op === 'commit' && e.images > imagesBefore);
  const answerAt = at((e) => e.op === 'answer');
  expect(fileAt, 'the file was flushed').toBeGreaterThanOrEqual(0);
  expect(dirAt, 'its directory was flushed after the file').toBeGreaterThan(fileAt);
  expect(commitAt, 'the image was committed after both').toBeGreaterThan(dirAt);
  expect(log[commitAt]).toMatchObject({ op: 'commit', full: true });
  expect(answerAt, 'answered after the commit').toBeGreaterThan(commitAt);
  if (created) {
    // originals/ab and originals/ab/cd were new: their entries, in originals/ and originals/ab.
    for (const parent of [path.dirname(path.dirname(shard)), path.dirname(shard)]) {
      const parentAt = at((e) => e.op === 'fsync' && e.kind === 'dir' && e.path === parent);
      expect(parentAt, `${parent} was flushed`).toBeGreaterThanOrEqual(0);
      expect(parentAt).toBeLessThan(commitAt);
    }
  }
}

let colour = 0;
/** A small JPEG no other test upload shares (each its own original). */
const nextJpeg = () => solid(96, 64, 'jpeg', `#${(0x102030 + ++colour * 0x0a0b0c).toString(16).slice(-6)}`);

describe('with --fsync (the default)', () => {
  let t: Awaited<ReturnType<typeof start>>;
  const watched = dir('darkroom-durability-watch-');
  const outside = dir('darkroom-durability-import-');

  beforeEach(async () => {
    t = await start({ fsync: true, watch: [watched] });
  });

  it('answers a multipart upload only after the file, its new directories and the commit are synced', async () => {
    const data = await nextJpeg();
    const from = t.log.length;
    const res = await t.admin.upload([{ name: 'a.jpg', data }]);
    t.log.push({ op: 'answer', what: 'multipart' });
    expect(res.status).toBe(202);
    // A fresh data dir: the shard folders were created for this upload.
    expectDurableOriginal(t.server, t.log, from, sha256(data), 0, true);
    // The default says nothing about it at start.
    expect(t.printed.filter((l) => l.includes('--fsync'))).toEqual([]);
  });

  it('does the same for a raw body, a tus upload, an import by path and a watched folder', async () => {
    const ways: Array<[string, (data: Buffer) => Promise<void>]> = [
      [
        'raw body',
        async (data) => {
          expect((await t.admin.uploadRaw(data, 'raw.jpg', 'image/jpeg')).status).toBe(202);
        },
      ],
      [
        'tus',
        async (data) => {
          const tus = new TusClient(t.admin);
          const created = await tus.create(data.length, { filename: 'tus.jpg' });
          expect(created.status).toBe(201);
          const patched = await tus.patch(created.location!, 0, data);
          expect(patched.status).toBe(204);
          expect(patched.headers.get('darkroom-image-id')).toBeTruthy();
        },
      ],
      [
        'import',
        async (data) => {
          const file = path.join(outside, `import-${colour}.jpg`);
          fs.writeFileSync(file, data);
          expect((await t.admin.json('POST', '/v1/image/import', { paths: [file] })).status).toBe(202);
        },
      ],
      [
        'watch',
        async (data) => {
          const before = countImages(t.server);
          fs.writeFileSync(path.join(watched, `watched-${colour}.jpg`), data);
          await eventually(() => countImages(t.server) > before, 20_000, 'watched file ingested');
        },
      ],
    ];
    for (const [what, send] of ways) {
      const data = await nextJpeg();
      const before = countImages(t.server);
      const from = t.log.length;
      await send(data);
      t.log.push({ op: 'answer', what });
      expectDurableOriginal(t.server, t.log, from, sha256(data), before, false);
    }
  });

  it('flushes processed files and their folder before the commit that marks them done', async () => {
    const data = await nextJpeg();
    const res = await t.admin.upload([{ name: 'p.jpg', data }]);
    expect(res.status).toBe(202);
    const record = await t.admin.waitFor(res.body.id);
    expect(record.status).toBe('done');

    const { store } = t.server.parts;
    const folder = path.relative(store.root, store.processedDir(res.body.id));
    const files = fs.readdirSync(store.processedDir(res.body.id));
    expect(files.sort()).toEqual(['display.webp', 'thumb.webp']);
    const dirAt = t.log.findIndex((e) => e.op === 'fsync' && e.kind === 'dir' && e.path === folder);
    expect(dirAt, 'the image folder was flushed').toBeGreaterThanOrEqual(0);
    for (const name of files) {
      const ino = fs.statSync(path.join(store.processedDir(res.body.id), name)).ino;
      const fileAt = t.log.findIndex((e) => e.op === 'fsync' && e.kind === 'file' && e.ino === ino);
      expect(fileAt, `${name} was flushed`).toBeGreaterThanOrEqual(0);
      expect(fileAt).toBeLessThan(dirAt);
    }
    // The folder itself is new: its entry in processed/xy/zw (and those of new shard folders).
    const parentAt = t.log.findIndex((e) => e.op === 'fsync' && e.kind === 'dir' && e.path === path.dirname(folder));
    expect(parentAt).toBeGreaterThanOrEqual(0);
    const commitAt = t.log.findIndex((e) => e.op === 'commit' && e.doneVariants >= 2);
    expect(commitAt, 'the variants were committed after their files and folder').toBeGreaterThan(Math.max(dirAt, parentAt));
  });
});

describe('deleting, with --fsync', () => {
  it('commits the delete with its log synced before its files are removed', async () => {
    const t = await start({ fsync: true });
    const data = await nextJpeg();
    const res = await t.admin.upload([{ name: 'gone.jpg', data }]);
    expect(res.status).toBe(202);
    expect((await t.admin.waitFor(res.body.id)).status).toBe('done');
    const { store } = t.server.parts;
    const original = store.originalPath(sha256(data));
    const folder = store.processedDir(res.body.id);
    const rmSync = fs.rmSync;
    vi.spyOn(fs, 'rmSync').mockImplementation((target, options) => {
      t.log.push({ op: 'answer', what: `rm ${path.relative(store.root, String(target))}` });
      return rmSync(target, options);
    });
    const from = t.log.length;
    expect((await t.admin.json('DELETE', `/v1/image/${res.body.id}`)).status).toBe(204);
    const after = t.log.slice(from);
    const commitAt = after.findIndex((e) => e.op === 'commit' && e.images === 0);
    expect(after[commitAt], 'the delete was committed with its log synced').toMatchObject({ op: 'commit', full: true });
    const removed = (target: string) => after.findIndex((e) => e.op === 'answer' && e.what === `rm ${path.relative(store.root, target)}`);
    expect(removed(folder), 'its processed files were removed after the commit').toBeGreaterThan(commitAt);
    expect(removed(original), 'its original was removed after the commit').toBeGreaterThan(commitAt);
    expect(fs.existsSync(original)).toBe(false);
    expect(fs.existsSync(folder)).toBe(false);
  });
});

describe('an original already at its place', () => {
  it('is replaced by the next upload of its bytes when its size is wrong (emptied by a power cut), and kept when right', async () => {
    const t = await start({ fsync: false });
    const { store } = t.server.parts;
    // An orphan a power cut left empty (no record names it: the commit was lost with it).
    const data = await nextJpeg();
    const target = store.originalPath(sha256(data));
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, '');
    const first = await t.admin.upload([{ name: 'first.jpg', data }]);
    expect(first.status).toBe(202);
    expect(fs.readFileSync(target).equals(data)).toBe(true);
    expect((await t.admin.waitFor(first.body.id)).status).toBe('done');

    // A recorded original cut short: the next upload of those bytes puts them back whole.
    fs.truncateSync(target, 100);
    const second = await t.admin.upload([{ name: 'second.jpg', data }]);
    expect(second.status).toBe(202);
    expect(fs.readFileSync(target).equals(data)).toBe(true);
    for (const id of [first.body.id, second.body.id]) expect((await t.admin.download(id, 'original')).body.equals(data)).toBe(true);

    // A whole one is kept, not rewritten: the same inode stays in place.
    const ino = fs.statSync(target).ino;
    const third = await t.admin.upload([{ name: 'third.jpg', data }]);
    expect(third.status).toBe(202);
    expect(fs.statSync(target).ino).toBe(ino);
    // And its upload's temp file is gone (once its processing, which uses tmp/ too, is done).
    expect((await t.admin.waitFor(third.body.id)).status).toBe('done');
    expect(fs.readdirSync(store.dirs.tmp)).toEqual([]);
  });
});

describe('with --fsync false', () => {
  it('says so at start, and neither flushes files nor syncs the log for an upload and its processing', async () => {
    const t = await start({ fsync: false });
    expect(t.printed).toContain(FSYNC_OFF_NOTICE);
    expect(t.printed.filter((l) => l.includes('--fsync'))).toHaveLength(1);

    const data = await nextJpeg();
    const res = await t.admin.upload([{ name: 'fast.jpg', data }]);
    expect(res.status).toBe(202);
    expect((await t.admin.waitFor(res.body.id)).status).toBe('done');
    expect(t.log.filter((e) => e.op === 'fsync')).toEqual([]);
    const commits = t.log.filter((e) => e.op === 'commit');
    expect(commits.length).toBeGreaterThan(1); // the upload's, the jobs'
    expect(commits.filter((e) => e.op === 'commit' && e.full)).toEqual([]);
    // And the bytes are all there all the same.
    expect((await t.admin.download(res.body.id, 'original')).body.equals(data)).toBe(true);
  });
});
