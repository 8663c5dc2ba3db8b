import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import exifr from 'exifr';
import sharp from 'sharp';
import { rgbaToThumbHash } from 'thumbhash';

/**
 * The baselines Darkroom's processing is measured against: plain sharp programs in one process,
 * `parallelism` images at a time, writing the default variants of every file. Each returns the
 * wall-clock seconds and the CPU seconds of this process (all threads) it took.
 */
export type PlainSharp = (files: string[], parallelism: number) => Promise<{ seconds: number; cpuSeconds: number }>;

/**
 * The best plain program producing what Darkroom produces for an upload: the EXIF read, one
 * decode with shrink-on-load to the largest variant's size, both default variants from that
 * decode, the thumbhash and the dominant colour.
 */
export const plainSharpBest: PlainSharp = (files, parallelism) =>
  timed(files, parallelism, async (input, out) => {
    await exifr.parse(input, { tiff: true, exif: true, gps: true, icc: true, ifd1: false, iptc: false, xmp: false, reviveValues: false });
    const { data, info } = await sharp(input)
      .rotate()
      .resize(2048, 2048, { fit: 'inside', withoutEnlargement: true })
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    const raw = { raw: { width: info.width, height: info.height, channels: info.channels } } as const;
    await sharp(data, raw).webp({ quality: 80 }).toFile(`${out}-display.webp`);
    await sharp(data, raw).resize(320, 320, { fit: 'inside', withoutEnlargement: true }).webp().toFile(`${out}-thumb.webp`);
    const small = await sharp(data, raw).resize(100, 100, { fit: 'inside' }).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    rgbaToThumbHash(small.info.width, small.info.height, small.data);
    await sharp(small.data, { raw: { width: small.info.width, height: small.info.height, channels: 4 } }).stats();
  });

/** The straightforward program: one pipeline per variant (two decodes), nothing else. */
export const plainSharpNaive: PlainSharp = (files, parallelism) =>
  timed(files, parallelism, async (input, out) => {
    await sharp(input).rotate().resize(320, 320, { fit: 'inside', withoutEnlargement: true }).webp().toFile(`${out}-thumb.webp`);
    await sharp(input).rotate().resize(2048, 2048, { fit: 'inside', withoutEnlargement: true }).webp({ quality: 80 }).toFile(`${out}-display.webp`);
  });

async function timed(files: string[], parallelism: number, each: (input: string, out: string) => Promise<void>) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-bench-sharp-'));
  const cpu = process.cpuUsage();
  const started = performance.now();
  let next = 0;
  const lane = async () => {
    while (next < files.length) {
      const i = next++;
      await each(files[i]!, path.join(dir, String(i)));
    }
  };
  await Promise.all(Array.from({ length: parallelism }, lane));
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  fs.rmSync(dir, { recursive: true, force: true });
  return { seconds, cpuSeconds: (used.user + used.system) / 1e6 };
}
