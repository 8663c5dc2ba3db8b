/**
 * Image formats Darkroom accepts, named as sharp names them. An upload is accepted only when
 * its first bytes look like one of these *and* sharp can read its header; the file name and
 * the declared Content-Type never decide. `raw` is every camera RAW (read by ExifTool, made
 * into variants from its embedded preview), with the maker's format beside it (workers/raw-formats.ts).
 */
import { INPUT_FORMATS, OUTPUT_FORMATS } from '../api/vocabulary.js';
import type { InputFormat, OutputFormat } from '../api/enums.js';

// Both lists are the API's (server/api/vocabulary.ts), named here for the media code.
export { INPUT_FORMATS, OUTPUT_FORMATS, type InputFormat, type OutputFormat };

export const MIME_TYPES: Record<InputFormat | OutputFormat, string> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  gif: 'image/gif',
  tiff: 'image/tiff',
  avif: 'image/avif',
  heif: 'image/heif',
  svg: 'image/svg+xml',
  // A camera RAW's own type depends on its maker's format (workers/raw-formats.ts rawMediaType).
  raw: 'image/x-raw',
};

export const EXTENSIONS: Record<OutputFormat, string> = { webp: 'webp', avif: 'avif', jpeg: 'jpg', png: 'png' };

/** The usual file extension of each input format but RAW (whose extension is its maker's format's). */
const ORIGINAL_EXTENSIONS: Record<Exclude<InputFormat, 'raw'>, readonly string[]> = {
  jpeg: ['jpg', 'jpeg', 'jpe', 'jfif'],
  png: ['png', 'apng'],
  webp: ['webp'],
  gif: ['gif'],
  tiff: ['tif', 'tiff'],
  avif: ['avif'],
  heif: ['heic', 'heif', 'hif'],
  svg: ['svg'],
};

/**
 * The name an original downloads under: the name it was uploaded with when that ends in one of
 * its format's extensions, otherwise with the usual one added ("upload" → "upload.heic",
 * "scan.dat" → "scan.dat.tif"), so the file opens in the right program. A camera RAW's extension
 * is its maker's format's (`rawFormat`).
 */
export function originalDownloadName(filename: string, format: string, rawFormat?: string | null): string {
  const extensions = format === 'raw' ? (rawFormat ? [rawFormat] : []) : (ORIGINAL_EXTENSIONS[format as Exclude<InputFormat, 'raw'>] ?? []);
  if (!extensions.length) return filename;
  const own = /\.([^./\\]+)$/.exec(filename)?.[1]?.toLowerCase();
  return own && extensions.includes(own) ? filename : `${filename}.${extensions[0]}`;
}

const ANIMATABLE = new Set(['gif', 'webp']);

/**
 * Whether an image's outputs keep its animation: a GIF or WebP of several frames whose frames
 * together stay within the pixel limit (past it, its first frame stands for it).
 */
export function keepsAnimation(image: { format: string; pages: number; width: number; height: number }, maxInputPixels: number): boolean {
  return image.pages > 1 && ANIMATABLE.has(image.format) && image.width * image.height * image.pages <= maxInputPixels;
}
