import fs from 'node:fs';
import type { ExifTool } from 'exiftool-vendored';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pixelAt } from '../helpers/images.js';
import { exiftoolChildren, previewJpeg, RAW_FIXTURES, rawFixture, rawWithPreview, testExifTool } from '../helpers/raw.js';
import { startTestServer, tempDirs, type ApiClient, type TestServer } from '../helpers/server.js';

const tempDir = tempDirs('darkroom-raw-');
let exiftool: ExifTool;
let t: TestServer;
let user: ApiClient;
let work: string;

beforeAll(async () => {
  exiftool = testExifTool();
  work = tempDir();
  t = await startTestServer();
  user = await t.client('user', 'studio');
});
afterAll(async () => {
  await t?.close();
  await exiftool?.end();
});

const GPS = { latitude: -33.856784, longitude: 151.215297, altitude: 12.5 };

/**
 * A DNG and four makers' formats with a real preview written in (ExifTool can write one into
 * these), each with another orientation; the MRW's preview says 6 in its own EXIF, which must
 * not count.
 */
const WITH_PREVIEW = [
  { fixture: 'DNG.dng', rawFormat: 'dng', mime: 'image/x-adobe-dng', tag: 'PreviewImage', orientation: 6 },
  { fixture: 'CanonRaw.cr2', rawFormat: 'cr2', mime: 'image/x-canon-cr2', tag: 'PreviewImage', orientation: 8 },
  { fixture: 'Panasonic.rw2', rawFormat: 'rw2', mime: 'image/x-panasonic-rw2', tag: 'JpgFromRaw', orientation: 3 },
  { fixture: 'Minolta.mrw', rawFormat: 'mrw', mime: 'image/x-minolta-mrw', tag: 'PreviewImage', orientation: 1, ownOrientation: 6 },
  // CRW holds no EXIF: ExifTool would put a GPS position in XMP, without its hemisphere.
  { fixture: 'CanonRaw.crw', rawFormat: 'crw', mime: 'image/x-canon-crw', tag: 'JpgFromRaw', orientation: 1, noGps: true },
] as const;

/** Stripped files whose previews are stubs of a few bytes (or absent): nothing to make variants from. */
const STUB_PREVIEWS = [
  { fixture: 'CanonRaw.cr3', rawFormat: 'cr3' },
  { fixture: 'Nikon.nef', rawFormat: 'nef' }, // a TIFF to file-type: told apart by ExifTool
  { fixture: 'PhaseOne.iiq', rawFormat: 'iiq' }, // likewise
  { fixture: 'Sigma.x3f', rawFormat: 'x3f' },
];

/** The metadata the API must give for a file, as ExifTool itself reads it. */
async function expectedMetadata(file: string) {
  const tags = (await exiftool.readRaw(file, {
    readArgs: ['-Make', '-Model', '-LensModel', '-Lens', '-DateTimeOriginal', '-ExposureTime#', '-FNumber#', '-ISO#', '-FocalLength#', '-Orientation#', '-ImageSize#', '-GPSLatitude#', '-GPSLongitude#', '-GPSAltitude#'],
  })) as Record<string, any>;
  const [width, height] = String(tags.ImageSize).split(' ').map(Number);
  const iso = (d: string) => d.replace(/^(\d{4}):(\d{2}):(\d{2}) /, '$1-$2-$3T');
  return {
    width,
    height,
    orientation: tags.Orientation ?? 1,
    make: tags.Make,
    model: tags.Model,
    lensModel: tags.LensModel ?? tags.Lens,
    dateTimeOriginal: tags.DateTimeOriginal ? iso(String(tags.DateTimeOriginal)) : undefined,
    exposureTime: tags.ExposureTime,
    fNumber: tags.FNumber,
    iso: tags.ISO,
    focalLength: tags.FocalLength,
    gps: tags.GPSLatitude === undefined ? null : { latitude: tags.GPSLatitude, longitude: tags.GPSLongitude, altitude: tags.GPSAltitude ?? null },
  };
}

async function expectMetadataAsExifToolReads(id: string, file: string) {
  const want = await expectedMetadata(file);
  const { body: meta } = await user.json('GET', `/v1/image/${id}/metadata`);
  expect(meta.extracted).toBe(true);
  expect(meta.format).toBe('raw');
  expect({ width: meta.width, height: meta.height, orientation: meta.orientation }).toEqual({ width: want.width, height: want.height, orientation: want.orientation });
  const exif = meta.exif ?? {};
  for (const key of ['make', 'model', 'lensModel', 'dateTimeOriginal', 'exposureTime', 'fNumber', 'iso', 'focalLength'] as const) {
    expect(exif[key], key).toEqual(want[key]);
  }
  expect(meta.gps).toEqual(want.gps);
  return meta;
}

describe('camera RAWs with a real embedded preview', () => {
  it.each(WITH_PREVIEW)('$fixture: variants from its preview, upright by the RAW orientation $orientation, metadata as ExifTool reads it', async (c) => {
    const preview = await previewJpeg(c.orientation, 600, 400, 'ownOrientation' in c ? c.ownOrientation : undefined);
    const gps = 'noGps' in c ? undefined : GPS;
    const bytes = await rawWithPreview(exiftool, work, { fixture: c.fixture, tag: c.tag, orientation: c.orientation, preview, gps });
    const file = `${work}/${c.tag}-${c.orientation}-${c.fixture}`;

    const res = await user.uploadRaw(bytes, c.fixture);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body).toMatchObject({ format: 'raw', rawFormat: c.rawFormat, mimeType: c.mime, preview: null });

    const done = await user.waitFor(res.body.id);
    expect(done.status, JSON.stringify(done.error)).toBe('done');
    // The preview is 600×400 upright; the variants asked for up to 2048 and stop at it.
    expect(done.preview).toEqual({ width: 600, height: 400 });
    const display = done.variants.find((v: any) => v.name === 'display');
    expect({ width: display.width, height: display.height }).toEqual({ width: 600, height: 400 });
    const file2 = await user.download(res.body.id, 'display');
    const [r1, , b1] = await pixelAt(file2.body, 30, 30);
    expect({ r1, b1 }).toEqual({ r1: expect.toSatisfy((r: number) => r > 200), b1: expect.toSatisfy((b: number) => b < 60) });
    const [r2, , b2] = await pixelAt(file2.body, 570, 370);
    expect({ r2, b2 }).toEqual({ r2: expect.toSatisfy((r: number) => r < 60), b2: expect.toSatisfy((b: number) => b > 200) });

    const meta = await expectMetadataAsExifToolReads(res.body.id, file);
    expect(meta.rawFormat).toBe(c.rawFormat);
    expect(meta.mimeType).toBe(c.mime);
    if (gps) expect(meta.gps).toMatchObject({ latitude: expect.closeTo(gps.latitude, 5), longitude: expect.closeTo(gps.longitude, 5) });

    // The original, byte for byte, under its own extension and media type.
    const original = await user.download(res.body.id, 'original');
    expect(original.status).toBe(200);
    expect(original.body.equals(bytes)).toBe(true);
    expect(original.headers.get('content-type')).toBe(c.mime);
    expect(original.headers.get('content-disposition')).toContain(c.fixture);
  });

  it('a RAF and an RW2 as the camera wrote them: from their own previews, never enlarged past them', async () => {
    for (const [fixture, rawFormat] of [['FujiFilm.raf', 'raf'], ['Panasonic.rw2', 'rw2']] as const) {
      const res = await user.upload([{ name: fixture, data: rawFixture(fixture) }]);
      expect(res.status).toBe(202);
      const done = await user.waitFor(res.body.id);
      expect(done.status, JSON.stringify(done.error)).toBe('done');
      expect(done.rawFormat).toBe(rawFormat);
      // What ExifTool extracts as the largest preview is what the variants were made from.
      const tag = fixture.endsWith('.raf') ? 'PreviewImage' : 'JpgFromRaw';
      const preview = await sharp(await exiftool.extractBinaryTagToBuffer(tag, `${RAW_FIXTURES}/${fixture}`)).metadata();
      expect(done.preview).toEqual({ width: preview.width, height: preview.height });
      for (const v of done.variants) expect({ width: v.width, height: v.height }).toEqual(done.preview);
      await expectMetadataAsExifToolReads(res.body.id, `${RAW_FIXTURES}/${fixture}`);
    }
  });

  it('a download name without the format extension gets it', async () => {
    const res = await user.uploadRaw(rawFixture('FujiFilm.raf'), 'from-card');
    const original = await user.download(res.body.id, 'original');
    expect(original.headers.get('content-disposition')).toContain('from-card.raf');
  });
});

describe('camera RAWs without a usable preview', () => {
  it.each(STUB_PREVIEWS)('$fixture is kept, with its metadata, and fails with no_preview', async (c) => {
    const bytes = rawFixture(c.fixture);
    const res = await user.upload([{ name: c.fixture, data: bytes }]);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body).toMatchObject({ format: 'raw', rawFormat: c.rawFormat });
    const failed = await user.waitFor(res.body.id);
    expect(failed.status).toBe('failed');
    expect(failed.error.code).toBe('no_preview');
    expect(failed.preview).toBeNull();
    await expectMetadataAsExifToolReads(res.body.id, `${RAW_FIXTURES}/${c.fixture}`);
    const original = await user.download(res.body.id, 'original');
    expect(original.body.equals(bytes)).toBe(true);
  });
});

describe('limits', () => {
  it('a preview over the pixel limit is not decoded: the image fails, the server serves on', async () => {
    const small = await startTestServer({ config: { maxInputPixels: '9000000' } });
    try {
      const client = await small.client('user', 'limits');
      // The DNG's photo is 3516×2328 (8.2 MP, within the limit); its preview claims 4000×3000.
      const big = await sharp({ create: { width: 4000, height: 3000, channels: 3, background: '#808080' } }).jpeg().toBuffer();
      const bytes = await rawWithPreview(exiftool, work, { fixture: 'DNG.dng', tag: 'PreviewImage', orientation: 1, preview: big });
      const res = await client.uploadRaw(bytes, 'big-preview.dng');
      expect(res.status).toBe(202);
      const failed = await client.waitFor(res.body.id);
      expect(failed.status).toBe('failed');
      expect(failed.error.message).toMatch(/pixel limit/);
      // A photo over the limit is refused at upload, from ExifTool's reading of its size.
      const tiny = await startTestServer({ config: { maxInputPixels: '1000000' } });
      try {
        const refused = await (await tiny.client('user', 'limits')).uploadRaw(rawFixture('FujiFilm.raf'), 'x.raf');
        expect(refused.status).toBe(422);
        expect(refused.body.error.code).toBe('pixel_limit_exceeded');
      } finally {
        await tiny.close();
      }
    } finally {
      await small.close();
    }
  });
});

describe('statistics', () => {
  it('count RAWs under format raw with the maker\'s format beside it', async () => {
    const business = await t.client('business', 'studio');
    const { body } = await business.json('GET', '/v1/stats?groupBy=format');
    const raw = body.groups.filter((g: any) => g.format === 'raw');
    expect(raw.map((g: any) => g.rawFormat).sort()).toEqual(expect.arrayContaining(['cr2', 'cr3', 'dng', 'nef', 'raf', 'rw2']));
    expect(raw.find((g: any) => g.rawFormat === 'cr3')).toMatchObject({ uploaded: 1, failed: 1 });
    expect(raw.find((g: any) => g.rawFormat === 'dng').processed).toBeGreaterThanOrEqual(1);
    const csv = await (await business.request('GET', '/v1/stats.csv?groupBy=format')).text();
    expect(csv.split('\r\n')[0]).toBe('format,rawFormat,uploaded,processed,failed,rejected,bytesIn,bytesOut,p50Ms,p95Ms');
    expect(csv).toContain('\r\nraw,cr3,1,0,1,');
  });
});

describe('ExifTool processes', () => {
  it('none is left once the server is closed', async () => {
    const other = await startTestServer();
    const client = await other.client('user', 'procs');
    const res = await client.uploadRaw(rawFixture('Panasonic.rw2'), 'p.rw2');
    await client.waitFor(res.body.id);
    await other.close();
    expect(exiftoolChildren(exiftool.pids)).toEqual([]);
    expect(fs.existsSync(RAW_FIXTURES)).toBe(true);
  });
});
