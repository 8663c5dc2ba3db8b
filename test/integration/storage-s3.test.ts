import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createManualClock } from '../../server/util/clock.js';
import { fixture, jpegWithExif, solid } from '../helpers/images.js';
import { startS3rver, type S3rver } from '../helpers/s3rver.js';
import { eventually } from '../helpers/eventually.js';
import { sha256 } from '../helpers/hash.js';
import { listFiles, startTestServer, type ApiClient, type TestServer } from '../helpers/server.js';
import { TusClient } from '../helpers/tus.js';

const PREFIX = 'cluster-a';
const DAY = 24 * 3600 * 1000;
const clock = createManualClock(Date.parse('2026-05-01T12:00:00Z'));
let s3: S3rver;
let t: TestServer;
let user: ApiClient;

beforeAll(async () => {
  s3 = await startS3rver();
  t = await startTestServer({ clock, config: { ...s3.options(PREFIX), storage: 's3', processedTtl: '7d', purgeSchedule: '* * * * * *' } });
  user = await t.client('user', 'acme');
});
afterAll(async () => {
  await t?.close();
  await s3?.close();
  if (t) fs.rmSync(t.dataDir, { recursive: true, force: true });
});

/** Every key in the bucket under the prefix, without it. */
async function keys(under = ''): Promise<string[]> {
  return [...(await s3.objects(`${PREFIX}/${under}`)).keys()].map((k) => k.slice(PREFIX.length + 1)).sort();
}

/** What the data dir holds besides the database and the lock's files (darkroom.*), and empty folders. */
function dataDirFiles(): string[] {
  return listFiles(t.dataDir).filter((f) => !f.startsWith('darkroom.'));
}

/**
 * A conditional GET with node:http: fetch adds "Cache-Control: no-cache" to conditional
 * requests, as the Fetch standard says, which rightly disables the 304.
 */
function conditionalStatus(id: string, variant: string, etag: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    http
      .get(`${t.url}/v1/image/${id}/download?variant=${variant}`, { headers: { ...user.headers(), 'if-none-match': etag } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      })
      .on('error', reject);
  });
}

async function uploadDone(data: Buffer, name: string) {
  const res = await user.upload([{ name, data }]);
  expect(res.status).toBe(202);
  return user.waitFor(res.body.id);
}

describe('--storage s3: the bucket is the primary store', () => {
  it('keeps originals and processed files in the bucket only, and downloads them from it with Range and ETag', async () => {
    const photo = await jpegWithExif();
    const a = await uploadDone(photo, 'photo.jpg');
    expect(a.status).toBe('done');
    const raw = await user.uploadRaw(await solid(640, 480, 'png', '#2255aa'), 'raw.png', 'image/png');
    expect(raw.status).toBe(202);
    const b = await user.waitFor(raw.body.id);
    expect(b.status).toBe('done');

    const stored = await keys();
    expect(stored).toContain(`originals/${a.sha256}`);
    expect(stored).toContain(`originals/${b.sha256}`);
    for (const record of [a, b]) {
      // A processed file gets a fresh key per write: processed/<id>/<variant>.<write>.<ext>.
      expect(stored.filter((k) => k.startsWith(`processed/${record.id}/`)).map((k) => k.split('/')[2]!.replace(/\.[0-9a-f]{12}\./, '.')).sort()).toEqual([
        'display.webp',
        'thumb.webp',
      ]);
    }
    expect(await s3.sha256Of(`${PREFIX}/originals/${a.sha256}`)).toBe(sha256(photo));
    // Nothing but the database (and empty folders) stays in the data dir.
    expect(dataDirFiles()).toEqual([]);

    const original = await user.download(a.id, 'original');
    expect(original.status).toBe(200);
    expect(original.body.equals(photo)).toBe(true);
    expect(original.headers.get('etag')).toBe(`"${a.sha256}"`);
    const ranged = await user.download(a.id, 'original', { range: 'bytes=10-29' });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe(`bytes 10-29/${photo.length}`);
    expect(ranged.body.equals(photo.subarray(10, 30))).toBe(true);
    expect(await conditionalStatus(a.id, 'original', `"${a.sha256}"`)).toBe(304);

    const thumb = await user.download(a.id, 'thumb');
    expect(thumb.status).toBe(200);
    const thumbKey = stored.find((k) => k.startsWith(`processed/${a.id}/thumb.`))!;
    expect(await s3.sha256Of(`${PREFIX}/${thumbKey}`)).toBe(sha256(thumb.body));
    const etag = thumb.headers.get('etag')!;
    expect(await conditionalStatus(a.id, 'thumb', etag)).toBe(304);
    const thumbRange = await user.download(a.id, 'thumb', { range: 'bytes=0-99' });
    expect(thumbRange.status).toBe(206);
    expect(thumbRange.body.equals(thumb.body.subarray(0, 100))).toBe(true);
  });

  it('takes tus uploads into the bucket: the parts in progress are objects, never files of the node', async () => {
    const data = fixture('ipx-bliss.jpg');
    const tus = new TusClient(user);
    const created = await tus.create(data.length, { filename: 'bliss.jpg' });
    expect(created.status).toBe(201);
    const uploadId = created.location!.split('/').pop()!;
    const half = Math.floor(data.length / 2);
    expect((await tus.patch(created.location!, 0, data.subarray(0, half))).status).toBe(204);
    expect(await keys(`uploads/${uploadId}/`)).toEqual([`uploads/${uploadId}/part-${'0'.repeat(16)}`, `uploads/${uploadId}/record.json`]);
    expect(dataDirFiles()).toEqual([]);
    expect((await tus.head(created.location!)).offset).toBe(half);
    const last = await tus.patch(created.location!, half, data.subarray(half));
    expect(last.status).toBe(204);
    const id = last.headers.get('darkroom-image-id')!;
    const done = await user.waitFor(id);
    expect(done).toMatchObject({ status: 'done', sha256: sha256(data) });
    expect(await keys()).toContain(`originals/${sha256(data)}`);
    expect((await user.download(id, 'original')).body.equals(data)).toBe(true);
    // The parts went into the original; the record stays to answer late questions.
    expect(await keys(`uploads/${uploadId}/`)).toEqual([`uploads/${uploadId}/record.json`]);
    expect(dataDirFiles()).toEqual([]);
  });

  it('a delete removes the image\'s objects, and its original only when no other image uses it', async () => {
    const shared = await solid(300, 200, 'jpeg', '#aa3344');
    const one = await uploadDone(shared, 'one.jpg');
    const two = await uploadDone(shared, 'two.jpg');
    expect(one.sha256).toBe(two.sha256);

    expect((await user.json('DELETE', `/v1/image/${one.id}`)).status).toBe(204);
    await eventually(async () => (await keys(`processed/${one.id}/`)).length === 0, 15_000, 'processed files of the deleted image gone');
    // Still used by the second image.
    expect(await keys()).toContain(`originals/${one.sha256}`);
    expect((await user.download(two.id, 'original')).body.equals(shared)).toBe(true);

    expect((await user.json('DELETE', `/v1/image/${two.id}`)).status).toBe(204);
    await eventually(async () => !(await keys()).includes(`originals/${two.sha256}`), 15_000, 'original gone with its last image');
    expect(await keys(`processed/${two.id}/`)).toEqual([]);
    // Nothing is left pending in the journal.
    await eventually(async () => (await t.server.parts.database.repos.blobDeletes.nextDueAt()) === undefined, 15_000, 'journal empty');
  });

  it('the purge removes expired variants from the bucket (410 after); the original stays', async () => {
    const record = await uploadDone(await solid(500, 400, 'jpeg', '#118844'), 'purge.jpg');
    expect(await keys(`processed/${record.id}/`)).toHaveLength(2);
    clock.advance(8 * DAY);
    await eventually(async () => (await user.download(record.id, 'thumb')).status === 410, 20_000, 'thumb expired');
    await eventually(async () => (await keys(`processed/${record.id}/`)).length === 0, 15_000, 'expired objects gone');
    expect(await keys()).toContain(`originals/${record.sha256}`);
    expect((await user.download(record.id, 'original')).status).toBe(200);
  });

  it('an unreachable bucket: uploads get 503 unavailable with Retry-After, /readyz 503; what was accepted before is kept', async () => {
    const before = await uploadDone(await solid(320, 240, 'jpeg', '#334455'), 'before.jpg');
    // A tus upload half-way when the bucket goes.
    const data = fixture('ipx-bliss.jpg');
    const tus = new TusClient(user);
    const created = await tus.create(data.length, { filename: 'outage.jpg' });
    const half = Math.floor(data.length / 2);
    expect((await tus.patch(created.location!, 0, data.subarray(0, half))).status).toBe(204);
    await s3.stop();
    try {
      const patch = await tus.patch(created.location!, half, data.subarray(half));
      expect(patch.status).toBe(503);
      expect(patch.body.error.code).toBe('unavailable');
      expect(patch.headers.get('retry-after')).toMatch(/^\d+$/);
      const res = await user.upload([{ name: 'during.jpg', data: await solid(320, 240, 'jpeg', '#443322') }]);
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('unavailable');
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      const ready = await user.json('GET', '/readyz');
      expect(ready.status).toBe(503);
      expect(ready.body.checks.storage).toBe(false);
      // Nothing of the refused upload stays in the data dir.
      expect(dataDirFiles()).toEqual([]);
    } finally {
      await s3.restart();
    }
    await eventually(async () => (await user.json('GET', '/readyz')).status === 200, 15_000, 'ready again');
    const again = await uploadDone(await solid(320, 240, 'jpeg', '#443322'), 'after.jpg');
    expect(again.status).toBe('done');
    // The tus upload kept what it had, and finishes.
    expect((await tus.head(created.location!)).offset).toBe(half);
    const last = await tus.patch(created.location!, half, data.subarray(half));
    expect(last.status).toBe(204);
    expect(await user.waitFor(last.headers.get('darkroom-image-id')!)).toMatchObject({ status: 'done', sha256: sha256(data) });
    expect((await user.download(before.id, 'original')).status).toBe(200);
  });

  it('refuses options that make no sense with it', async () => {
    await expect(startTestServer({ config: { storage: 's3' } })).rejects.toThrow(/--storage: s3 needs --s3-bucket/);
    await expect(startTestServer({ config: { ...s3.options(PREFIX), storage: 's3', localOriginalsMaxBytes: '1GiB' } })).rejects.toThrow(
      /--local-originals-max-bytes: has no use with --storage s3/,
    );
    // A data dir that kept its files locally: its images' files would never be read.
    const local = await startTestServer();
    const shaOf = (await local.admin.upload([{ name: 'local.jpg', data: await solid(64, 64, 'jpeg') }])).body.sha256;
    expect(shaOf).toMatch(/^[0-9a-f]{64}$/);
    await local.close();
    try {
      await expect(startTestServer({ dataDir: local.dataDir, config: { ...s3.options(PREFIX), storage: 's3' } })).rejects.toThrow(
        /originals holds files of --storage local: with --storage s3 they would never be read/,
      );
    } finally {
      fs.rmSync(local.dataDir, { recursive: true, force: true });
    }
  });
});

describe('--storage s3: the data dir', () => {
  it('holds no originals or processed folders at all', () => {
    for (const folder of ['originals', 'processed']) expect(fs.existsSync(path.join(t.dataDir, folder))).toBe(false);
  });
});
