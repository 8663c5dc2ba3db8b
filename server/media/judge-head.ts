import { AppError } from '../errors.js';
import type { InputFormat } from './formats.js';
import { dimensionsFromHead, sniffFormat } from './sniff.js';

/** Bytes of the head given to the dimension reader: enough to get past a large EXIF block. */
export const HEAD_BYTES = 256 * 1024;

export interface HeadVerdict {
  format: InputFormat;
  /** True once nothing more needs to be seen: the dimensions were read, or no more are coming. */
  decided: boolean;
}

/**
 * Judges the first bytes of an upload, before the rest is read: not an image → 415; header
 * dimensions over the pixel limit → 422. Call it again with more bytes while `decided` is false.
 * Plain uploads and resumable (tus) uploads share this, so both refuse the same things alike.
 */
export async function judgeHead(
  head: Buffer,
  options: { complete: boolean; filename: string; maxInputPixels: number; known?: InputFormat },
): Promise<HeadVerdict> {
  const format = options.known ?? (await sniffFormat(head));
  if (!format) {
    throw new AppError('unsupported_media_type', `${describeUpload(options.filename)} is not an image format Darkroom can read`);
  }
  const dims = dimensionsFromHead(head);
  if (dims) checkPixelLimit(dims.width, dims.height, options.maxInputPixels, format);
  return { format, decided: Boolean(dims) || options.complete || head.length >= HEAD_BYTES };
}

export function checkPixelLimit(width: number, height: number, maxInputPixels: number, format?: string): void {
  const pixels = width * height;
  if (pixels > maxInputPixels) {
    const err = new AppError(
      'pixel_limit_exceeded',
      `image is ${width}×${height} = ${pixels} pixels, over the limit of ${maxInputPixels} pixels`,
    );
    err.context.format = format; // counted under it in the `rejected` statistic
    throw err;
  }
}

export const describeUpload = (filename: string) => (filename ? `"${filename}"` : 'the upload');
