import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { processImage } from '../../workers/pipeline.js';
import type { ProcessTask, VariantSpec } from '../../workers/types.js';
import { orientedJpeg, pixelAt } from '../helpers/images.js';
import { tempDir } from '../helpers/server.js';

const dir = tempDir('darkroom-paths-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/**
 * The worker decodes an original once into memory (small intermediates), into a temp TIFF
 * (8–40 MP) or not at all (streaming each variant, past 40 MP): each way must give the same
 * picture, upright and with its transparency.
 */
async function run(name: string, input: Buffer, format: string, specs: VariantSpec[]) {
  const file = path.join(dir, `${name}.src`);
  fs.writeFileSync(file, input);
  const task: ProcessTask = {
    input: file,
    format,
    animated: false,
    maxInputPixels: 200_000_000,
    maxOutputPixels: 40_000_000,
    scratch: path.join(dir, `${name}.tif`),
    variants: specs.map((spec) => ({ spec, output: path.join(dir, `${name}-${spec.name}.${spec.format}`) })),
  };
  const result = await processImage(task);
  expect(result.ok, JSON.stringify(result)).toBe(true);
  expect(fs.existsSync(task.scratch)).toBe(false); // the intermediate does not outlive the task
  return Object.fromEntries(task.variants.map((v) => [v.spec.name, fs.readFileSync(v.output)]));
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
