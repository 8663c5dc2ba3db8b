import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { ROOT } from './processes.js';

/** Generated inputs are kept between runs: making a 1 GB TIFF is not what is being measured. */
export const CACHE = path.join(ROOT, 'bench/.cache');

async function cached(name: string, make: (file: string) => Promise<void>): Promise<string> {
  fs.mkdirSync(CACHE, { recursive: true });
  const file = path.join(CACHE, name);
  if (!fs.existsSync(file)) {
    const tmp = `${file}.partial`;
    await make(tmp);
    fs.renameSync(tmp, file);
  }
  return file;
}

/**
 * A photo-like image: smooth colour fields (a tiny random image scaled up) with fine grain (a
 * tile of noise laid over it), so JPEG sizes and decode times are realistic.
 */
function photoLike(width: number, height: number, seed: number) {
  let s = seed;
  const random = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 24;
  const small = Buffer.alloc(64 * 48 * 3);
  for (let i = 0; i < small.length; i++) small[i] = random();
  const grain = Buffer.alloc(256 * 256 * 3);
  for (let i = 0; i < grain.length; i++) grain[i] = 128 + ((random() - 128) >> 3);
  return sharp(small, { raw: { width: 64, height: 48, channels: 3 } })
    .resize(width, height, { kernel: 'cubic' })
    .composite([{ input: grain, raw: { width: 256, height: 256, channels: 3 }, tile: true, blend: 'overlay' }]);
}

/** A file of `bytes` bytes: a real small JPEG followed by filler (decoders stop at its end). */
export async function bigUploadFile(bytes: number): Promise<string> {
  return cached(`upload-${bytes}.jpg`, async (file) => {
    const head = await photoLike(640, 480, 1).jpeg().toBuffer();
    const block = crypto.randomBytes(4 * 1024 * 1024);
    const fd = fs.openSync(file, 'w');
    try {
      fs.writeSync(fd, head);
      let written = head.length;
      while (written < bytes) written += fs.writeSync(fd, block, 0, Math.min(block.length, bytes - written));
    } finally {
      fs.closeSync(fd);
    }
  });
}

/** `count` distinct 24-megapixel JPEGs (6000×4000). */
export async function photos24mp(count: number): Promise<string[]> {
  const files: string[] = [];
  for (let i = 0; i < count; i++) {
    files.push(await cached(`photo24-${i}.jpg`, (file) => photoLike(6000, 4000, 1000 + i).jpeg({ quality: 90 }).toFile(file).then(() => {})));
  }
  return files;
}

/** A 20000×20000 (400 megapixel) JPEG. */
export function jpeg400mp(): Promise<string> {
  return cached('huge-20000.jpg', (file) => photoLike(20000, 20000, 7).jpeg({ quality: 85 }).toFile(file).then(() => {}));
}

/** An uncompressed RGB TIFF of about 1 GB (18000×18000). */
export function tiff1gb(): Promise<string> {
  return cached('huge-18000.tif', (file) => photoLike(18000, 18000, 9).tiff({ compression: 'none' }).toFile(file).then(() => {}));
}

/**
 * `count` distinct 12-megapixel photos (4032×3024, an iPhone's size) as JPEGs and as HEICs made
 * from them by heif-enc (Debian's libheif-examples), the way a phone's photo arrives.
 */
export async function photos12mpHeic(count: number): Promise<Array<{ jpeg: string; heic: string }>> {
  const photos: Array<{ jpeg: string; heic: string }> = [];
  for (let i = 0; i < count; i++) {
    const jpeg = await cached(`photo12-${i}.jpg`, (file) => photoLike(4032, 3024, 2000 + i).jpeg({ quality: 90 }).toFile(file).then(() => {}));
    const heic = await cached(`photo12-${i}.heic`, async (file) => {
      const run = spawnSync('heif-enc', ['-q', '60', '-o', `${file}.heic`, jpeg], { encoding: 'utf8' });
      if (run.status !== 0) throw new Error(`heif-enc failed: ${run.stderr}`);
      fs.renameSync(`${file}.heic`, file);
    });
    photos.push({ jpeg, heic });
  }
  return photos;
}
