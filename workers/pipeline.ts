import crypto from 'node:crypto';
import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import sharp from 'sharp';
import type { Metadata, Sharp, SharpOptions } from 'sharp';
import { rgbaToThumbHash } from 'thumbhash';
import type { OutputFormat, ProcessResult, ProcessTask, VariantResult, VariantSpec } from './types.js';
import { classifyError } from './failures.js';

/**
 * Largest decoded intermediate (in pixels) kept in memory to derive every variant from one
 * decode. 40 MP of RGBA is 160 MB; past that each variant streams from the file on its own
 * (libvips shrink-on-load keeps those cheap), trading CPU for bounded memory.
 */
const INTERMEDIATE_MAX_PIXELS = 40_000_000;
const THUMBHASH_MAX_SIDE = 100; // thumbhash wants at most 100×100
const MAX_SIDE: Record<OutputFormat, number> = { webp: 16383, avif: 16384, jpeg: 65500, png: 65535 };

/**
 * (input file, variant specs) → variant files, their sizes, a thumbhash and a dominant colour.
 * Every output is auto-oriented, sRGB and free of metadata (sharp strips EXIF, XMP, IPTC and ICC
 * unless told otherwise; the raw intermediate carries none in the first place).
 */
export async function processImage(task: ProcessTask): Promise<ProcessResult> {
  try {
    const inputOptions: SharpOptions = {
      limitInputPixels: task.maxInputPixels,
      // Refuse truncated files (they would come out with grey bands) but accept the harmless
      // warnings many cameras and phones produce.
      failOn: 'truncated',
      animated: task.animated,
    };
    const meta = await sharp(task.input, inputOptions).metadata();
    const width = meta.autoOrient?.width ?? meta.width ?? 0;
    const height = meta.autoOrient?.height ?? meta.pageHeight ?? meta.height ?? 0;
    const scale = Math.min(1, Math.max(...task.variants.map((v) => requiredScale(v.spec, width, height))));
    const iw = Math.max(1, Math.ceil(width * scale));
    const ih = Math.max(1, Math.ceil(height * scale));

    if (!task.animated && iw * ih <= INTERMEDIATE_MAX_PIXELS) {
      return await fromIntermediate(task, inputOptions, scale < 1 ? { width: iw, height: ih } : undefined);
    }
    return await streamEachVariant(task, inputOptions);
  } catch (err) {
    return classifyError(err);
  }
}

/** Decode once (with shrink-on-load down to the largest size any variant needs), derive all. */
async function fromIntermediate(
  task: ProcessTask,
  inputOptions: SharpOptions,
  size: { width: number; height: number } | undefined,
): Promise<ProcessResult> {
  let decoder = sharp(task.input, inputOptions).rotate();
  if (size) decoder = decoder.resize({ ...size, fit: 'fill' });
  const { data, info } = await decoder.toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  const raw = { raw: { width: info.width, height: info.height, channels: info.channels } } as const;

  const variants: VariantResult[] = [];
  for (const { spec, output } of task.variants) {
    variants.push(await writeVariant(sharp(data, raw), spec, output));
  }
  const { thumbhash, dominantColor } = await summarise(sharp(data, raw));
  return { ok: true, variants, thumbhash, dominantColor };
}

/** Each variant its own streaming pipeline from the file: for huge or animated inputs. */
async function streamEachVariant(task: ProcessTask, inputOptions: SharpOptions): Promise<ProcessResult> {
  const open = () => {
    const image = sharp(task.input, inputOptions);
    return task.animated ? image : image.rotate();
  };
  const variants: VariantResult[] = [];
  for (const { spec, output } of task.variants) variants.push(await writeVariant(open(), spec, output));
  // The placeholder and colour come from the first frame of an animation.
  const { thumbhash, dominantColor } = await summarise(sharp(task.input, { ...inputOptions, animated: false }).rotate());
  return { ok: true, variants, thumbhash, dominantColor };
}

/** The smallest fraction of the (oriented) original a variant needs to be made without loss. */
export function requiredScale(spec: VariantSpec, width: number, height: number): number {
  const sx = spec.width ? spec.width / width : undefined;
  const sy = spec.height ? spec.height / height : undefined;
  if (sx === undefined && sy === undefined) return 1;
  if (sx === undefined) return sy!;
  if (sy === undefined) return sx;
  return spec.fit === 'inside' || spec.fit === 'contain' ? Math.min(sx, sy) : Math.max(sx, sy);
}

async function writeVariant(image: Sharp, spec: VariantSpec, output: string): Promise<VariantResult> {
  const resized =
    spec.width || spec.height
      ? image.resize({
          width: spec.width,
          height: spec.height,
          fit: spec.fit,
          withoutEnlargement: spec.withoutEnlargement,
          background: { r: 0, g: 0, b: 0, alpha: 0 },
        })
      : // A format conversion at full size, clamped to what the output format can hold.
        image.resize({ width: MAX_SIDE[spec.format], height: MAX_SIDE[spec.format], fit: 'inside', withoutEnlargement: true });
  const info = await encoder(resized.toColourspace('srgb'), spec).toFile(output);
  return {
    name: spec.name,
    format: spec.format,
    width: info.width,
    // For an animation libvips reports the height of the whole strip of frames.
    height: info.pageHeight ?? info.height,
    bytes: info.size,
    sha256: await sha256File(output),
  };
}

function encoder(image: Sharp, spec: VariantSpec): Sharp {
  switch (spec.format) {
    case 'webp':
      return image.webp({ quality: spec.quality ?? 80, effort: 4 });
    case 'avif':
      // effort 4 is sharp's default; AVIF encoding is the slowest step of any pipeline.
      return image.avif({ quality: spec.quality ?? 50, effort: 4 });
    case 'jpeg':
      // JPEG has no alpha: flatten onto white rather than the black libvips would pick.
      return image.flatten({ background: '#ffffff' }).jpeg({ quality: spec.quality ?? 82, progressive: true, mozjpeg: false });
    case 'png':
      return image.png({ compressionLevel: 6, quality: spec.quality, palette: spec.quality !== undefined });
  }
}

/** A thumbhash placeholder and the dominant colour, from a ≤100 px copy. */
async function summarise(image: Sharp): Promise<{ thumbhash: string; dominantColor: string }> {
  const small = await image
    .resize({ width: THUMBHASH_MAX_SIDE, height: THUMBHASH_MAX_SIDE, fit: 'inside' })
    .toColourspace('srgb')
    .ensureAlpha()
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  const hash = rgbaToThumbHash(small.info.width, small.info.height, small.data);
  const stats = await sharp(small.data, {
    raw: { width: small.info.width, height: small.info.height, channels: 4 },
  }).stats();
  const { r, g, b } = stats.dominant;
  const hex = `#${[r, g, b].map((c) => c.toString(16).padStart(2, '0')).join('')}`;
  return { thumbhash: Buffer.from(hash).toString('base64'), dominantColor: hex };
}

export async function sha256File(file: string): Promise<string> {
  const hash = crypto.createHash('sha256');
  await pipeline(fs.createReadStream(file), hash);
  return hash.digest('hex');
}
