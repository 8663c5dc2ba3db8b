/**
 * `darkroom verify [--repair]`, run as the real command on a real data dir, with a real
 * S3-protocol server (s3rver) holding the synced copies it restores from.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processedShard } from '../../server/recovery/data-dir-scan.js';
import { run } from '../helpers/child.js';
import { eventually } from '../helpers/eventually.js';
import { sha256 } from '../helpers/hash.js';
import { S3RVER_CREDENTIALS, startS3rver, syncIdle, type S3rver } from '../helpers/s3rver.js';
import { startTestServer, tempDirs, type TestServer } from '../helpers/server.js';

const FAST = { pollMs: 50, probeMinMs: 100, probeMaxMs: 500, retryMaxMs: 500 };
let s3: S3rver;
const dataDir = tempDirs('darkroom-verify-');
const servers: TestServer[] = [];

beforeAll(async () => {
  s3 = await startS3rver();
});
afterAll(async () => {
  for (const t of servers.splice(0)) await t.close();
  await s3?.close();
});

async function start(prefix: string, dataDir: string, extra: Record<string, string> = {}) {
  const t = await startTestServer({ dataDir, config: { ...s3.options(prefix), ...extra }, start: { s3: FAST } });
  servers.push(t);
  return t;
}

async function stop(t: TestServer) {
  servers.splice(servers.indexOf(t), 1);
  await t.close();
}

/** What kill -9 leaves: the unclean-stop marker, naming a process that is gone. */
const leaveLockBehind = (dir: string) => fs.writeFileSync(path.join(dir, 'darkroom.pid'), String(spawnSync(process.execPath, ['-e', '']).pid));

const verify = (dir: string, ...args: string[]) => run(['verify', '--data-dir', dir, ...args], S3RVER_CREDENTIALS);

/** Photo-like JPEGs, each different. */
function photo(seed: number) {
  const raw = Buffer.alloc(200 * 150 * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 17 + seed * 7919 + ((i / 600) | 0) * 29) & 0xff;
  return sharp(raw, { raw: { width: 200, height: 150, channels: 3 } }).jpeg({ quality: 88 }).toBuffer();
}

async function uploadAll(t: TestServer, names: string[], seed: number) {
  const out: Record<string, { id: string; sha: string; data: Buffer }> = {};
  for (const [i, name] of names.entries()) {
    const data = await photo(seed + i);
    const res = await t.admin.upload([{ name: `${name}.jpg`, data }]);
    expect(res.status).toBe(202);
    expect((await t.admin.waitFor(res.body.id)).status).toBe('done');
    out[name] = { id: res.body.id, sha: sha256(data), data };
  }
  return out;
}

describe('darkroom verify', () => {
  const dir = dataDir();
  let images: Awaited<ReturnType<typeof uploadAll>>;
  let t: TestServer;
  let orphanOriginal: string;
  let orphanFolder: string;

  it('lists a missing, a corrupt and an orphan original, an orphan processed folder and a damaged variant, and exits 1', async () => {
    t = await start('verify', dir);
    images = await uploadAll(t, ['missing', 'corrupt', 'fine', 'variant'], 10);
    await syncIdle(t.admin, (s) => s.synced.objects >= 12, 30_000, 'originals and variants synced');
    // Clean while the server runs (it is looked at as a live data dir).
    const live = await verify(dir);
    expect(live.stderr).toMatch(/a server \(pid \d+\) is using/);
    expect(live.stdout).toMatch(/verify: checked 4 originals \(.+\) and 8 processed files: nothing missing, corrupt or orphaned/);
    expect(live.code).toBe(0);
    // --repair never moves files under a running server.
    const refused = await verify(dir, '--repair');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/in use by another Darkroom process \(pid \d+\).*stop it before --repair/);
    const store = t.server.parts.store;
    await stop(t);

    fs.rmSync(store.originalPath(images.missing!.sha));
    fs.writeFileSync(store.originalPath(images.corrupt!.sha), Buffer.from(images.corrupt!.data).fill(7, 1000, 1100));
    const display = path.join(store.processedDir(images.variant!.id), 'display.webp');
    fs.writeFileSync(display, 'not the display variant any more');
    orphanOriginal = store.originalPath(sha256(Buffer.from('an upload killed before its commit')));
    fs.mkdirSync(path.dirname(orphanOriginal), { recursive: true });
    fs.writeFileSync(orphanOriginal, 'an upload killed before its commit');
    const gone = '0190a0b0-0000-7000-8000-000000000001';
    orphanFolder = path.join(store.dirs.processed, ...processedShard(gone), gone);
    fs.mkdirSync(orphanFolder, { recursive: true });
    fs.writeFileSync(path.join(orphanFolder, 'thumb.webp'), 'of an image deleted meanwhile');

    const res = await verify(dir);
    const rel = (p: string) => path.relative(dir, p);
    const lines = res.stdout.trim().split('\n');
    expect(lines).toContain(`missing original ${rel(store.originalPath(images.missing!.sha))} (image ${images.missing!.id}; a verified copy is in the S3 bucket)`);
    expect(lines.find((l) => l.startsWith(`corrupt original ${rel(store.originalPath(images.corrupt!.sha))} (its bytes hash to `))).toContain(
      `image ${images.corrupt!.id}`,
    );
    expect(lines).toContain(`orphan original ${rel(orphanOriginal)}`);
    expect(lines).toContain(`orphan processed ${rel(orphanFolder)}/`);
    expect(lines.find((l) => l.startsWith(`corrupt processed ${rel(display)} (image ${images.variant!.id}, variant display; its bytes hash to`))).toBeDefined();
    expect(lines.at(-1)).toMatch(/^verify: checked 3 originals \(.+\) and 8 processed files: 1 missing, 2 corrupt, 2 orphaned$/);
    expect(lines).toHaveLength(6);
    expect(res.code).toBe(1);
  });

  it('--repair restores the originals from the bucket (checked), removes the orphans and queues the damaged image; verify then exits 0', async () => {
    const store = (await import('../../server/storage/fs/fs-blob-store.js')).createFsBlobStore(dir);
    const res = await verify(dir, '--repair', ...s3.flags('verify'));
    expect(res.stdout).toContain(`  repaired: restored original ${images.missing!.sha} from s3://${s3.bucket}/verify/originals/${images.missing!.sha}`);
    expect(res.stdout).toContain(`  repaired: restored original ${images.corrupt!.sha} from s3://${s3.bucket}/verify/originals/${images.corrupt!.sha}`);
    expect(res.stdout).toContain(`  repaired: removed ${path.relative(dir, orphanOriginal)}`);
    expect(res.stdout).toContain(`  repaired: removed ${path.relative(dir, orphanFolder)}/`);
    expect(res.stdout).toContain(`  repaired: queued image ${images.variant!.id} for processing again`);
    expect(res.stdout.trim().split('\n').at(-1)).toMatch(/1 missing, 2 corrupt, 2 orphaned; 5 repaired, 0 not repaired$/);
    expect(res.code).toBe(0);

    for (const name of ['missing', 'corrupt'] as const) {
      expect(fs.readFileSync(store.originalPath(images[name]!.sha)).equals(images[name]!.data)).toBe(true);
    }
    expect(fs.existsSync(orphanOriginal)).toBe(false);
    expect(fs.existsSync(orphanFolder)).toBe(false);
    expect(fs.readdirSync(store.dirs.tmp)).toEqual([]);

    const after = await verify(dir);
    expect(after.stdout).toMatch(/verify: checked 4 originals \(.+\) and 6 processed files: nothing missing, corrupt or orphaned/);
    expect(after.code).toBe(0);

    // The queued image gets its variants again at the next start.
    t = await start('verify', dir);
    const record = await t.admin.waitFor(images.variant!.id);
    expect(record.status).toBe('done');
    const download = await t.admin.download(images.variant!.id, 'display');
    expect(download.status).toBe(200);
    expect((await sharp(download.body).metadata()).format).toBe('webp');
    expect((await t.admin.download(images.missing!.id, 'original')).body.equals(images.missing!.data)).toBe(true);
    await stop(t);
    expect((await verify(dir)).code).toBe(0);
  });

  it('says what it could not restore, and why', async () => {
    const store = (await import('../../server/storage/fs/fs-blob-store.js')).createFsBlobStore(dir);
    fs.rmSync(store.originalPath(images.fine!.sha));
    await s3.client.delete(`verify/originals/${images.fine!.sha}`);
    fs.writeFileSync(store.originalPath(images.corrupt!.sha), 'damaged again');

    const withoutBucket = await verify(dir, '--repair');
    expect(withoutBucket.stdout).toContain(`  not repaired: original ${images.corrupt!.sha}: no S3 bucket to restore from`);
    expect(withoutBucket.code).toBe(1);

    const res = await verify(dir, '--repair', ...s3.flags('verify'));
    expect(res.stdout).toContain(`  not repaired: original ${images.fine!.sha}: not in s3://${s3.bucket}/verify/`);
    expect(res.stdout).toContain(`  repaired: restored original ${images.corrupt!.sha}`);
    expect(res.stdout.trim().split('\n').at(-1)).toMatch(/1 missing, 1 corrupt, 0 orphaned; 1 repaired, 1 not repaired$/);
    expect(res.code).toBe(1);
    // Still reported, with no copy to point to.
    const after = await verify(dir);
    expect(after.stdout).toContain(`missing original ${path.relative(dir, store.originalPath(images.fine!.sha))} (image ${images.fine!.id}`);
    expect(after.code).toBe(1);
  });
});

describe('originals kept in the bucket', () => {
  it('an evicted original is missing neither for verify nor for start-up reconciliation', async () => {
    const dir = dataDir();
    let t = await start('evicted', dir, { localOriginalsMaxBytes: '0' });
    const images = await uploadAll(t, ['evicted'], 50);
    const store = t.server.parts.store;
    await eventually(() => !fs.existsSync(store.originalPath(images.evicted!.sha)), 30_000, 'original evicted');
    await stop(t);

    const res = await verify(dir);
    expect(res.stdout).toMatch(/verify: checked 0 originals \(0B\), 1 kept in the S3 bucket only \(not read\) and 2 processed files: nothing missing/);
    expect(res.code).toBe(0);

    leaveLockBehind(dir);
    t = await start('evicted', dir, { localOriginalsMaxBytes: '0' });
    expect(await t.server.parts.reconciled).toMatchObject({ missingOriginals: 0, missingLocally: 0, orphanOriginals: 0 });
    await stop(t);
  });

  it('after a crash, a synced original gone from local disk is served from the bucket from then on', async () => {
    const dir = dataDir();
    let t = await start('gone', dir);
    const images = await uploadAll(t, ['gone'], 60);
    await syncIdle(t.admin, (s) => s.synced.objects >= 3, 30_000, 'synced');
    const store = t.server.parts.store;
    await stop(t);
    fs.rmSync(store.originalPath(images.gone!.sha));
    leaveLockBehind(dir);

    t = await start('gone', dir);
    expect(await t.server.parts.reconciled).toMatchObject({ missingOriginals: 0, missingLocally: 1 });
    const download = await t.admin.download(images.gone!.id, 'original');
    expect(download.status).toBe(200);
    expect(download.body.equals(images.gone!.data)).toBe(true);
    // And processing brings it back to disk, checked against its sha256.
    expect((await t.admin.json('POST', `/v1/image/${images.gone!.id}/reprocess`)).status).toBe(202);
    expect((await t.admin.waitFor(images.gone!.id)).status).toBe('done');
    expect(fs.readFileSync(store.originalPath(images.gone!.sha)).equals(images.gone!.data)).toBe(true);
    await stop(t);
    expect((await verify(dir)).code).toBe(0);
  });
});
