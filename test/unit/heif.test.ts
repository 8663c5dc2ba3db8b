import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { MalformedHeif, orientationOf, readHeifLayout } from '../../workers/heif/layout.js';
import { writeTiff } from '../../workers/heif/tiff.js';
import { box, gridData, imir, irot, ispe, transformsFor, writeHeif } from '../helpers/heic.js';
import { tempDirs } from '../helpers/server.js';

const dirs = tempDirs('darkroom-heif-unit-');
const hvcC = box('hvcC', Buffer.alloc(23));

function layoutOf(heic: Buffer) {
  const file = path.join(dirs(), 'x.heic');
  fs.writeFileSync(file, heic);
  return readHeifLayout(file);
}

const single = (properties: Buffer[]) => writeHeif({ items: [{ id: 1, type: 'hvc1', data: Buffer.alloc(16), properties: [hvcC, ...properties] }], primary: 1 });

describe('HEIF layout', () => {
  it.each([1, 2, 3, 4, 5, 6, 7, 8])('reads the transforms that display EXIF orientation %i as that orientation', async (orientation) => {
    const layout = await layoutOf(single([ispe(640, 480), ...transformsFor(orientation)]));
    expect(layout.codedSize).toEqual({ width: 640, height: 480 });
    expect(orientationOf(layout.transforms)).toBe(orientation);
  });

  it.each([
    ['an anticlockwise quarter turn', [irot(1)], 8],
    ['a clockwise quarter turn', [irot(3)], 6],
    ['a mirror swapping top and bottom', [imir(0)], 4],
    ['a half turn, then top and bottom swapped', [irot(2), imir(0)], 2],
    ['a mirror first, then a turn (not MIAF order, still defined)', [imir(1), irot(3)], 7],
    ['two turns adding up to a whole one', [irot(1), irot(3)], 1],
  ])('composes %s', async (_name, transforms, orientation) => {
    expect(orientationOf((await layoutOf(single([ispe(8, 8), ...transforms]))).transforms)).toBe(orientation);
  });

  it('reads an ICC profile, or nclx code points, of the primary item only', async () => {
    const icc = Buffer.from('a profile');
    const nclx = box('colr', Buffer.from('nclx'), Buffer.from([0, 12, 0, 13, 0, 1, 0x80]));
    const heic = writeHeif({
      items: [
        { id: 1, type: 'hvc1', data: Buffer.alloc(4), properties: [hvcC, ispe(8, 8), box('colr', Buffer.from('prof'), icc)] },
        { id: 2, type: 'hvc1', data: Buffer.alloc(4), properties: [hvcC, ispe(8, 8), nclx] },
      ],
      primary: 2,
    });
    expect((await layoutOf(heic)).colour).toEqual({ nclx: { primaries: 12, transfer: 13, matrix: 1, fullRange: true } });
    const both = single([ispe(8, 8), nclx, box('colr', Buffer.from('prof'), icc)]);
    expect((await layoutOf(both)).colour).toEqual({ icc });
  });

  it('takes a grid size from its ispe, and refuses a grid whose own description says another', async () => {
    const grid = (w: number, h: number) =>
      writeHeif({
        items: [
          { id: 1, type: 'grid', data: gridData(1, 2, w, h), properties: [ispe(500, 300)] },
          { id: 2, type: 'hvc1', data: Buffer.alloc(4), properties: [hvcC, ispe(256, 300)], hidden: true },
          { id: 3, type: 'hvc1', data: Buffer.alloc(4), properties: [hvcC, ispe(256, 300)], hidden: true },
        ],
        primary: 1,
        references: [{ type: 'dimg', from: 1, to: [2, 3] }],
      });
    expect(await layoutOf(grid(500, 300))).toMatchObject({ itemType: 'grid', codedSize: { width: 500, height: 300 } });
    await expect(layoutOf(grid(60_000, 60_000))).rejects.toThrow(/grid describes 60000×60000 pixels but its ispe says 500×300/);
  });

  it('refuses boxes that run past what contains them, and references to nothing', async () => {
    const good = single([ispe(8, 8)]);
    const meta = good.readUInt32BE(0);
    const longMeta = Buffer.from(good);
    longMeta.writeUInt32BE(good.length, meta);
    await expect(layoutOf(longMeta)).rejects.toThrow(MalformedHeif);
    await expect(layoutOf(good.subarray(0, meta + 20))).rejects.toThrow(MalformedHeif);
    const badIndex = Buffer.from(good);
    const ipma = badIndex.indexOf('ipma');
    badIndex[ipma + 4 + 4 + 4 + 2 + 1] = 0x80 | 0x7f;
    await expect(layoutOf(badIndex)).rejects.toThrow(/refers to property 127/);
    await expect(layoutOf(single([box('ispe')]))).rejects.toThrow(/ispe box is too short/);
    await expect(layoutOf(Buffer.from('\0\0\0\x18ftypheic\0\0\0\0mif1heic'))).rejects.toThrow(/no meta box/);
  });

  it('never throws anything but MalformedHeif on random damage to a real layout', async () => {
    const source = single([ispe(640, 480), irot(1), box('colr', Buffer.from('prof'), Buffer.alloc(64, 7))]);
    const meta = source.readUInt32BE(0);
    for (let i = 0; i < 300; i++) {
      const bytes = Buffer.from(source);
      for (let n = 0; n < 4; n++) bytes[meta + crypto.randomInt(bytes.length - meta)]! ^= 1 << crypto.randomInt(8);
      await layoutOf(bytes).catch((err) => expect(err, String(err)).toBeInstanceOf(MalformedHeif));
    }
  });
});

describe('the decoded copy (uncompressed TIFF)', () => {
  it.each([
    ['RGB', 3, 3],
    ['RGBA', 4, 4],
    ['RGB kept from RGBA', 3, 4],
  ] as const)('holds %s pixels from a padded buffer, the ICC profile and the orientation', async (_name, channels, sourceChannels) => {
    const width = 301; // odd sizes, several strips, rows padded in the source
    const height = 977;
    const stride = width * sourceChannels + 5;
    const pixels = crypto.randomBytes(stride * height);
    const icc = (await sharp((await sharp({ create: { width: 1, height: 1, channels: 3, background: '#000' } }).withIccProfile('p3').png().toBuffer())).metadata()).icc!;
    const file = path.join(dirs(), 'decoded.tif');
    writeTiff(file, { width, height, channels, sourceChannels, pixels, stride, icc, orientation: 7 });

    const meta = await sharp(file).metadata();
    expect(meta).toMatchObject({ format: 'tiff', width, height, channels, orientation: 7, depth: 'uchar' });
    expect(meta.icc?.equals(icc)).toBe(true);
    // The pixels as stored: sharp would otherwise convert them from their profile to sRGB.
    const { data } = await sharp(file, { ignoreIcc: true }).raw().toBuffer({ resolveWithObject: true });
    for (const [x, y] of [[0, 0], [300, 0], [17, 500], [300, 976]] as const) {
      for (let c = 0; c < channels; c++) expect(data[(y * width + x) * channels + c]).toBe(pixels[y * stride + x * sourceChannels + c]);
    }
  });
});
