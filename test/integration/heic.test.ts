import sharp, { type Sharp } from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codedImage, gridData, heifEnc, ispe, needsHeifEnc, HAS_HEIF_ENC, transformsFor, withTransforms, writeHeif } from '../helpers/heic.js';
import { cameraExif } from '../helpers/images.js';
import fs from 'node:fs';
import path from 'node:path';
import { startTestServer, tempDirs, type ApiClient, type TestServer } from '../helpers/server.js';
import { TusClient } from '../helpers/tus.js';

/**
 * HEVC-coded HEICs, made by libheif's own encoder from JPEGs (and PNGs) made here, through a real
 * server: each processed like the JPEG it came from, upright, in sRGB, with the same EXIF and GPS.
 * The pictures are four coloured quadrants, so a turned or mirrored result shows in the pixels.
 */
const WIDTH = 192;
const HEIGHT = 128;
const QUADRANTS = { topLeft: [210, 40, 40], topRight: [40, 170, 60], bottomLeft: [40, 60, 200], bottomRight: [225, 200, 40] } as const;
const VARIANTS = JSON.stringify([{ name: 'v', width: 96, format: 'png' }]);

/** Inverse of each EXIF orientation's transform, as separate steps: what to store so the tag shows it upright. */
const UNDO: Record<number, Array<(s: Sharp) => Sharp>> = {
  1: [],
  2: [(s) => s.flop()],
  3: [(s) => s.rotate(180)],
  4: [(s) => s.flip()],
  5: [(s) => s.rotate(90), (s) => s.flop()],
  6: [(s) => s.rotate(270)],
  7: [(s) => s.rotate(270), (s) => s.flop()],
  8: [(s) => s.rotate(90)],
};

async function upright(width = WIDTH, height = HEIGHT, alpha = false): Promise<Buffer> {
  const quadrant = (c: readonly number[]) => ({ create: { width: width / 2, height: height / 2, channels: 3 as const, background: { r: c[0]!, g: c[1]!, b: c[2]! } } });
  let image = sharp({ create: { width, height, channels: alpha ? 4 : 3, background: { r: 0, g: 0, b: 0, alpha: alpha ? 0 : 1 } } }).composite([
    { input: quadrant(QUADRANTS.topLeft), left: 0, top: 0 },
    { input: quadrant(QUADRANTS.topRight), left: width / 2, top: 0 },
    { input: quadrant(QUADRANTS.bottomLeft), left: 0, top: height / 2 },
    ...(alpha ? [] : [{ input: quadrant(QUADRANTS.bottomRight), left: width / 2, top: height / 2 }]),
  ]);
  return await image.png().toBuffer();
}

/** A camera JPEG of the upright picture stored so that EXIF orientation `n` displays it, in Display P3. */
async function orientedP3Jpeg(orientation: number): Promise<Buffer> {
  let stored = await upright();
  for (const step of UNDO[orientation]!) stored = await step(sharp(stored)).png().toBuffer();
  const jpeg = await sharp(stored).withExif(cameraExif()).withMetadata({ orientation }).withIccProfile('p3').jpeg({ quality: 95 }).toBuffer();
  // The helper's own check: auto-orienting the JPEG gives the upright picture back.
  await expectUpright(await sharp(jpeg).rotate().toColourspace('srgb').png().toBuffer());
  return jpeg;
}

/** The picture's quadrants are where they belong, their colours within `tolerance` in sRGB. */
async function expectUpright(png: Buffer, tolerance = 14, opaqueBottomRight = true): Promise<void> {
  const { data, info } = await sharp(png).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const at = (fx: number, fy: number) => {
    const i = (Math.floor(fy * info.height) * info.width + Math.floor(fx * info.width)) * 4;
    return [data[i]!, data[i + 1]!, data[i + 2]!, data[i + 3]!];
  };
  const expectNear = (got: number[], want: readonly number[], where: string) => {
    const off = Math.max(...want.map((w, c) => Math.abs(w - got[c]!)));
    expect(off, `${where}: got ${got.join(',')}, want ${want.join(',')}`).toBeLessThanOrEqual(tolerance);
  };
  expectNear(at(0.25, 0.25), QUADRANTS.topLeft, 'top left');
  expectNear(at(0.75, 0.25), QUADRANTS.topRight, 'top right');
  expectNear(at(0.25, 0.75), QUADRANTS.bottomLeft, 'bottom left');
  if (opaqueBottomRight) expectNear(at(0.75, 0.75), QUADRANTS.bottomRight, 'bottom right');
  else expect(at(0.75, 0.75)[3], 'bottom right is transparent').toBe(0);
}

/** Mean absolute difference of two images' pixels, 0–255. */
async function meanDifference(a: Buffer, b: Buffer): Promise<number> {
  const one = await sharp(a).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const two = await sharp(b).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  expect([two.info.width, two.info.height]).toEqual([one.info.width, one.info.height]);
  let sum = 0;
  for (let i = 0; i < one.data.length; i++) sum += Math.abs(one.data[i]! - two.data[i]!);
  return sum / one.data.length;
}

const importDirs = tempDirs('darkroom-heic-import-');
let t: TestServer | undefined;
let user: ApiClient;
beforeAll(async () => {
  t = await startTestServer();
  user = await t.client('user', 'phones');
});
afterAll(() => t?.close());

async function processed(bytes: Buffer, name: string) {
  const res = await user.upload([{ name, data: bytes }], { variants: VARIANTS });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  const record = await user.waitFor(res.body.id, ['done', 'failed'], 60_000);
  expect(record.status, JSON.stringify(record.error)).toBe('done');
  const variant = await user.download(record.id, 'v');
  expect(variant.status).toBe(200);
  const metadata = await user.json('GET', `/v1/image/${record.id}/metadata`);
  await waitForMetadata(record.id, metadata);
  return { record, variant: variant.body, metadata: (await user.json('GET', `/v1/image/${record.id}/metadata`)).body };
}

async function waitForMetadata(id: string, first: { body: { extracted: boolean } }) {
  let body = first.body;
  const deadline = Date.now() + 20_000;
  while (!body.extracted && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    body = (await user.json('GET', `/v1/image/${id}/metadata`)).body;
  }
  expect(body.extracted).toBe(true);
}

describe.skipIf(!HAS_HEIF_ENC)(`HEIC photos${needsHeifEnc}`, () => {
  it.each([1, 2, 3, 4, 5, 6, 7, 8])(
    'a HEIC made from a Display P3 JPEG with EXIF orientation %i, GPS and camera EXIF comes out upright, in sRGB, with the same EXIF and GPS',
    async (orientation) => {
      const jpeg = await orientedP3Jpeg(orientation);
      const heic = heifEnc(jpeg, 'jpg');
      const [fromJpeg, fromHeic] = await Promise.all([processed(jpeg, 'photo.jpg'), processed(heic, 'photo.heic')]);

      await expectUpright(fromHeic.variant);
      expect(await meanDifference(fromHeic.variant, fromJpeg.variant)).toBeLessThan(3);
      expect(await sharp(fromHeic.variant).metadata().then((m) => [m.space, m.hasProfile ?? false])).toEqual(['srgb', false]);

      expect(fromHeic.record).toMatchObject({ format: 'heif', mimeType: 'image/heif', width: fromJpeg.record.width, height: fromJpeg.record.height });
      expect(fromHeic.metadata).toMatchObject({ format: 'heif', mimeType: 'image/heif', orientation, width: fromJpeg.metadata.width, height: fromJpeg.metadata.height });
      expect(fromHeic.metadata.exif).toEqual(fromJpeg.metadata.exif);
      expect(fromHeic.metadata.gps).toEqual(fromJpeg.metadata.gps);
      expect(fromHeic.metadata.gps).not.toBeNull();
      expect(fromHeic.metadata.iccDescription).toBe(fromJpeg.metadata.iccDescription);

      const original = await user.download(fromHeic.record.id, 'original');
      expect(original.body.equals(heic)).toBe(true);
      expect(original.headers.get('content-type')).toBe('image/heif');
      expect(original.headers.get('content-disposition')).toContain('photo.heic');
    },
    60_000,
  );

  it.each([2, 3, 5, 6, 7, 8])(
    'a HEIC laid out as iPhones do, irot/imir and an EXIF orientation (%i) saying the same, is turned once',
    async (orientation) => {
      const jpeg = await orientedP3Jpeg(orientation);
      const iphoneLike = withTransforms(codedImage(heifEnc(jpeg, 'jpg')), transformsFor(orientation));
      const [fromJpeg, fromHeic] = await Promise.all([processed(jpeg, 'photo.jpg'), processed(iphoneLike, 'IMG_0001.HEIC')]);
      await expectUpright(fromHeic.variant);
      expect(await meanDifference(fromHeic.variant, fromJpeg.variant)).toBeLessThan(3);
      // The record, like a JPEG's, gives the size as stored and the orientation that shows it.
      expect(fromHeic.metadata).toMatchObject({ orientation, width: fromJpeg.metadata.width, height: fromJpeg.metadata.height });
      expect(fromHeic.metadata.exif).toEqual(fromJpeg.metadata.exif);
    },
    60_000,
  );

  it('a grid-tiled HEIC (2×2 tiles cropped to the picture, as phones write them) comes out whole and upright', async () => {
    const whole = await upright(256, 192);
    const tileWidth = 128;
    const tileHeight = 96;
    const tiles: Buffer[] = [];
    for (const [left, top] of [[0, 0], [tileWidth, 0], [0, tileHeight], [tileWidth, tileHeight]] as const) {
      const tile = await sharp(whole).extract({ left, top, width: tileWidth, height: tileHeight }).withIccProfile('p3').jpeg({ quality: 95 }).toBuffer();
      tiles.push(heifEnc(tile, 'jpg'));
    }
    const coded = tiles.map(codedImage);
    const colr = coded[0]!.properties.find((p) => p.toString('latin1', 4, 8) === 'colr')!;
    const [width, height] = [250, 186]; // the grid crops the tiles' right and bottom edges
    const heic = writeHeif({
      items: [
        { id: 1, type: 'grid', data: gridData(2, 2, width, height), properties: [ispe(width, height), colr] },
        ...coded.map((c, i) => ({ id: 2 + i, type: 'hvc1' as const, data: c.data, properties: c.properties, hidden: true })),
      ],
      primary: 1,
      references: [{ type: 'dimg', from: 1, to: [2, 3, 4, 5] }],
    });
    const { record, variant } = await processed(heic, 'grid.heic');
    expect([record.width, record.height]).toEqual([width, height]);
    expect(record.variants[0].width).toBe(96);
    expect(Math.abs(record.variants[0].height - (96 * height) / width)).toBeLessThan(1);
    await expectUpright(variant);
    // The tiles meet where they should: the cropped picture equals the same crop of the JPEG.
    const reference = await sharp(whole).extract({ left: 0, top: 0, width, height }).resize({ width: 96, height: record.variants[0].height, fit: 'fill' }).png().toBuffer();
    expect(await meanDifference(variant, reference)).toBeLessThan(4);
  }, 60_000);

  it('a 10-bit HEIC (from a 16-bit PNG) comes out as its 8-bit picture', async () => {
    const png16 = await sharp(await upright()).toColourspace('rgb16').png().toBuffer();
    expect((await sharp(png16).metadata()).depth).toBe('ushort');
    const heic = heifEnc(png16, 'png', ['-b', '10']);
    expect((await sharp(heic).metadata()).bitsPerSample).toBe(10);
    const { variant, metadata } = await processed(heic, 'ten-bit.heic');
    await expectUpright(variant);
    expect(metadata.format).toBe('heif');
  }, 60_000);

  it('a HEIC with an alpha channel keeps its transparency', async () => {
    const heic = heifEnc(await upright(WIDTH, HEIGHT, true), 'png');
    expect((await sharp(heic).metadata()).hasAlpha).toBe(true);
    const { variant, metadata } = await processed(heic, 'alpha.heic');
    expect((await sharp(variant).metadata()).hasAlpha).toBe(true);
    await expectUpright(variant, 14, false);
    expect(metadata.hasAlpha).toBe(true);
  }, 60_000);

  it('a HEIC arrives as a raw body, by tus and by import from a path, and is processed alike', async () => {
    const heic = heifEnc(await orientedP3Jpeg(6), 'jpg');
    const raw = await user.uploadRaw(heic, 'IMG_0002.HEIC');
    expect(raw.status, JSON.stringify(raw.body)).toBe(202);

    const tus = new TusClient(user);
    const { location } = await tus.create(heic.length, { filename: 'IMG_0003.HEIC' });
    const patched = await tus.patch(location!, 0, heic);
    expect(patched.status).toBe(204);
    const tusId = patched.headers.get('darkroom-image-id')!;

    const folder = importDirs();
    const file = path.join(folder, 'IMG_0004.HEIC');
    fs.writeFileSync(file, heic);
    const imported = await t!.admin.json('POST', '/v1/image/import', { paths: [file], variants: JSON.parse(VARIANTS) });
    expect(imported.status, JSON.stringify(imported.body)).toBe(202);

    for (const [client, id] of [[user, raw.body.id], [user, tusId], [t!.admin, imported.body.id]] as const) {
      const record = await client.waitFor(id);
      expect(record, JSON.stringify(record.error)).toMatchObject({ status: 'done', format: 'heif', width: HEIGHT, height: WIDTH });
      const variant = await client.download(id, record.variants.find((v: { name: string }) => v.name === 'v') ? 'v' : 'display');
      await expectUpright(await sharp(variant.body).png().toBuffer());
    }
  }, 60_000);

  it('a HEIC of several images is made from its primary image, wherever it is in the file', async () => {
    const red = codedImage(heifEnc(await sharp({ create: { width: 64, height: 64, channels: 3, background: '#d02020' } }).jpeg().toBuffer(), 'jpg'));
    const picture = codedImage(heifEnc(await sharp(await upright()).jpeg({ quality: 95 }).toBuffer(), 'jpg'));
    const heic = writeHeif({
      items: [
        { id: 1, type: 'hvc1', data: red.data, properties: red.properties },
        { id: 2, type: 'hvc1', data: picture.data, properties: picture.properties },
      ],
      primary: 2,
    });
    const { record, variant } = await processed(heic, 'burst.heic');
    expect([record.width, record.height, record.pages]).toEqual([WIDTH, HEIGHT, 1]);
    await expectUpright(variant);
  }, 60_000);
});
