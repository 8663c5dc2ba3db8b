import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { cameraExif, FIXTURES } from '../../helpers/images.js';

export const sha256File = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/** A photo-like JPEG with camera EXIF and a GPS position, as a camera writes it. */
export async function cameraJpeg(dir: string, name = 'meadow.jpg'): Promise<string> {
  const file = path.join(dir, name);
  await sharp(path.join(FIXTURES, 'ipx-bliss.jpg'))
    .resize(1600, 900)
    .jpeg({ quality: 88 })
    .withExif(cameraExif('Canon EOS R5'))
    .toFile(file);
  return file;
}

/** A copy of a fixture under another name. */
export function fixtureCopy(dir: string, fixture: string, name = fixture): string {
  const file = path.join(dir, name);
  fs.copyFileSync(path.join(FIXTURES, fixture), file);
  return file;
}

/**
 * An uncompressed TIFF of a real photo, over 100 MB (8000 × 4500 × 3 bytes = 108 MB): the
 * kind of file a scanner or a raw converter writes.
 */
export async function bigTiff(dir: string, name = 'scan.tif', width = 8000, height = 4500): Promise<string> {
  const file = path.join(dir, name);
  await sharp(path.join(FIXTURES, 'ipx-husky-snow.jpg')).resize(width, height, { fit: 'fill' }).tiff({ compression: 'none' }).toFile(file);
  return file;
}

export function textFile(dir: string, name: string, bytes = 64 * 1024): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, Buffer.alloc(bytes, 'this is a shopping list, not a photograph\n'));
  return file;
}
