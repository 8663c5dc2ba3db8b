import fs from 'node:fs';
import sharp from 'sharp';

/**
 * Largest SVG document Darkroom decodes, in bytes. An SVG is read into memory (see
 * `decodableInput`), and librsvg's document tree takes about 130 times the text while it renders:
 * measured with sharp 0.35 / librsvg 2.63, a 2.2 MiB SVG of 40,000 shapes peaked at 350 MB over
 * the process and took 3.6 s, 10.9 MiB at 1.3 GB. Two MiB keeps an SVG within a worker's share.
 */
export const MAX_SVG_BYTES = 2 * 1024 * 1024;

/** libvips loaders that could read another file than the one they are given. */
const UNSAFE_LOADERS = [
  // librsvg resolves `href`s, `xi:include` and CSS imports against the document's own location
  // when it has one (files in its folder and below: other customers' originals share folders).
  // From a buffer it has none, and they resolve to nothing (`data:` still works).
  'VipsForeignLoadSvgFile',
  'VipsForeignLoadSvgSource',
  // libvips' own format, memory-mapped; no upload is ever one, so nothing should open one.
  'VipsForeignLoadVips',
];

let configured = false;

/**
 * Sets up libvips for untrusted images, once per process (its settings are process-wide, so
 * this covers the main thread and every worker): the loaders above are refused, so an SVG can
 * only ever be decoded from bytes; and the operation cache is off. The cache keys loads by file
 * name and keeps up to 20 files open, which a batch processor never reuses and which would
 * answer a later load of a reused path with what was there before.
 */
export function configureDecoders(): void {
  if (configured) return;
  configured = true;
  sharp.block({ operation: UNSAFE_LOADERS });
  sharp.cache(false);
}

/** An SVG over MAX_SVG_BYTES. */
export class SvgTooLarge extends Error {
  constructor(readonly bytes: number) {
    super(`SVG documents are decoded in memory and may be at most ${MAX_SVG_BYTES} bytes (2 MiB); this one is ${bytes} bytes`);
  }
}

/**
 * What to hand sharp for an original: its path, or for an SVG its bytes (at most MAX_SVG_BYTES),
 * so nothing it references can be reached.
 */
export async function decodableInput(file: string, format: string): Promise<string | Buffer> {
  if (format !== 'svg') return file;
  const handle = await fs.promises.open(file, 'r');
  try {
    const { size } = await handle.stat();
    if (size > MAX_SVG_BYTES) throw new SvgTooLarge(size);
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}
