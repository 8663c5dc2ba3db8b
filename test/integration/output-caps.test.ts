import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { solid } from '../helpers/images.js';
import { TusClient } from '../helpers/tus.js';
import { listFiles, startTestServer, tempDir, type ApiClient, type TestServer } from '../helpers/server.js';

/** The request that took 21 s and 1.66 GB before there were caps. */
const AVIF_8192_SQUARE = JSON.stringify([{ name: 'huge', width: 8192, height: 8192, format: 'avif' }]);
const TOO_WIDE = JSON.stringify([{ name: 'wide', width: 9000, height: 100 }]);
const OVER_PIXELS = JSON.stringify([{ name: 'big', width: 8192, height: 8000, fit: 'cover', format: 'jpeg' }]);

describe('output caps on requests', () => {
  let t: TestServer;
  let user: ApiClient;
  let png: Buffer;
  const outside = tempDir('darkroom-caps-import-');

  beforeAll(async () => {
    t = await startTestServer();
    user = await t.client('user', 'caps');
    png = await solid(10, 9, 'png');
  });
  afterAll(async () => {
    await t.close();
    fs.rmSync(outside, { recursive: true, force: true });
  });

  const expectCapRefusal = (res: { status: number; body: any }, names: RegExp) => {
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
    expect(res.body.error.message).toMatch(names);
  };

  it('refuses variants over a cap with 400 naming it: form field, query, tus metadata and import alike, leaving nothing', async () => {
    expectCapRefusal(await user.upload([{ name: 'a.png', data: png, type: 'image/png' }], { variants: AVIF_8192_SQUARE }), /over the AVIF limit of 12000000 pixels/);
    expectCapRefusal(await user.upload([{ name: 'a.png', data: png, type: 'image/png' }], { variants: OVER_PIXELS }), /over the limit of 40000000 pixels per variant \(--max-output-pixels\)/);
    expectCapRefusal(await user.upload([{ name: 'a.png', data: png, type: 'image/png' }], {}, `?variants=${encodeURIComponent(TOO_WIDE)}`), /at most 8192 pixels a side/);

    const tus = await new TusClient(user).create(png.length, { filename: 'a.png', variants: AVIF_8192_SQUARE });
    expectCapRefusal(tus, /over the AVIF limit/);

    const file = path.join(outside, 'local.png');
    fs.writeFileSync(file, png);
    expectCapRefusal(await t.admin.json('POST', '/v1/image/import', { paths: [file], variants: JSON.parse(OVER_PIXELS) }), /--max-output-pixels/);

    expect((await t.admin.json('GET', '/v1/images')).body.items).toEqual([]);
    expect(listFiles(path.join(t.dataDir, 'originals'))).toEqual([]);
    expect(listFiles(path.join(t.dataDir, 'uploads'))).toEqual([]);
  });
});

describe('output caps on sizes that follow the source', () => {
  const MAX = 1_000_000;
  let t: TestServer;
  let user: ApiClient;

  beforeAll(async () => {
    t = await startTestServer({ config: { maxOutputPixels: String(MAX) } });
    user = await t.client('user', 'clamp');
  });
  afterAll(() => t.close());

  /** Uploads `source` with `variants`, waits for it, and returns each variant's real size. */
  async function made(source: Buffer, variants: object[]) {
    const res = await user.upload([{ name: 'src.png', data: source, type: 'image/png' }], { variants: JSON.stringify(variants) });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const done = await user.waitFor(res.body.id);
    expect(done.status, JSON.stringify(done.error)).toBe('done');
    const sizes: Record<string, { width: number; height: number }> = {};
    for (const v of done.variants) {
      const file = await user.download(res.body.id, v.name);
      const meta = await sharp(file.body).metadata();
      expect([meta.width, meta.height]).toEqual([v.width, v.height]); // the record tells the truth
      sizes[v.name] = { width: v.width, height: v.height };
    }
    return sizes;
  }

  const expectWithin = (size: { width: number; height: number }, aspect: number) => {
    expect(size.width).toBeLessThanOrEqual(8192);
    expect(size.height).toBeLessThanOrEqual(8192);
    expect(size.width * size.height).toBeLessThanOrEqual(MAX);
    // The aspect ratio is kept, to the pixel.
    expect(Math.abs(size.width - size.height * aspect)).toBeLessThanOrEqual(1);
  };

  it('scales a conversion at full size, a one-sided enlargement and an `outside` fit down to the caps, keeping their shape', async () => {
    const sizes = await made(await solid(2000, 1500, 'png'), [
      { name: 'full', format: 'png' },
      { name: 'wide', width: 3000, withoutEnlargement: false },
      { name: 'out', width: 1000, height: 900, fit: 'outside', format: 'avif' },
      { name: 'small', width: 400 },
    ]);
    for (const name of ['full', 'wide', 'out']) expectWithin(sizes[name]!, 4 / 3);
    expect(sizes.full!.width * sizes.full!.height).toBeGreaterThan(0.99 * MAX); // scaled to the cap, not below it
    expect(sizes.small).toEqual({ width: 400, height: 300 }); // within the caps: untouched
  });

  it('keeps a tall source within 8192 pixels a side and the pixel cap', async () => {
    const sizes = await made(await solid(60, 1000, 'png'), [{ name: 'tall', width: 600, withoutEnlargement: false, format: 'jpeg' }]);
    expectWithin(sizes.tall!, 60 / 1000);
  });
});
