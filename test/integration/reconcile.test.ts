/**
 * Start-up reconciliation: after an unclean stop (the data-dir lock left behind), files and
 * rows are made to agree again in the background, without racing the uploads that arrive
 * meanwhile. The leftovers are made the way a crash makes them, on a real data dir.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../server/config.js';
import { startServer, type RunningServer } from '../../server/main.js';
import { processedShard } from '../../server/recovery/data-dir-scan.js';
import { createFsBlobStore } from '../../server/storage/fs/fs-blob-store.js';
import { sha256 } from '../helpers/hash.js';
import { ADMIN_KEY, ApiClient, listFiles, tempDirs } from '../helpers/server.js';

const dataDir = tempDirs('darkroom-reconcile-');
const servers: RunningServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A real server whose log lines (warn and up) are kept for the test to read. */
async function start(dir: string) {
  const logs: Array<Record<string, any>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, callback) {
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line));
      callback();
    },
  });
  const config = parseConfig({ dataDir: dir, port: '0', workers: '2', adminKey: ADMIN_KEY, minFreeBytes: '1MB' });
  const server = await startServer(config, { logger: pino({ level: 'warn' }, stream), print: () => {} });
  servers.push(server);
  return { server, logs, admin: new ApiClient(server.url, ADMIN_KEY) };
}

async function stop(server: RunningServer) {
  servers.splice(servers.indexOf(server), 1);
  await server.close();
}

/** What kill -9 leaves: the unclean-stop marker, naming a process that is gone. */
function leaveLockBehind(dir: string) {
  const gone = spawnSync(process.execPath, ['-e', '']).pid!;
  fs.writeFileSync(path.join(dir, 'darkroom.pid'), String(gone));
}

/** Photo-like JPEGs, each different. */
function photo(seed: number) {
  const raw = Buffer.alloc(160 * 120 * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 31 + seed * 7919 + ((i / 480) | 0) * 13) & 0xff;
  return sharp(raw, { raw: { width: 160, height: 120, channels: 3 } }).jpeg({ quality: 85 }).toBuffer();
}

describe('start-up reconciliation', () => {
  it('after an unclean stop, removes what no record names and logs records whose original is gone', async () => {
    const dir = dataDir();
    let { server, admin } = await start(dir);
    const ids: Record<string, string> = {};
    const bytes: Record<string, Buffer> = {};
    for (const name of ['kept', 'lost', 'deleted']) {
      bytes[name] = await photo(name.length * 100 + name.charCodeAt(0));
      const res = await admin.upload([{ name: `${name}.jpg`, data: bytes[name]! }]);
      expect(res.status).toBe(202);
      ids[name] = res.body.id;
      expect((await admin.waitFor(res.body.id)).status).toBe('done');
    }
    // A delete whose commit went through but whose files did not (killed in between): keep a
    // copy of the folder, delete, put it back.
    const store = server.parts.store;
    const deletedFolder = store.processedDir(ids.deleted!);
    const copy = path.join(dir, 'copy');
    fs.cpSync(deletedFolder, copy, { recursive: true });
    expect((await admin.request('DELETE', `/v1/image/${ids.deleted}`)).status).toBe(204);
    // An image whose processing fails (its second half is missing).
    const broken = (await photo(7)).subarray(0, 2000);
    const brokenRes = await admin.uploadRaw(broken, 'broken.jpg', 'image/jpeg');
    expect(brokenRes.status).toBe(202);
    expect((await admin.waitFor(brokenRes.body.id)).status).toBe('failed');
    await stop(server);
    fs.mkdirSync(path.dirname(deletedFolder), { recursive: true });
    fs.renameSync(copy, deletedFolder);
    // The deleted image's original went with its row; an upload killed between moving its file
    // into originals/ and committing leaves exactly such a file behind.
    const orphanOriginal = store.originalPath(sha256(bytes.deleted!));
    expect(fs.existsSync(orphanOriginal)).toBe(false);
    fs.mkdirSync(path.dirname(orphanOriginal), { recursive: true });
    fs.writeFileSync(orphanOriginal, bytes.deleted!);
    // A job killed between moving a file into place and committing, whose next attempt then
    // failed: a file no row names, in the folder of an image that is not done.
    const strayVariant = path.join(store.processedDir(brokenRes.body.id), 'display.webp');
    fs.mkdirSync(path.dirname(strayVariant), { recursive: true });
    fs.writeFileSync(strayVariant, 'half a job');
    // And a disk that lost an original.
    const lostOriginal = store.originalPath(sha256(bytes.lost!));
    fs.rmSync(lostOriginal);
    leaveLockBehind(dir);

    let logs;
    ({ server, admin, logs } = await start(dir));
    const report = await server.parts.reconciled;
    expect(report).toMatchObject({ orphanOriginals: 1, orphanProcessed: 2, missingOriginals: 1, missingLocally: 0, unexpected: 0 });
    expect(fs.existsSync(orphanOriginal)).toBe(false);
    expect(fs.existsSync(deletedFolder)).toBe(false);
    expect(fs.existsSync(strayVariant)).toBe(false);
    // Everything a record names is still there.
    expect(fs.readFileSync(store.originalPath(sha256(bytes.kept!))).equals(bytes.kept!)).toBe(true);
    expect(fs.readdirSync(store.processedDir(ids.kept!)).sort()).toEqual(['display.webp', 'thumb.webp']);
    expect(fs.readdirSync(store.processedDir(ids.lost!)).sort()).toEqual(['display.webp', 'thumb.webp']);

    const missing = logs.find((l) => l.sha256 === sha256(bytes.lost!));
    expect(missing).toMatchObject({ level: 40, images: [ids.lost] });
    expect(missing!.msg).toMatch(/original missing/);
    expect(logs.find((l) => l.msg === 'data dir reconciled after an unclean stop')).toMatchObject({ orphanOriginals: 1, missingOriginals: 1 });

    // Its processed files still serve; processing it again fails at once, not after retries.
    expect((await admin.download(ids.lost!, 'thumb')).status).toBe(200);
    expect((await admin.download(ids.lost!, 'original')).status).toBe(404);
    expect((await admin.json('POST', `/v1/image/${ids.lost}/reprocess`)).status).toBe(202);
    const failed = await admin.waitFor(ids.lost!, ['failed'], 20_000);
    expect(failed.error).toMatchObject({ code: 'original_missing' });
    const attempts = server.parts.db
      .prepare(`SELECT max(attempts) AS n FROM jobs WHERE image_id = ? AND kind = 'process_image' AND generation = 2`)
      .get(ids.lost) as { n: number };
    expect(attempts.n).toBe(1);

    // A clean stop after a finished reconciliation leaves no marker: the next start walks nothing.
    await stop(server);
    expect(fs.existsSync(path.join(dir, 'darkroom.pid'))).toBe(false);
  });

  it('walks nothing after a clean stop', async () => {
    const dir = dataDir();
    const { server } = await start(dir);
    const store = server.parts.store;
    await stop(server);
    const orphan = store.originalPath(sha256(Buffer.from('not recorded')));
    fs.mkdirSync(path.dirname(orphan), { recursive: true });
    fs.writeFileSync(orphan, 'not recorded');
    const again = await start(dir);
    expect(await again.server.parts.reconciled).toBeUndefined();
    expect(fs.existsSync(orphan)).toBe(true);
  });

  it('races no upload: bytes uploaded while it runs stay, whichever comes first', async () => {
    // Orphans whose bytes are exactly those uploaded during the walk: each upload finds its
    // original already there (and keeps it) or not (and moves its own in), and the walk must
    // never remove one that a committed record names.
    const dir = dataDir();
    const store = createFsBlobStore(dir);
    const photos = await Promise.all(Array.from({ length: 24 }, (_, i) => photo(1000 + i)));
    for (const data of photos) {
      const file = store.originalPath(sha256(data));
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, data);
    }
    // Processed folders of images that do not exist, in many shards, to lengthen the walk.
    for (let i = 0; i < 200; i++) {
      const id = `0190a0b0-0000-7000-8000-${String(i).padStart(12, '0')}`;
      const [xy, zw] = processedShard(id);
      fs.mkdirSync(path.join(dir, 'processed', xy, zw, id), { recursive: true });
    }
    fs.mkdirSync(path.join(dir, 'tmp'), { recursive: true });
    leaveLockBehind(dir);

    const { server, admin } = await start(dir);
    const ids: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < photos.length) {
          const i = next++;
          const res = await admin.uploadRaw(photos[i]!, `race-${i}.jpg`, 'image/jpeg');
          expect(res.status).toBe(202);
          ids[i] = res.body.id;
        }
      }),
    );
    const report = await server.parts.reconciled;
    expect(report!.orphanProcessed).toBe(200);
    expect(report!.missingOriginals).toBe(0);
    for (const [i, data] of photos.entries()) {
      expect(fs.readFileSync(store.originalPath(sha256(data))).equals(data), `original ${i}`).toBe(true);
      expect((await admin.waitFor(ids[i]!)).status).toBe('done');
    }
    expect(listFiles(path.join(dir, 'originals'))).toHaveLength(photos.length);
  });
});
