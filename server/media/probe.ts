import sharp from 'sharp';
import type { Metadata, Sharp, SharpOptions } from 'sharp';
import { AppError } from '../errors.js';
import type { InputFormat } from './formats.js';
import { INPUT_FORMATS } from './formats.js';

export interface ProbedImage {
  format: InputFormat;
  width: number;
  height: number;
  pages: number;
}

/**
 * Reads the whole header with sharp (libvips), without decoding pixels. The final word on
 * whether an upload is an image Darkroom can process: anything libvips cannot open is a 415.
 */
export async function probeImage(file: string): Promise<ProbedImage> {
  let meta: Metadata;
  try {
    // No pixel limit here: the header is all that is read, and the caller compares the numbers.
    meta = await sharp(file, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw new AppError('unsupported_media_type', `not a decodable image: ${firstLine(err)}`);
  }
  const format = normaliseFormat(meta);
  if (!format) throw new AppError('unsupported_media_type', `image format "${meta.format}" is not supported`);
  if (format === 'heif' && meta.compression === 'hevc') {
    // Sharp's prebuilt libvips reads AVIF but, for patent reasons, not HEVC-coded HEIC.
    throw new AppError('unsupported_media_type', 'HEIC images (HEVC-coded) are not supported; export as JPEG or AVIF');
  }
  const width = meta.width ?? 0;
  const height = meta.pageHeight ?? meta.height ?? 0;
  if (!width || !height) throw new AppError('unsupported_media_type', 'image header has no dimensions');
  return { format, width, height, pages: meta.pages ?? 1 };
}

function normaliseFormat(meta: Metadata): InputFormat | undefined {
  // sharp reports AVIF as "heif" with AV1 compression; the API names it avif like everyone else.
  const name = meta.format === 'heif' && meta.compression === 'av1' ? 'avif' : meta.format;
  return (INPUT_FORMATS as readonly string[]).includes(name) ? (name as InputFormat) : undefined;
}

const firstLine = (err: unknown) => String((err as Error)?.message ?? err).split('\n')[0];
