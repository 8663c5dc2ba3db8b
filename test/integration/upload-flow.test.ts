import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, jpegWithExif, solid } from '../helpers/images.js';
import { listFiles, startTestServer, type ApiClient, type TestServer } from '../helpers/server.js';

let t: TestServer;
let user: ApiClient;

beforeAll(async () => {
  t = await startTestServer();
  user = await t.client('user', 'acme');
});
afterAll(() => t.close());

describe('upload → processing → download', () => {
  it('accepts a multipart upload at once, processes it, and serves both default variants', async () => {
    const original = fixture('ipx-bliss.jpg');
    const res = await user.upload([{ name: 'bliss.jpg', data: original, type: 'image/jpeg' }]);
    expect(res.status).toBe(202);
    expect(res.headers.get('location')).toBe(`/v1/image/${res.body.id}`);
    expect(res.body).toMatchObject({
      customer: 'acme',
      status: 'queued',
      filename: 'bliss.jpg',
      bytes: original.length,
      format: 'jpeg',
      width: 3840,
      height: 2160,
      error: null,
    });
    expect(res.body.variants.map((v: any) => [v.name, v.status])).toEqual([
      ['thumb', 'pending'],
      ['display', 'pending'],
    ]);

    const done = await user.waitFor(res.body.id);
    expect(done.status).toBe('done');
    expect(done.processedAt).not.toBeNull();
    const display = done.variants.find((v: any) => v.name === 'display');
    expect(display).toMatchObject({ status: 'done', format: 'webp', width: 2048, height: 1152 });
    expect(new Date(display.expiresAt).getTime()).toBeGreaterThan(Date.now() + 6 * 24 * 3600e3);

    const d = await user.download(res.body.id, 'display');
    expect(d.status).toBe(200);
    expect(d.headers.get('content-type')).toBe('image/webp');
    expect(Number(d.headers.get('content-length'))).toBe(d.body.length);
    expect(d.headers.get('content-disposition')).toMatch(/^attachment; filename="?bliss-display\.webp"?$/);
    expect(new Date(d.headers.get('expires')!).getTime()).toBeGreaterThan(Date.now());
    const meta = await sharp(d.body).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['webp', 2048, 1152]);

    const thumb = await user.download(res.body.id, 'thumb');
    const thumbMeta = await sharp(thumb.body).metadata();
    expect([thumbMeta.format, thumbMeta.width, thumbMeta.height]).toEqual(['webp', 320, 180]);

    // No variant named: display.
    const byDefault = await user.download(res.body.id);
    expect(byDefault.body.equals(d.body)).toBe(true);
  });

  it('serves the original byte for byte, with Range and conditional requests', async () => {
    const original = fixture('imaginary-test.png');
    const { body } = await user.upload([{ name: 'test.png', data: original }]);
    const full = await user.download(body.id, 'original');
    expect(full.status).toBe(200);
    expect(full.body.equals(original)).toBe(true);
    expect(full.headers.get('content-type')).toBe('image/png');
    expect(full.headers.get('etag')).toBe(`"${body.sha256}"`);
    expect(full.headers.get('accept-ranges')).toBe('bytes');

    const part = await user.download(body.id, 'original', { range: 'bytes=100-199' });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 100-199/${original.length}`);
    expect(part.body.equals(original.subarray(100, 200))).toBe(true);

    // With node:http: fetch adds "Cache-Control: no-cache" to conditional requests, as the Fetch
    // standard says, which rightly disables the 304.
    const status = await new Promise<number>((resolve, reject) => {
      http
        .get(
          `${t.url}/v1/image/${body.id}/download?variant=original`,
          { headers: { ...user.headers(), 'if-none-match': full.headers.get('etag')! } },
          (res) => {
            res.resume();
            resolve(res.statusCode!);
          },
        )
        .on('error', reject);
    });
    expect(status).toBe(304);
  });

  it('accepts a raw body with X-Filename (curl -T) and several files in one multipart request', async () => {
    const raw = await user.uploadRaw(fixture('imaginary-test.webp'), 'raw photo.webp', 'image/webp');
    expect(raw.status).toBe(202);
    expect(raw.body.filename).toBe('raw photo.webp');
    expect(raw.body.format).toBe('webp');

    const many = await user.upload([
      { name: 'a.jpg', data: fixture('ipx-husky-snow.jpg') },
      { name: 'b.gif', data: fixture('ipx-giphy.gif') },
    ]);
    expect(many.status).toBe(202);
    expect(Array.isArray(many.body)).toBe(true);
    expect(many.body.map((r: any) => [r.filename, r.format])).toEqual([
      ['a.jpg', 'jpeg'],
      ['b.gif', 'gif'],
    ]);
    for (const r of [raw.body, ...many.body]) expect((await user.waitFor(r.id)).status).toBe('done');

    // An animated GIF stays animated in its WebP variants.
    const anim = await user.download(many.body[1].id, 'display');
    expect((await sharp(anim.body).metadata()).pages).toBe(20);
  });

  it('stores identical bytes once and keeps them until the last image using them is deleted', async () => {
    const bytes = fixture('imaginary-medium.jpg');
    const a = await user.upload([{ name: 'a.jpg', data: bytes }]);
    const b = await user.upload([{ name: 'b.jpg', data: bytes }]);
    expect(a.body.sha256).toBe(b.body.sha256);
    const originals = () => listFiles(path.join(t.dataDir, 'originals')).filter((f) => f.endsWith(a.body.sha256));
    expect(originals()).toHaveLength(1);
    await user.waitFor(a.body.id);
    await user.waitFor(b.body.id);

    expect((await user.json('DELETE', `/v1/image/${a.body.id}`)).status).toBe(204);
    expect((await user.json('GET', `/v1/image/${a.body.id}`)).status).toBe(404);
    expect(originals()).toHaveLength(1);
    const still = await user.download(b.body.id, 'original');
    expect(still.body.equals(bytes)).toBe(true);

    expect((await user.json('DELETE', `/v1/image/${b.body.id}`)).status).toBe(204);
    expect(originals()).toHaveLength(0);
    const processed = listFiles(path.join(t.dataDir, 'processed')).filter((f) => f.includes(a.body.id) || f.includes(b.body.id));
    expect(processed).toEqual([]);
  });

  it('reads EXIF, GPS, dominant colour and a thumbhash from the metadata endpoints', async () => {
    const { body } = await user.upload([{ name: 'camera.jpg', data: await jpegWithExif() }]);
    await user.waitFor(body.id);
    for (const url of [`/v1/image/metadata/${body.id}`, `/v1/image/${body.id}/metadata`]) {
      const res = await user.json('GET', url);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        id: body.id,
        format: 'jpeg',
        mimeType: 'image/jpeg',
        width: 640,
        height: 480,
        orientation: 1,
        space: 'srgb',
        channels: 3,
        hasAlpha: false,
        exif: {
          make: 'Canon',
          model: 'EOS R5',
          lensModel: 'RF50mm F1.8 STM',
          dateTimeOriginal: '2024-06-01T14:03:22',
          exposureTime: 0.004,
          fNumber: 2.8,
          iso: 400,
          focalLength: 50,
        },
      });
      expect(res.body.gps.latitude).toBeCloseTo(48.8582, 4);
      expect(res.body.gps.longitude).toBeCloseTo(2.2945, 4);
      expect(res.body.gps.altitude).toBe(35);
      expect(res.body.dominantColor).toMatch(/^#[0-9a-f]{6}$/);
      expect(Buffer.from(res.body.thumbhash, 'base64').length).toBeGreaterThan(5);
    }
    // GPS never leaks into a processed file.
    const display = await user.download(body.id, 'display');
    const meta = await sharp(display.body).metadata();
    expect(meta.exif).toBeUndefined();
    expect(meta.icc).toBeUndefined();
  });

  it('makes custom variants, and validates them with clear 400s', async () => {
    const variants = JSON.stringify([
      { name: 'hero', width: 400, height: 300, fit: 'cover', format: 'avif', quality: 50 },
      { name: 'square', width: 100, height: 100, fit: 'cover', format: 'jpeg' },
      { name: 'lossless', width: 50, format: 'png' },
    ]);
    const { body, status } = await user.upload([{ name: 'x.jpg', data: fixture('ipx-husky-snow.jpg') }], { variants });
    expect(status).toBe(202);
    expect(body.variants.map((v: any) => v.name)).toEqual(['hero', 'square', 'lossless']);
    const done = await user.waitFor(body.id);
    expect(done.variants.map((v: any) => [v.name, v.format, v.width, v.height])).toEqual([
      ['hero', 'avif', 400, 300],
      ['square', 'jpeg', 100, 100],
      ['lossless', 'png', 50, 33],
    ]);
    const hero = await user.download(body.id, 'hero');
    expect(hero.headers.get('content-type')).toBe('image/avif');
    expect((await sharp(hero.body).metadata()).format).toBe('heif');
    expect((await user.download(body.id, 'display')).status).toBe(404);

    // Also as a query parameter.
    const q = await user.upload([{ name: 'q.png', data: fixture('imaginary-test.png') }], {}, `?variants=${encodeURIComponent('[{"name":"small","width":64}]')}`);
    expect(q.body.variants.map((v: any) => v.name)).toEqual(['small']);
    // Processing writes its outputs to tmp/ until they are moved into place: let it finish first.
    await user.waitFor(q.body.id);

    const bad: Array<[string, RegExp]> = [
      ['not json', /not valid JSON/],
      ['[]', /at least one/],
      ['[{"name":"Bad Name"}]', /name/],
      ['[{"name":"original"}]', /reserved/],
      ['[{"name":"a","width":0}]', /width/],
      ['[{"name":"a","format":"bmp"}]', /format/],
      ['[{"name":"a","fit":"squash"}]', /fit/],
      ['[{"name":"a","quality":101}]', /quality/],
      ['[{"name":"a"},{"name":"a"}]', /unique/],
      ['[{"name":"a","extra":1}]', /extra|unrecognized/i],
    ];
    const before = listFiles(path.join(t.dataDir, 'tmp')).length;
    for (const [json, message] of bad) {
      const res = await user.upload([{ name: 'x.jpg', data: fixture('ipx-husky-snow.jpg') }], { variants: json });
      expect(res.status, json).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
      expect(res.body.error.message).toMatch(message);
      expect(res.body.error.requestId).toBe(res.headers.get('x-request-id'));
    }
    expect(listFiles(path.join(t.dataDir, 'tmp')).length).toBe(before);
  });

  it('answers 404 for an unknown variant and 409 while a variant is not processed yet', async () => {
    const { body } = await user.upload([{ name: 'x.png', data: await solid(64, 64, 'png') }]);
    // Straight after the upload the variants are pending (the job has not had time to run).
    const early = await user.download(body.id, 'display');
    if (early.status !== 200) {
      expect(early.status).toBe(409);
      expect(JSON.parse(early.body.toString()).error.code).toBe('not_ready');
    }
    await user.waitFor(body.id);
    const unknown = await user.download(body.id, 'nope');
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.body.toString()).error.code).toBe('not_found');
  });

  it('lists newest first with a cursor, and filters by status', async () => {
    const other = await t.client('user', 'lister');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const { body } = await other.upload([{ name: `${i}.png`, data: await solid(8 + i, 8, 'png') }]);
      ids.push(body.id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: any = await other.json('GET', `/v1/images?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.items.map((r: any) => r.id));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());

    for (const id of ids) await other.waitFor(id);
    const done = await other.json('GET', '/v1/images?status=done&limit=500');
    expect(done.body.items).toHaveLength(5);
    expect((await other.json('GET', '/v1/images?status=failed')).body.items).toHaveLength(0);
    expect((await other.json('GET', '/v1/images?status=weird')).status).toBe(400);
    expect((await other.json('GET', '/v1/images?limit=0')).status).toBe(400);
    expect((await other.json('GET', '/v1/images?cursor=garbage')).status).toBe(400);
  });

  it('reprocesses an image with fresh variants', async () => {
    const { body } = await user.upload([{ name: 'r.jpg', data: fixture('imaginary-smart-crop.jpg') }]);
    const first = await user.waitFor(body.id);
    const res = await user.json('POST', `/v1/image/${body.id}/reprocess`);
    expect(res.status).toBe(202);
    expect(res.body.status).toBe('queued');
    expect(res.body.variants.every((v: any) => v.status === 'pending')).toBe(true);
    const again = await user.waitFor(body.id);
    expect(again.status).toBe('done');
    expect(new Date(again.processedAt).getTime()).toBeGreaterThanOrEqual(new Date(first.processedAt).getTime());
    expect((await user.download(body.id, 'display')).status).toBe(200);
    // Exactly one file per variant on disk.
    const files = listFiles(path.join(t.dataDir, 'processed')).filter((f) => f.includes(body.id));
    expect(files.map((f) => path.basename(f)).sort()).toEqual(['display.webp', 'thumb.webp']);
  });

  it('answers health, readiness and metrics without a key', async () => {
    expect(await (await fetch(`${t.url}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${t.url}/readyz`);
    expect(ready.status).toBe(200);
    // The node that answered, by its --node-id (host name + pid by default).
    const node = t.server.parts.config.nodeId;
    expect(node).toMatch(new RegExp(`-${process.pid}$`));
    expect(((await ready.json()) as { node: string }).node).toBe(node);
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    // Every series names the node it came from.
    expect(metrics).toContain(`darkroom_jobs_queued{node="${node}"}`);
    for (const name of ['darkroom_uploads_total', 'darkroom_jobs_queued', 'darkroom_processing_seconds']) {
      expect(metrics).toContain(name);
    }
    expect(metrics).toMatch(/darkroom_uploads_total\{outcome="accepted"[^}]*\} [1-9]/);
  });

  it('leaves no temp files behind after all of the above', async () => {
    expect(fs.readdirSync(path.join(t.dataDir, 'tmp'))).toEqual([]);
  });
});
