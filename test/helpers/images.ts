import fs from 'node:fs';
import type { ClientRequest } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import sharp from 'sharp';

export const FIXTURES = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../fixtures/images');

export const fixture = (name: string) => fs.readFileSync(path.join(FIXTURES, name));

/** EXIF as a camera writes it: make and model, exposure, lens, date and a GPS position. */
export function cameraExif(model = 'EOS R5') {
  return {
    IFD0: { Make: 'Canon', Model: model },
    IFD2: {
      ExposureTime: '1/250',
      FNumber: '28/10',
      ISOSpeedRatings: '400',
      DateTimeOriginal: '2024:06:01 14:03:22',
      FocalLength: '50/1',
      LensModel: 'RF50mm F1.8 STM',
    },
    IFD3: {
      GPSLatitudeRef: 'N',
      GPSLatitude: '48/1 51/1 2952/100',
      GPSLongitudeRef: 'E',
      GPSLongitude: '2/1 17/1 4020/100',
      GPSAltitudeRef: '0',
      GPSAltitude: '35/1',
    },
  };
}

/** A JPEG with camera EXIF and a GPS position, as a phone or camera writes it. */
export async function jpegWithExif(): Promise<Buffer> {
  return sharp({ create: { width: 640, height: 480, channels: 3, background: '#3a6ea5' } })
    .jpeg({ quality: 90 })
    .withExif(cameraExif())
    .toBuffer();
}

/** A solid image of a given size and format. */
export function solid(width: number, height: number, format: 'jpeg' | 'png' | 'webp' | 'gif' | 'tiff' | 'avif', colour = '#808080') {
  return sharp({ create: { width, height, channels: 3, background: colour } })
    .toFormat(format)
    .toBuffer();
}

/**
 * An image whose top-left quadrant is red and the rest blue, stored rotated so that applying
 * the EXIF orientation tag shows it upright again: only an auto-orienting pipeline gets the red
 * quadrant back to the top left.
 */
export async function orientedJpeg(orientation: 3 | 6 | 8, width = 300, height = 200): Promise<Buffer> {
  const upright = await sharp({ create: { width, height, channels: 3, background: '#0000ff' } })
    .composite([{ input: { create: { width: width / 2, height: height / 2, channels: 3, background: '#ff0000' } }, left: 0, top: 0 }])
    .png()
    .toBuffer();
  // Store the pixels turned the opposite way of what the tag undoes.
  const stored = { 3: 180, 6: 270, 8: 90 }[orientation];
  return sharp(await sharp(upright).rotate(stored).png().toBuffer())
    .jpeg({ quality: 95 })
    .withMetadata({ orientation })
    .toBuffer();
}

/** The colour at (x, y) of an encoded image, as [r, g, b]. */
export async function pixelAt(image: Buffer, x: number, y: number): Promise<[number, number, number]> {
  const { data, info } = await sharp(image).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const i = (y * info.width + x) * info.channels;
  return [data[i]!, data[i + 1]!, data[i + 2]!];
}

/**
 * A decompression bomb: a valid PNG whose header claims 60000×60000 (1-bit grey, a few hundred
 * KB of zlib) that would need gigabytes to decode.
 */
export function pngBomb(width = 60000, height = 60000): Buffer {
  const rowBytes = 1 + Math.ceil(width / 8);
  const deflate = zlib.deflateSync(Buffer.alloc(rowBytes * 2000), { level: 9 }); // the start of the data is enough
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body) >>> 0);
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 1; // bit depth
  ihdr[9] = 0; // greyscale
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflate),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/**
 * Writes `total` bytes to `req` and ends it: a real JPEG first, then zeros (decoders stop at
 * the JPEG's end marker), honouring backpressure so the sender's memory stays flat too.
 */
export function sendJpegThenZeros(req: ClientRequest, total: number): void {
  const head = fixture('ipx-husky-snow.jpg');
  const zeros = Buffer.alloc(4 * 1024 * 1024);
  let sent = 0;
  const pump = () => {
    while (sent < total) {
      const chunk = sent === 0 ? head : zeros.subarray(0, Math.min(zeros.length, total - sent));
      sent += chunk.length;
      if (!req.write(chunk)) return void req.once('drain', pump);
    }
    req.end();
  };
  pump();
}
