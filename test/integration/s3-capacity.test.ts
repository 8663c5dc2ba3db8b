import fs from 'node:fs';
import http from 'node:http';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createManualClock } from '../../server/util/clock.js';
import { solid } from '../helpers/images.js';
import { startS3rver, type S3rver } from '../helpers/s3rver.js';
import { eventually } from '../helpers/eventually.js';
import { sha256 } from '../helpers/hash.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const FAST = { pollMs: 50, probeMinMs: 100, probeMaxMs: 500, retryMaxMs: 500 };
let s3: S3rver;
const servers: TestServer[] = [];

beforeAll(async () => {
  s3 = await startS3rver();
});
afterAll(async () => {
  for (const t of servers) {
    await t.close();
    fs.rmSync(t.dataDir, { recursive: true, force: true });
  }
  await s3?.close();
});

async function start(prefix: string, maxBytes: string, clock?: ReturnType<typeof createManualClock>, dataDir?: string) {
  const t = await startTestServer({ clock, dataDir, config: { ...s3.options(prefix), localOriginalsMaxBytes: maxBytes }, start: { s3: FAST } });
  servers.push(t);
  return t;
}

/** A photo-like JPEG of about a megabyte: noise does not compress. */
async function noisyJpeg(seed: number, width = 1200, height = 900) {
  const raw = Buffer.alloc(width * height * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 7919 + seed * 104729 + ((i / 997) | 0) * 31) & 0xff;
  return sharp(raw, { raw: { width, height, channels: 3 } }).jpeg({ quality: 95 }).toBuffer();
}

const isLocal = (t: TestServer, sha: string) => fs.existsSync(t.server.parts.store.originalPath(sha));

describe('capacity tier: local originals as a cache of the bucket', () => {
  let t: TestServer;
  let photo: Buffer;
  let id: string;
  let sha: string;

  it('evicts a synced original from local disk once nothing needs it', async () => {
    t = await start('tier', '0');
    photo = await noisyJpeg(1);
    const res = await t.admin.upload([{ name: 'photo.jpg', data: photo }]);
    expect(res.status).toBe(202);
    ({ id, sha256: sha } = await t.admin.waitFor(res.body.id));
    await eventually(() => !isLocal(t, sha), 30_000, 'original evicted');
    const status = (await t.admin.json('GET', '/v1/sync')).body;
    expect(status.localOriginals).toMatchObject({ bytes: 0, maxBytes: 0, evicted: 1, evictedBytes: photo.length });
    expect(await s3.sha256Of(`tier/originals/${sha}`)).toBe(sha256(photo));
  });

  it('downloads an evicted original byte for byte from the bucket, with Range, HEAD and ETag', async () => {
    const full = await t.admin.download(id, 'original');
    expect(full.status).toBe(200);
    expect(sha256(full.body)).toBe(sha256(photo));
    expect(full.headers.get('content-length')).toBe(String(photo.length));
    expect(full.headers.get('content-type')).toBe('image/jpeg');
    expect(full.headers.get('etag')).toBe(`"${sha}"`);
    expect(full.headers.get('accept-ranges')).toBe('bytes');
    expect(full.headers.get('content-disposition')).toContain('photo.jpg');

    const part = await t.admin.download(id, 'original', { range: 'bytes=100-1099' });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 100-1099/${photo.length}`);
    expect(part.body.equals(photo.subarray(100, 1100))).toBe(true);

    const tail = await t.admin.download(id, 'original', { range: 'bytes=-500' });
    expect(tail.status).toBe(206);
    expect(tail.body.equals(photo.subarray(photo.length - 500))).toBe(true);

    const beyond = await t.admin.download(id, 'original', { range: `bytes=${photo.length}-` });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get('content-range')).toBe(`bytes */${photo.length}`);
    expect(JSON.parse(beyond.body.toString()).error.code).toBe('range_not_satisfiable');

    // A stale If-Range gets the whole file.
    const stale = await t.admin.download(id, 'original', { range: 'bytes=0-9', 'if-range': '"another"' });
    expect(stale.status).toBe(200);
    expect(stale.body.length).toBe(photo.length);

    // node:http, because fetch adds "Cache-Control: no-cache" to conditional requests.
    const notModified = await new Promise<number>((resolve, reject) => {
      http
        .get(`${t.url}/v1/image/${id}/download?variant=original`, { headers: { ...t.admin.headers(), 'if-none-match': `"${sha}"` } }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        })
        .on('error', reject);
    });
    expect(notModified).toBe(304);

    const head = await t.admin.request('HEAD', `/v1/image/${id}/download?variant=original`);
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(photo.length));

    // Served from the bucket, not brought back to disk.
    expect(isLocal(t, sha)).toBe(false);
  });

  it('brings an evicted original back for reprocessing, then lets it go again', async () => {
    const before = (await t.server.parts.images.variantsOf(id)).map((v) => v.etag);
    expect((await t.admin.json('POST', `/v1/image/${id}/reprocess`)).status).toBe(202);
    const done = await t.admin.waitFor(id);
    expect(done.status).toBe('done');
    expect(done.variants.map((v: any) => v.status)).toEqual(['done', 'done']);
    // Same original, same pipeline: the same files again.
    expect((await t.server.parts.images.variantsOf(id)).map((v) => v.etag)).toEqual(before);
    await eventually(() => !isLocal(t, sha), 30_000, 'original evicted again');
  });

  it('refuses to process from a bucket copy that does not match its sha256', async () => {
    const other = await noisyJpeg(2, 800, 600);
    const res = await t.admin.upload([{ name: 'other.jpg', data: other }]);
    const record = await t.admin.waitFor(res.body.id);
    await eventually(() => !isLocal(t, record.sha256), 30_000, 'second original evicted');
    // Something else overwrites the object in the bucket.
    const garbage = await noisyJpeg(3, 800, 600);
    const crypto = await import('node:crypto');
    await s3.client.put(`tier/originals/${record.sha256}`, garbage, crypto.createHash('sha256').update(garbage).digest('base64'), {
      sha256: record.sha256,
    });
    await t.admin.json('POST', `/v1/image/${record.id}/reprocess`);
    const failed = await t.admin.waitFor(record.id);
    expect(failed.status).toBe('failed');
    expect(failed.error.code).toBe('original_missing');
    expect(failed.error.message).toContain('corrupt');
    expect(isLocal(t, record.sha256)).toBe(false);
  });

  it('answers 503 for an evicted original while the bucket is unreachable, and serves it again after', async () => {
    await s3.stop();
    const res = await t.admin.download(id, 'original');
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body.toString()).error.code).toBe('unavailable');
    expect(res.headers.get('retry-after')).toBe('30');
    await s3.restart();
    const again = await t.admin.download(id, 'original');
    expect(again.status).toBe(200);
    expect(sha256(again.body)).toBe(sha256(photo));
  });

  it('refuses to start without that bucket, or with another one, while originals are kept only there', async () => {
    await t.close();
    await expect(startTestServer({ dataDir: t.dataDir })).rejects.toThrow(
      /^2 originals are kept only in S3 bucket "darkroom-test" \(prefix "tier"\); start with --s3-bucket/,
    );
    await expect(startTestServer({ dataDir: t.dataDir, config: s3.options('elsewhere') })).rejects.toThrow(
      /^2 originals are kept only in S3 bucket "darkroom-test" \(prefix "tier"\); start with that bucket and prefix again/,
    );
    // With the same bucket and prefix it starts, and serves them.
    const again = await start('tier', '0', undefined, t.dataDir);
    expect(sha256((await again.admin.download(id, 'original')).body)).toBe(sha256(photo));
  });
});

describe('capacity tier: least recently used leave first', () => {
  it('evicts the original used longest ago, and counts a download as use', async () => {
    const clock = createManualClock(Date.parse('2026-06-01T08:00:00Z'));
    const [a, b, c] = [await solid(1600, 1200, 'png', '#ff0000'), await solid(1600, 1200, 'png', '#00ff00'), await solid(200, 150, 'png', '#0000ff')];
    expect(c.length).toBeLessThan(b.length);
    const t = await start('lru', String(a.length + b.length + 1), clock);
    const upload = async (data: Buffer, name: string) => {
      const res = await t.admin.upload([{ name, data }]);
      const record = await t.admin.waitFor(res.body.id);
      await eventually(async () => (await t.admin.json('GET', '/v1/sync')).body.synced.objects >= 1 && (await s3.objects(`lru/originals/${record.sha256}`)).size === 1);
      return record;
    };
    const ra = await upload(a, 'a.png');
    clock.advance(120_000);
    const rb = await upload(b, 'b.png');
    clock.advance(120_000);
    expect((await t.admin.download(ra.id, 'original')).status).toBe(200); // a is now the most recently used
    // A range past the end of a local file answers 416 too, naming the size.
    const beyond = await t.admin.download(ra.id, 'original', { range: `bytes=${a.length}-` });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get('content-range')).toBe(`bytes */${a.length}`);
    expect(JSON.parse(beyond.body.toString()).error.code).toBe('range_not_satisfiable');
    clock.advance(120_000);
    const rc = await upload(c, 'c.png');
    await eventually(() => !isLocal(t, rb.sha256), 30_000, 'b evicted');
    expect(isLocal(t, ra.sha256)).toBe(true);
    expect(isLocal(t, rc.sha256)).toBe(true);
    const status = (await t.admin.json('GET', '/v1/sync')).body;
    expect(status.localOriginals.bytes).toBe(a.length + c.length);
    expect(status.localOriginals.evicted).toBe(1);
  });
});
