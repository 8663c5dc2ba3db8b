import { fileTypeFromBuffer } from 'file-type';
import { imageSize } from 'image-size';
import type { InputFormat } from './formats.js';
import { RAW_BY_SNIFFED_MIME, rawFormatFromMagic } from '../../workers/raw-formats.js';

/** How many leading bytes the sniffer wants before it decides (file-type's own minimum). */
export const SNIFF_BYTES = 4100;

const BY_MIME: Record<string, InputFormat> = {
  'image/jpeg': 'jpeg',
  'image/png': 'png',
  'image/apng': 'png',
  'image/webp': 'webp',
  'image/gif': 'gif',
  'image/tiff': 'tiff',
  'image/avif': 'avif',
  'image/heif': 'heif',
  'image/heic': 'heif',
  'image/heif-sequence': 'heif',
  'image/heic-sequence': 'heif',
};

// An SVG document: optional BOM, XML declaration, comments and doctype, then an <svg element.
const SVG_START = /^\uFEFF?\s*(<\?xml[^>]*>\s*)?(<!--[\s\S]*?-->\s*)*(<!DOCTYPE[^>[]*(\[[\s\S]*?\])?\s*>\s*)?(<!--[\s\S]*?-->\s*)*<svg[\s>]/i;

/**
 * Judges the first bytes of an upload. Returns the format they announce, or undefined when
 * they are not an image Darkroom can read; sharp confirms later from the whole header.
 */
export async function sniffFormat(head: Uint8Array): Promise<InputFormat | undefined> {
  const type = await fileTypeFromBuffer(head);
  if (type) {
    if (type.mime in BY_MIME) return BY_MIME[type.mime];
    if (type.mime in RAW_BY_SNIFFED_MIME) return 'raw';
    if (type.mime !== 'application/xml') return undefined;
  }
  // A TIFF whose first directory lies past the head (libvips and scanners write large
  // uncompressed TIFFs with the directory at the end): file-type cannot follow it from these
  // bytes, but the byte-order mark and magic number say TIFF; sharp confirms from the file.
  if (!type && isTiffSignature(head)) return 'tiff';
  if (!type && rawFormatFromMagic(head)) return 'raw';
  const text = Buffer.from(head).toString('utf8');
  return SVG_START.test(text) ? 'svg' : undefined;
}

/**
 * Dimensions from a partial header, when the first bytes hold them (almost always: they sit in
 * the first chunk for PNG/GIF/WebP, and after EXIF for JPEG). Lets a decompression bomb be
 * refused before the rest of it is even received. Undefined means "decide on the whole file".
 */
export function dimensionsFromHead(head: Uint8Array): { width: number; height: number } | undefined {
  try {
    const size = imageSize(head);
    if (size.width && size.height) return { width: size.width, height: size.height };
  } catch {
    // Header not complete in these bytes, or a format image-size does not read: not an error here.
  }
  return undefined;
}

/** "II*\0" / "MM\0*" (TIFF) and "II+\0" / "MM\0+" (BigTIFF). */
function isTiffSignature(head: Uint8Array): boolean {
  if (head.length < 8) return false;
  const [a, b, c, d] = head;
  if (a === 0x49 && b === 0x49) return (c === 0x2a || c === 0x2b) && d === 0x00;
  if (a === 0x4d && b === 0x4d) return c === 0x00 && (d === 0x2a || d === 0x2b);
  return false;
}
