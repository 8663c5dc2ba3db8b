import fs from 'node:fs';
import sharp from 'sharp';
import type { Metadata } from 'sharp';
import { AppError } from '../errors.js';
import { configureDecoders, decodableInput, MAX_SVG_BYTES, SvgTooLarge } from '../../workers/decoders.js';
import type { InputFormat } from './formats.js';
import { probeHeif } from './heif.js';
import { INPUT_FORMATS } from './formats.js';
import { SNIFF_BYTES, sniffFormat } from './sniff.js';
import { probeRaw } from './probe-raw.js';

// The main thread reads headers with libvips too: the same loader rules and no operation cache
// as the workers (workers/decoders.ts), whichever starts first.
configureDecoders();

export interface ProbedImage {
  format: InputFormat;
  width: number;
  height: number;
  pages: number;
  /** For a camera RAW (format `raw`): the maker's format, `dng`, `cr2`, … (workers/raw-formats.ts). */
  rawFormat?: string;
}

/**
 * Reads the whole header with sharp (libvips), without decoding pixels. The final word on
 * whether an upload is an image Darkroom can process: anything libvips cannot open is a 415.
 * An SVG is read from its bytes (at most MAX_SVG_BYTES, 413 beyond), so nothing it references
 * is opened even to measure it.
 */
export async function probeImage(file: string): Promise<ProbedImage> {
  const head = await readHead(file);
  const sniffed = await sniffFormat(head);
  // Camera RAWs are read by ExifTool; many are TIFFs to sharp, which would take a thumbnail for the photo.
  if (sniffed === 'raw' || sniffed === 'tiff') {
    const raw = await probeRaw(file, sniffed, head);
    if (raw) return raw;
  }
  let input: string | Buffer;
  try {
    input = await decodableInput(file, sniffed ?? 'unknown');
  } catch (err) {
    if (err instanceof SvgTooLarge) {
      const refused = new AppError('payload_too_large', `SVG images may be at most ${MAX_SVG_BYTES} bytes (2 MiB), they are decoded in memory; this one is ${err.bytes} bytes`);
      refused.context.format = 'svg';
      throw refused;
    }
    throw err;
  }
  let meta: Metadata;
  try {
    // No pixel limit here: the header is all that is read, and the caller compares the numbers.
    meta = await sharp(input, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw new AppError('unsupported_media_type', `not a decodable image: ${firstLine(err)}`);
  }
  const format = normaliseFormat(meta);
  if (!format) throw new AppError('unsupported_media_type', `image format "${meta.format}" is not supported`);
  // Sharp's prebuilt libvips reads AVIF but, for patent reasons, not HEVC-coded HEIC: read apart.
  if (format === 'heif') return { format, ...(await probeHeif(file, meta)) };
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

async function readHead(file: string): Promise<Buffer> {
  const handle = await fs.promises.open(file, 'r');
  try {
    const head = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return head.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

const firstLine = (err: unknown) => String((err as Error)?.message ?? err).split('\n')[0];

/**
 * Whether an original has an alpha channel, from its header (no pixels decoded): `format=auto`
 * picks PNG over JPEG for it when the client takes neither AVIF nor WebP (CONTRACT §10). Read
 * before the metadata extraction has run; after it, its record says the same.
 */
export async function probeAlpha(file: string, format: string): Promise<boolean> {
  // No alpha in these (a RAW's variants come from its JPEG preview).
  if (format === 'jpeg' || format === 'raw') return false;
  const input = await decodableInput(file, format);
  return (await sharp(input, { limitInputPixels: false }).metadata()).hasAlpha ?? false;
}
