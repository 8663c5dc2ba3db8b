import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { processImage } from '../../workers/pipeline.js';
import { WEBP_MAX_PIXELS } from '../../workers/output-caps.js';
import type { ProcessTask, VariantSpec } from '../../workers/types.js';
import { orientedJpeg, pixelAt } from '../helpers/images.js';
import { tempDir } from '../helpers/server.js';
import { plainSvg } from '../../bench/lib/svg-documents.js';

const dir = tempDir('darkroom-paths-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/**
 * The worker decodes an original once into memory (small intermediates), into a temp TIFF
 * (8–40 MP) or not at all (streaming each variant, past 40 MP): each way must give the same
 * picture, upright and with its transparency.
 */
async function run(name: string, input: Buffer, format: string, specs: VariantSpec[], animated = false) {
  return (await runTask(name, input, format, specs, animated)).files;
}

async function runTask(name: string, input: Buffer, format: string, specs: VariantSpec[], animated = false) {
  const file = path.join(dir, `${name}.src`);
  fs.writeFileSync(file, input);
  const task: ProcessTask = {
    input: file,
    format,
    animated,
    maxInputPixels: 200_000_000,
    maxOutputPixels: 40_000_000,
    scratch: path.join(dir, `${name}.tif`),
    variants: specs.map((spec) => ({ spec, output: path.join(dir, `${name}-${spec.name}.${spec.format}`) })),
  };
  const result = await processImage(task);
  expect(result.ok, JSON.stringify(result)).toBe(true);
  expect(fs.existsSync(task.scratch)).toBe(false); // the intermediate does not outlive the task
  if (!result.ok) throw new Error('unreachable');
  return { result, files: Object.fromEntries(task.variants.map((v) => [v.spec.name, fs.readFileSync(v.output)])) };
}

const spec = (name: string, width: number, format: VariantSpec['format'] = 'png'): VariantSpec => ({ name, width, fit: 'inside', format, withoutEnlargement: true });

describe('decoding paths', () => {
  it('keep an EXIF-rotated photo upright, from memory, a temp TIFF and streaming', async () => {
    const photo = await orientedJpeg(6, 4000, 3000); // 12 MP
    const small = await run('memory', photo, 'jpeg', [spec('v', 400)]);
    const large = await run('tiff', photo, 'jpeg', [spec('v', 4000)]);
    for (const [image, w, h] of [[small.v!, 400, 300], [large.v!, 4000, 3000]] as const) {
      expect(await sharp(image).metadata()).toMatchObject({ width: w, height: h });
      const [r, , b] = await pixelAt(image, Math.round(w * 0.1), Math.round(h * 0.1)); // top left: red
      expect(r).toBeGreaterThan(200);
      expect(b).toBeLessThan(60);
      const [r2, , b2] = await pixelAt(image, Math.round(w * 0.9), Math.round(h * 0.9)); // bottom right: blue
      expect(r2).toBeLessThan(60);
      expect(b2).toBeGreaterThan(200);
    }
    // A wide crop of a 48 MP photo needs all of it: streamed. Its band runs across the middle,
    // where the red quarter ends.
    const band: VariantSpec = { name: 'band', width: 8000, height: 1000, fit: 'cover', format: 'jpeg', withoutEnlargement: true };
    const streamed = (await run('stream', await orientedJpeg(6, 8000, 6000), 'jpeg', [band])).band!;
    expect(await sharp(streamed).metadata()).toMatchObject({ width: 8000, height: 1000 });
    expect((await pixelAt(streamed, 800, 250))[0]).toBeGreaterThan(200); // left, above the middle: red
    expect((await pixelAt(streamed, 800, 750))[2]).toBeGreaterThan(200); // left, below: blue
    expect((await pixelAt(streamed, 7200, 250))[2]).toBeGreaterThan(200); // right: blue
  });

  it('keep transparency through the temp TIFF', async () => {
    // Opaque blue, with a fully transparent top-left quarter.
    const [w, h] = [3600, 2400];
    const pixels = Buffer.alloc(w * h * 4);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) pixels.set(x < w / 2 && y < h / 2 ? [255, 0, 0, 0] : [0, 0, 255, 255], (y * w + x) * 4);
    }
    const png = await sharp(pixels, { raw: { width: w, height: h, channels: 4 } }).png().toBuffer();
    const out = await run('alpha', png, 'png', [spec('v', 3600), spec('w', 3600, 'webp')]);
    for (const image of [out.v!, out.w!]) {
      const { data, info } = await sharp(image).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
      const alphaAt = (x: number, y: number) => data[(y * info.width + x) * 4 + 3];
      expect(alphaAt(100, 100)).toBeLessThan(10);
      expect(alphaAt(3500, 2300)).toBeGreaterThan(245);
    }
  });
});

/** A GIF of `frames` frames of width × height, frame k a solid grey of level 6·k (each frame differs). */
async function greyAnimation(width: number, height: number, frames: number): Promise<Buffer> {
  const pixels = Buffer.alloc(width * height * frames * 3);
  for (let k = 0; k < frames; k++) pixels.fill(6 * k, k * width * height * 3, (k + 1) * width * height * 3);
  return sharp(pixels, { raw: { width, height: height * frames, channels: 3, pageHeight: height } }).gif().toBuffer();
}

/** Each frame's grey level, read at its centre. */
async function frameGreys(image: Buffer): Promise<number[]> {
  const { data, info } = await sharp(image, { animated: true }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const pageHeight = info.pageHeight ?? info.height;
  const greys: number[] = [];
  for (let top = 0; top < info.height; top += pageHeight) {
    greys.push(data[((top + Math.floor(pageHeight / 2)) * info.width + Math.floor(info.width / 2)) * info.channels]!);
  }
  return greys;
}

describe('animations', () => {
  it('keep the size of their frames and every frame in WebP, and give formats without animation their first frame', async () => {
    // 500×500 × 40 frames: libvips gives it as one 500×20000 strip of frames.
    const gif = await greyAnimation(500, 500, 40);
    const { result, files } = await runTask(
      'animation',
      gif,
      'gif',
      [
        { name: 'conversion', fit: 'inside', format: 'webp', withoutEnlargement: true },
        { name: 'wider', width: 1000, fit: 'inside', format: 'webp', withoutEnlargement: true },
        { name: 'half', width: 250, fit: 'inside', format: 'webp', withoutEnlargement: true },
        { name: 'still', fit: 'inside', format: 'jpeg', withoutEnlargement: true },
        { name: 'avif', width: 200, height: 200, fit: 'cover', format: 'avif', withoutEnlargement: true },
      ],
      true,
    );
    const expected = Array.from({ length: 40 }, (_, k) => 6 * k);
    for (const [name, side] of [['conversion', 500], ['wider', 500], ['half', 250]] as const) {
      expect(await sharp(files[name]!, { animated: true }).metadata(), name).toMatchObject({ format: 'webp', width: side, pageHeight: side, pages: 40 });
      const greys = await frameGreys(files[name]!);
      greys.forEach((grey, k) => expect(Math.abs(grey - expected[k]!), `${name} frame ${k}`).toBeLessThanOrEqual(4));
    }
    for (const [name, side, format] of [['still', 500, 'jpeg'], ['avif', 200, 'heif']] as const) {
      const meta = await sharp(files[name]!).metadata();
      expect(meta, name).toMatchObject({ format, width: side, height: side });
      expect(meta.pages ?? 1, name).toBe(1);
      expect((await pixelAt(files[name]!, side / 2, side / 2))[0], name).toBeLessThanOrEqual(4); // the first frame: black
    }
    // The record gives each variant's size, a frame's for an animation.
    expect(result.variants.map((v) => [v.name, v.width, v.height])).toEqual([
      ['conversion', 500, 500],
      ['wider', 500, 500],
      ['half', 250, 250],
      ['still', 500, 500],
      ['avif', 200, 200],
    ]);
  });

  it('count every frame against the pixel cap of WebP: a box over it comes out smaller, every frame kept', async () => {
    // 1000×1000 × 20 frames is 20 MP, over WebP's 16 MP; the box passed when the upload came
    // in, one frame being within it. √(16/20) of 1000 is 894.
    const gif = await greyAnimation(1000, 1000, 20);
    const { result, files } = await runTask('animation-capped', gif, 'gif', [{ name: 'box', width: 1000, height: 1000, fit: 'cover', format: 'webp', withoutEnlargement: true }], true);
    const meta = await sharp(files.box!, { animated: true }).metadata();
    expect(meta).toMatchObject({ width: 894, pageHeight: 894, pages: 20 });
    expect(meta.width! * meta.pageHeight! * meta.pages!).toBeLessThanOrEqual(WEBP_MAX_PIXELS);
    expect(result.variants[0]).toMatchObject({ width: 894, height: 894 });
  });
});

describe('SVG renders', () => {
  it('render an SVG declared larger than 40 MP once, within 40 MP, for every variant', async () => {
    // 10000×10000 scaled to 40 MP is 6324.56 a side: rounded up, 6325² = 40,005,625 pixels,
    // which made every variant render the document again on its own.
    const { result, files } = await runTask('svg-huge', Buffer.from(plainSvg(10000, 10000)), 'svg', [
      { name: 'full', fit: 'inside', format: 'jpeg', withoutEnlargement: true },
      { name: 'thumb', width: 320, height: 320, fit: 'inside', format: 'webp', withoutEnlargement: true },
      // Smaller than the document, larger than the render: made at its size (it came out
      // 6324×4882, not enlarged from the render).
      { name: 'box', width: 8192, height: 4882, fit: 'cover', format: 'jpeg', withoutEnlargement: true },
    ]);
    expect(await sharp(files.box!).metadata()).toMatchObject({ width: 8192, height: 4882 });
    expect(result.render).toMatchObject({ width: 6324, height: 6324 });
    expect(result.render!.attempts).toEqual([expect.objectContaining({ width: 6324, height: 6324, outcome: 'done' })]);
    expect(result.render!.width * result.render!.height).toBeLessThanOrEqual(40_000_000);
    expect(await sharp(files.full!).metadata()).toMatchObject({ width: 6324, height: 6324 });
    expect(await sharp(files.thumb!).metadata()).toMatchObject({ width: 320, height: 320 });
  });
});
