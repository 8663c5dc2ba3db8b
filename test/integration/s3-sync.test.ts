import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createManualClock } from '../../server/util/clock.js';
import { jpegWithExif, solid } from '../helpers/images.js';
import { startS3rver, syncIdle, type S3rver } from '../helpers/s3rver.js';
import { eventually } from '../helpers/eventually.js';
import { sha256 } from '../helpers/hash.js';
import { startTestServer, type ApiClient, type TestServer } from '../helpers/server.js';

const PREFIX = 'tenant-a/darkroom';
const DAY = 24 * 3600 * 1000;
const clock = createManualClock(Date.parse('2026-05-01T12:00:00Z'));
let s3: S3rver;
let t: TestServer;
let user: ApiClient;

beforeAll(async () => {
  s3 = await startS3rver();
  t = await startTestServer({
    clock,
    config: { ...s3.options(PREFIX), processedTtl: '7d', purgeSchedule: '* * * * * *' },
    start: { s3: { pollMs: 50, probeMinMs: 100, probeMaxMs: 500, retryMaxMs: 500 } },
  });
  user = await t.client('user', 'acme');
});
afterAll(async () => {
  await t?.close();
  await s3?.close();
  if (t) fs.rmSync(t.dataDir, { recursive: true, force: true });
});

const key = (rest: string) => `${PREFIX}/${rest}`;

/** Uploads, waits until processed, and returns the record. */
async function uploadDone(data: Buffer, name: string) {
  const res = await user.upload([{ name, data }]);
  expect(res.status).toBe(202);
  return user.waitFor(res.body.id);
}

/** Waits until the sync queue is empty and nothing runs. */
const synced = () => syncIdle(t.admin);

describe('S3 sync', () => {
  it('stores originals and processed files under the contract keys, byte for byte', async () => {
    const photo = await jpegWithExif();
    const graphic = await solid(900, 600, 'png', '#22aa66');
    const a = await uploadDone(photo, 'photo.jpg');
    const b = await uploadDone(graphic, 'graphic.png');

    const expected = [
      key(`originals/${a.sha256}`),
      key(`originals/${b.sha256}`),
      ...[a, b].flatMap((r) => [key(`processed/${r.id}/thumb.webp`), key(`processed/${r.id}/display.webp`)]),
    ].sort();
    // Everything fed and acknowledged by the bucket (s3rver lists an object while still writing it).
    const status = await synced();
    expect([...(await s3.objects(PREFIX)).keys()].sort()).toEqual(expected);

    expect(await s3.sha256Of(key(`originals/${a.sha256}`))).toBe(sha256(photo));
    expect(await s3.sha256Of(key(`originals/${b.sha256}`))).toBe(sha256(graphic));
    for (const record of [a, b]) {
      for (const variant of ['thumb', 'display']) {
        const local = await user.download(record.id, variant);
        expect(local.status).toBe(200);
        expect(await s3.sha256Of(key(`processed/${record.id}/${variant}.webp`))).toBe(sha256(local.body));
      }
    }
    // Each object carries its sha256, so any copy can be verified later.
    const head = await s3.client.head(key(`originals/${a.sha256}`));
    expect(head.sha256).toBe(a.sha256);

    expect(status).toMatchObject({
      enabled: true,
      bucket: s3.bucket,
      prefix: PREFIX,
      reachable: true,
      failed: { jobs: 0, recent: [] },
      synced: { objects: 6 },
    });
    expect(status.synced.bytes).toBe(photo.length + graphic.length + [a, b].flatMap((r) => r.variants).reduce((n: number, v: any) => n + v.bytes, 0));
  });

  it('uploads identical bytes once', async () => {
    const data = await solid(300, 300, 'png', '#123456');
    const first = await uploadDone(data, 'one.png');
    await synced();
    const before = (await t.admin.json('GET', '/v1/sync')).body.synced;
    const second = await uploadDone(data, 'two.png');
    expect(second.sha256).toBe(first.sha256);
    await eventually(async () => (await s3.objects(key(`processed/${second.id}/`))).size === 2);
    const after = (await synced()).synced;
    // Two processed files of the second image; the original was already there.
    expect(after.objects - before.objects).toBe(2);
    expect([...(await s3.objects(key('originals/'))).keys()].filter((k) => k.endsWith(first.sha256))).toHaveLength(1);
  });

  it('deletes the processed objects of purged files', async () => {
    const record = await uploadDone(await solid(400, 300, 'webp', '#aa0000'), 'short-lived.webp');
    await eventually(async () => (await s3.objects(key(`processed/${record.id}/`))).size === 2);
    clock.advance(8 * DAY);
    // The purge runs every second on the real scheduler; the bucket follows.
    await eventually(async () => (await s3.objects(key(`processed/${record.id}/`))).size === 0, 30_000, 'processed objects purged');
    expect((await user.download(record.id, 'display')).status).toBe(410);
    // The original stays, in the bucket as on disk.
    expect((await s3.objects(key(`originals/${record.sha256}`))).size).toBe(1);
    const status = await synced();
    expect(status.synced.deletedObjects).toBeGreaterThanOrEqual(2);

    // Reprocessing makes the files again, and syncs them again.
    expect((await user.json('POST', `/v1/image/${record.id}/reprocess`)).status).toBe(202);
    await user.waitFor(record.id);
    await eventually(async () => (await s3.objects(key(`processed/${record.id}/`))).size === 2, 30_000, 'reprocessed files synced');
  });

  it('deletes an image’s objects, and its original only when no other image uses the bytes', async () => {
    const data = await solid(640, 480, 'jpeg', '#0055ff');
    const a = await uploadDone(data, 'a.jpg');
    const b = await uploadDone(data, 'b.jpg');
    const original = key(`originals/${a.sha256}`);
    await eventually(async () => (await s3.objects(key(`processed/${b.id}/`))).size === 2 && (await s3.objects(original)).size === 1);

    expect((await user.json('DELETE', `/v1/image/${a.id}`)).status).toBe(204);
    await eventually(async () => (await s3.objects(key(`processed/${a.id}/`))).size === 0, 30_000, 'processed objects of a deleted');
    await synced();
    expect((await s3.objects(original)).size).toBe(1);
    expect((await s3.objects(key(`processed/${b.id}/`))).size).toBe(2);

    expect((await user.json('DELETE', `/v1/image/${b.id}`)).status).toBe(204);
    await eventually(async () => (await s3.objects(original)).size === 0 && (await s3.objects(key(`processed/${b.id}/`))).size === 0, 30_000, 'original deleted');
  });

  it('never uploads a local file that no longer matches its sha256: listed as failed until retried', async () => {
    // The bucket is away while the file is damaged, so the sync meets the damaged bytes.
    await s3.stop();
    const data = await solid(500, 400, 'png', '#777777');
    const record = await uploadDone(data, 'damaged.png');
    const file = t.server.parts.store.originalPath(record.sha256);
    const damaged = Buffer.from(data);
    damaged[damaged.length >> 1]! ^= 0xff;
    fs.writeFileSync(file, damaged);
    await s3.restart();

    const status = await eventually(async () => {
      const s = (await t.admin.json('GET', '/v1/sync')).body;
      return s.failed.jobs === 1 && s;
    }, 30_000, 'failure listed');
    expect(status.failed.recent).toEqual([
      expect.objectContaining({ op: 'put_original', key: key(`originals/${record.sha256}`), attempts: 1, lastError: expect.stringContaining('sha256') }),
    ]);
    expect((await s3.objects(key(`originals/${record.sha256}`))).size).toBe(0);
    expect(await (await fetch(`${t.url}/metrics`)).text()).toMatch(/darkroom_sync_failed_jobs\{node="[^"]+"\} 1\n/);

    expect((await user.json('POST', '/v1/sync/retry')).status).toBe(403);
    fs.writeFileSync(file, data);
    const retried = await t.admin.json('POST', '/v1/sync/retry');
    expect(retried).toMatchObject({ status: 202, body: { requeued: 1 } });
    expect((await synced()).failed.jobs).toBe(0);
    expect(await s3.sha256Of(key(`originals/${record.sha256}`))).toBe(record.sha256);
  });

  it('reports sync status to admins only, with Prometheus gauges', async () => {
    expect((await user.json('GET', '/v1/sync')).status).toBe(403);
    const business = await t.client('business', 'acme');
    expect((await business.json('GET', '/v1/sync')).status).toBe(403);

    const status = await synced();
    expect(status.endpoint).toBe(s3.endpoint);
    expect(status.url).toBe(`s3://${s3.bucket}/${PREFIX}/`);
    expect(status.outage).toBeNull();
    // s3rver has no lifecycle rules: said once in the log, and here.
    expect(status.lifecycle).toMatchObject({ state: 'unsupported' });
    expect(status.localOriginals).toMatchObject({ maxBytes: null, evicted: 0 });
    expect(status.localOriginals.bytes).toBeGreaterThan(0);

    // Every series also carries the node's id as a label (`{node="…"}`).
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    for (const [name, value] of [['darkroom_sync_backlog_jobs', '0'], ['darkroom_sync_bucket_up', '1'], ['darkroom_sync_failed_jobs', '0'], ['darkroom_local_originals_bytes', '\\d+']]) {
      expect(metrics).toMatch(new RegExp(`${name}\\{node="[^"]+"\\} ${value}\\n`));
    }
    expect(metrics).toMatch(new RegExp(`darkroom_sync_synced_bytes\\{node="[^"]+"\\} ${status.synced.bytes}\\b`));
  });
});
