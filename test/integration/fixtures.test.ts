import fs from 'node:fs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, fixture, orientedJpeg, pixelAt } from '../helpers/images.js';
import { startTestServer, type ApiClient, type TestServer } from '../helpers/server.js';

let t: TestServer;
let user: ApiClient;

beforeAll(async () => {
  t = await startTestServer();
  user = await t.client('user', 'fixtures');
});
afterAll(() => t.close());

/** Fixtures that are not an image Darkroom can decode, and must be refused with 415. */
const REFUSED = new Set(['imgproxy-bmp-invalid-bpp.bmp']);

/** Where a displayed pixel comes from in the stored image, for each EXIF orientation. */
function sourceOf(orientation: number, x: number, y: number, w: number, h: number): [number, number] {
  switch (orientation) {
    case 2: return [w - 1 - x, y];
    case 3: return [w - 1 - x, h - 1 - y];
    case 4: return [x, h - 1 - y];
    case 5: return [y, x];
    case 6: return [y, h - 1 - x];
    case 7: return [w - 1 - y, h - 1 - x];
    case 8: return [w - 1 - y, x];
    default: return [x, y];
  }
}

/** Mean absolute difference per channel between two RGB images of the same size. */
function difference(a: Buffer, b: Buffer): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

describe('every shared fixture', () => {
  const names = fs.readdirSync(FIXTURES).sort();

  it.each(names)('%s is processed or refused with 415', async (name) => {
    const res = await user.upload([{ name, data: fixture(name) }]);
    if (REFUSED.has(name)) {
      expect(res.status).toBe(415);
      expect(res.body.error.code).toBe('unsupported_media_type');
      return;
    }
    expect(res.status).toBe(202);
    const done = await user.waitFor(res.body.id);
    expect(done.status, JSON.stringify(done.error)).toBe('done');
    for (const variant of ['thumb', 'display']) {
      const file = await user.download(res.body.id, variant);
      expect(file.status).toBe(200);
      const meta = await sharp(file.body).metadata();
      expect(meta.format).toBe('webp');
      expect(meta.exif).toBeUndefined();
      expect(Math.max(meta.width!, meta.pageHeight ?? meta.height!)).toBeLessThanOrEqual(variant === 'thumb' ? 320 : 2048);
    }
  });

  it.each(names.filter((n) => n.startsWith('imgproxy-orientation-')))(
    '%s comes out the way its EXIF orientation says it is displayed (checked pixel by pixel)',
    async (name) => {
      const input = fixture(name);
      const orientation = (await sharp(input).metadata()).orientation ?? 1;
      const stored = await sharp(input).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      const { width: w, height: h } = stored.info;
      const turned = orientation >= 5;
      const [dw, dh] = turned ? [h, w] : [w, h];
      const expected = Buffer.alloc(dw * dh * 3);
      for (let y = 0; y < dh; y++) {
        for (let x = 0; x < dw; x++) {
          const [sx, sy] = sourceOf(orientation, x, y, w, h);
          stored.data.copy(expected, (y * dw + x) * 3, (sy * w + sx) * 3, (sy * w + sx) * 3 + 3);
        }
      }

      const res = await user.upload([{ name, data: input }]);
      await user.waitFor(res.body.id);
      const display = await user.download(res.body.id, 'display');
      const out = await sharp(display.body).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      expect([out.info.width, out.info.height]).toEqual([dw, dh]);
      expect(difference(out.data, expected)).toBeLessThan(6);
      if (!turned && difference(expected, stored.data) > 10) {
        // Not trivially true: the stored pixels, not re-oriented, are clearly different.
        expect(difference(out.data, stored.data)).toBeGreaterThan(10);
      }
    },
  );

  it.each([3, 6, 8] as const)('a phone JPEG with orientation %i comes out upright', async (orientation) => {
    const res = await user.upload([{ name: `phone-${orientation}.jpg`, data: await orientedJpeg(orientation) }]);
    await user.waitFor(res.body.id);
    const display = await user.download(res.body.id, 'display');
    const meta = await sharp(display.body).metadata();
    expect([meta.width, meta.height]).toEqual([300, 200]);
    const [r, , b] = await pixelAt(display.body, 20, 20); // top left: red
    expect(r).toBeGreaterThan(200);
    expect(b).toBeLessThan(60);
    const [r2, , b2] = await pixelAt(display.body, 280, 180); // bottom right: blue
    expect(r2).toBeLessThan(60);
    expect(b2).toBeGreaterThan(200);
  });
});
