import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, pngBomb, solid } from '../helpers/images.js';
import { listFiles, startTestServer, type ApiClient, type TestServer } from '../helpers/server.js';

let t: TestServer;
let user: ApiClient;

beforeAll(async () => {
  t = await startTestServer({ config: { maxUploadBytes: '2MB' } });
  user = await t.client('user', 'rejects');
});
afterAll(() => t.close());

/** Nothing of a refused upload may remain: no record, no original, no temp file. */
async function expectNothingLeft() {
  const list = await user.json('GET', '/v1/images?limit=500');
  expect(list.body.items).toEqual([]);
  expect(listFiles(path.join(t.dataDir, 'originals'))).toEqual([]);
  expect(listFiles(path.join(t.dataDir, 'tmp'))).toEqual([]);
  const row = t.server.parts.db.prepare('SELECT count(*) AS n FROM images').get() as { n: number };
  expect(row.n).toBe(0);
}

async function expectStillServing() {
  expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
  const ok = await user.upload([{ name: 'ok.png', data: await solid(16, 16, 'png') }]);
  expect(ok.status).toBe(202);
  await user.waitFor(ok.body.id);
  expect((await user.json('DELETE', `/v1/image/${ok.body.id}`)).status).toBe(204);
}

describe('bad input gets a clear error and loses nothing', () => {
  it('refuses a decompression bomb from its header with 422, without decoding it', async () => {
    const bomb = pngBomb(60000, 60000);
    const res = await user.upload([{ name: 'bomb.png', data: bomb }]);
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('pixel_limit_exceeded');
    expect(res.body.error.message).toContain('60000×60000 = 3600000000');
    expect(res.body.error.message).toContain('1000000000');
    await expectNothingLeft();
    await expectStillServing();
  });

  it('refuses a text file named .jpg with 415 after reading only its first bytes', async () => {
    const res = await user.upload([{ name: 'notes.jpg', data: Buffer.from('Dear diary, today I uploaded a text file.\n'.repeat(50)), type: 'image/jpeg' }]);
    expect(res.status).toBe(415);
    expect(res.body.error.code).toBe('unsupported_media_type');
    expect(res.body.error.message).toContain('notes.jpg');

    // A large text body: the answer arrives while the client has sent only the first part and
    // is still holding the rest back, which proves the server judged the first bytes.
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${t.url}/v1/image`, {
        method: 'POST',
        headers: { ...user.headers(), 'content-type': 'image/jpeg', 'content-length': String(1_500_000), 'x-filename': 'big.jpg' },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode!);
        req.destroy();
      });
      req.on('error', (err) => (err.message.includes('socket hang up') ? undefined : reject(err)));
      req.write('plain text, not an image '.repeat(2000)); // ~50 KB of the promised 1.5 MB
    });
    expect(status).toBe(415);
    await expectNothingLeft();
    await expectStillServing();
  });

  it('refuses a binary that is not an image format Darkroom decodes (BMP) with 415', async () => {
    const res = await user.uploadRaw(fixture('imgproxy-bmp-invalid-bpp.bmp'), 'x.bmp');
    expect(res.status).toBe(415);
    await expectNothingLeft();
  });

  it('refuses an upload over --max-upload-bytes with 413, by Content-Length and while streaming', async () => {
    const big = Buffer.concat([fixture('ipx-bliss.jpg'), Buffer.alloc(2_100_000)]);
    const byLength = await user.uploadRaw(big, 'big.jpg', 'image/jpeg');
    expect(byLength.status).toBe(413);
    expect(byLength.body.error.code).toBe('payload_too_large');

    // Chunked: no Content-Length, so the limit is found while counting.
    const chunked = await new Promise<{ status: number; body: any }>((resolve, reject) => {
      const req = http.request(`${t.url}/v1/image`, { method: 'POST', headers: { ...user.headers(), 'content-type': 'image/jpeg' } });
      req.on('response', (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
      });
      req.on('error', reject);
      for (let i = 0; i < big.length; i += 65536) req.write(big.subarray(i, i + 65536));
      req.end();
    });
    expect(chunked.status).toBe(413);
    expect(chunked.body.error.code).toBe('payload_too_large');
    await expectNothingLeft();
    await expectStillServing();
  });

  it('marks a truncated JPEG failed with corrupt_image and leaves no processed or temp file', async () => {
    const whole = fixture('ipx-bliss.jpg');
    const res = await user.upload([{ name: 'cut.jpg', data: whole.subarray(0, Math.floor(whole.length / 2)) }]);
    expect(res.status).toBe(202);
    const failed = await user.waitFor(res.body.id);
    expect(failed.status).toBe('failed');
    expect(failed.error.code).toBe('corrupt_image');
    expect(failed.variants.every((v: any) => v.status === 'failed')).toBe(true);
    // Not retried: one attempt was enough to know.
    const job = t.server.parts.db
      .prepare(`SELECT attempts, status FROM jobs WHERE image_id = ? AND kind = 'process_image'`)
      .get(res.body.id) as { attempts: number; status: string };
    expect(job).toEqual({ attempts: 1, status: 'failed' });
    expect(listFiles(path.join(t.dataDir, 'processed')).filter((f) => f.includes(res.body.id))).toEqual([]);
    expect(listFiles(path.join(t.dataDir, 'tmp'))).toEqual([]);
    expect((await user.download(res.body.id, 'display')).status).toBe(409);
    expect((await user.download(res.body.id, 'original')).status).toBe(200);
    expect((await user.json('DELETE', `/v1/image/${res.body.id}`)).status).toBe(204);
    await expectNothingLeft();
    await expectStillServing();
  });

  it('refuses a whole multipart request when one of its files is bad', async () => {
    const res = await user.upload([
      { name: 'good.png', data: await solid(20, 20, 'png') },
      { name: 'bad.jpg', data: Buffer.from('not an image at all, just words') },
    ]);
    expect(res.status).toBe(415);
    await expectNothingLeft();
  });

  it('answers 400 for an empty body, a wrong field name, or a multipart body without files', async () => {
    expect((await user.uploadRaw(Buffer.alloc(0), 'empty.jpg')).status).toBe(400);
    const form = new FormData();
    form.append('file', new Blob([await solid(8, 8, 'png')]), 'x.png');
    const wrongField = await user.request('POST', '/v1/image', { body: form });
    expect(wrongField.status).toBe(400);
    expect(((await wrongField.json()) as any).error.message).toContain('"image"');
    const noFiles = new FormData();
    noFiles.append('variants', '[]');
    expect((await user.request('POST', '/v1/image', { body: noFiles })).status).toBe(400);
    await expectNothingLeft();
  });

  it('answers 429 with Retry-After when the queue is full', async () => {
    const small = await startTestServer({ config: { maxQueuedJobs: '2' } });
    try {
      const admin = small.admin;
      await small.server.parts.runner.stop(0); // nothing runs, so the queue only grows
      const first = await admin.upload([{ name: 'a.png', data: await solid(8, 8, 'png') }]);
      expect(first.status).toBe(202); // two jobs queued: metadata and processing
      const second = await admin.upload([{ name: 'b.png', data: await solid(9, 9, 'png') }]);
      expect(second.status).toBe(429);
      expect(second.body.error.code).toBe('too_many_requests');
      expect(Number(second.headers.get('retry-after'))).toBeGreaterThan(0);
      const count = small.server.parts.db.prepare('SELECT count(*) AS n FROM images').get() as { n: number };
      expect(count.n).toBe(1);
    } finally {
      await small.close();
    }
  });

  it('answers 507 when accepting the upload would eat the disk reserve', async () => {
    const full = await startTestServer({ config: { minFreeBytes: '1000TB' } });
    try {
      const res = await full.admin.upload([{ name: 'a.png', data: await solid(8, 8, 'png') }]);
      expect(res.status).toBe(507);
      expect(res.body.error.code).toBe('insufficient_storage');
      expect(fs.readdirSync(path.join(full.dataDir, 'tmp'))).toEqual([]);
      expect((await fetch(`${full.url}/readyz`)).status).toBe(503);
    } finally {
      await full.close();
    }
  });
});
