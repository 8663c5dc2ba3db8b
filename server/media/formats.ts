/**
 * Image formats Darkroom accepts, named as sharp names them. An upload is accepted only when
 * its first bytes look like one of these *and* sharp can read its header; the file name and
 * the declared Content-Type never decide. `raw` is every camera RAW (read by ExifTool, made
 * into variants from its embedded preview), with the maker's format beside it (raw-formats.ts).
 */
export const INPUT_FORMATS = ['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif', 'heif', 'svg', 'raw'] as const;
export type InputFormat = (typeof INPUT_FORMATS)[number];

export const OUTPUT_FORMATS = ['webp', 'avif', 'jpeg', 'png'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export const MIME_TYPES: Record<InputFormat | OutputFormat, string> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  gif: 'image/gif',
  tiff: 'image/tiff',
  avif: 'image/avif',
  heif: 'image/heif',
  svg: 'image/svg+xml',
  // A camera RAW's own type depends on its maker's format (media/raw-formats.ts rawMediaType).
  raw: 'image/x-raw',
};

export const EXTENSIONS: Record<OutputFormat, string> = { webp: 'webp', avif: 'avif', jpeg: 'jpg', png: 'png' };
