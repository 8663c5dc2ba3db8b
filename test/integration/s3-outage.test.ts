import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, solid } from '../helpers/images.js';
import { startS3rver, syncIdle, type S3rver } from '../helpers/s3rver.js';
import { eventually } from '../helpers/eventually.js';
import { sha256 } from '../helpers/hash.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const MiB = 1024 * 1024;
let s3: S3rver;
let t: TestServer;

beforeAll(async () => {
  s3 = await startS3rver();
  t = await startTestServer({
    config: s3.options('outage'),
    // Small parts, one at a time: the big upload is surely in the middle when the bucket goes.
    start: { s3: { pollMs: 50, probeMinMs: 100, probeMaxMs: 400, retryMaxMs: 400, partSize: 5 * MiB, partConcurrency: 1 } },
  });
});
afterAll(async () => {
  await t?.close();
  await s3?.close();
  if (t) fs.rmSync(t.dataDir, { recursive: true, force: true });
});

/** A real JPEG padded to `total` bytes (decoders stop at the end marker). */
function bigJpeg(total: number): Buffer {
  const head = fixture('ipx-husky-snow.jpg');
  const out = Buffer.alloc(total);
  head.copy(out);
  for (let i = head.length; i < total; i += 4096) out[i] = i & 0xff; // not all zeros, so parts differ
  return out;
}

const status = async () => (await t.admin.json('GET', '/v1/sync')).body;

describe('an unreachable bucket', () => {
  it('only grows the backlog while it is down, and loses nothing when it comes back', async () => {
    const images: Array<{ id: string; sha256: string; data: Buffer }> = [];
    const upload = async (data: Buffer, name: string) => {
      const res = await t.admin.uploadRaw(data, name, 'image/jpeg');
      expect(res.status).toBe(202);
      images.push({ id: res.body.id, sha256: res.body.sha256, data });
      return res.body.id as string;
    };

    for (let i = 0; i < 3; i++) await upload(await solid(800, 600, 'jpeg', `#${(i * 40 + 16).toString(16)}3366`), `before-${i}.jpg`);
    const big = bigJpeg(120 * MiB);
    await upload(big, 'big.jpg');
    const bigSha = images.at(-1)!.sha256;

    // Stop the bucket in the middle of the big upload.
    await eventually(
      async () => {
        const s = await status();
        return s.inFlight.some((f: any) => f.key.endsWith(bigSha) && f.bytesDone > 0 && f.bytesDone < f.bytes);
      },
      60_000,
      'big original half uploaded',
    );
    await s3.stop('SIGKILL');

    // Uploads and processing go on as if nothing happened.
    for (let i = 0; i < 3; i++) await upload(await solid(640, 480, 'jpeg', `#33${(i * 40 + 16).toString(16)}66`), `during-${i}.jpg`);
    for (const image of images) expect((await t.admin.waitFor(image.id, ['done', 'failed'], 60_000)).status).toBe('done');

    const down = await eventually(async () => {
      const s = await status();
      return !s.reachable && s.backlog.jobs > 0 && s.inFlight.length === 0 && s;
    }, 30_000, 'outage reported');
    expect(down.outage.lastError).toMatch(/ECONNREFUSED|ECONNRESET|unreachable/);
    expect(down.failed.jobs).toBe(0);
    expect(await (await fetch(`${t.url}/metrics`)).text()).toMatch(/darkroom_sync_bucket_up\{node="[^"]+"\} 0\n/);
    // The backlog keeps what is waiting: at least the big original and every later file.
    expect(down.backlog.bytes).toBeGreaterThanOrEqual(big.length);

    await s3.restart();
    const after = await syncIdle(t.admin, (s) => s.reachable, 60_000, 'backlog drained');
    expect(after.failed.jobs).toBe(0);

    // Every original and every processed file is in the bucket, byte for byte.
    for (const image of images) {
      expect(await s3.sha256Of(`outage/originals/${image.sha256}`)).toBe(sha256(image.data));
      const record = (await t.admin.json('GET', `/v1/image/${image.id}`)).body;
      for (const v of record.variants) {
        const local = await t.admin.download(image.id, v.name);
        expect(await s3.sha256Of(`outage/processed/${image.id}/${v.name}.webp`)).toBe(sha256(local.body));
      }
    }
    expect((await s3.client.head(`outage/originals/${bigSha}`)).bytes).toBe(big.length);
  });
});
