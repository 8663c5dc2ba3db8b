import fs from 'node:fs';
import sharp, { type Metadata } from 'sharp';
import { ExifToolFailed, exiftoolPath, withExifTool, type ExifToolSession } from './exiftool.js';
import { classifyError } from './failures.js';
import { orientationOf } from './exif-fields.js';
import { NoPreview } from './no-preview.js';
import type { Source, SourceRequest } from './source.js';

/**
 * Where cameras keep the JPEG they embed in a RAW, as ExifTool names it. Most have several (a
 * thumbnail, a screen-size preview, a full-size one); the largest usable one is taken. The
 * 160-pixel ThumbnailImage is left out: variants made from it would be useless.
 */
const PREVIEW_TAGS = ['JpgFromRaw', 'PreviewImage', 'OtherImage'] as const;
/** Formats an embedded preview may have (old Kodak and Hasselblad files embed TIFFs). */
const PREVIEW_FORMATS = new Set(['jpeg', 'tiff']);
/** ExifTool group and tag names, as exiftool-vendored accepts them (no option can hide in one). */
const TAG_REFERENCE = /^[A-Za-z0-9_-]+:[A-Za-z0-9_]+$/;


/**
 * A camera RAW as sharp reads it: the largest embedded preview, extracted by ExifTool to the
 * task's scratch path, with the RAW's own orientation written into it. The preview's own EXIF
 * orientation is often missing or wrong (cameras rotate the RAW, not the preview), so the
 * pipeline's one `.rotate()` must find the RAW's there and nothing else. Decoding it is subject
 * to the pixel limit like any image (the request's options).
 *
 * Only what the file holds decides the outcome: a preview that is absent or that libvips cannot
 * read is passed over, and none left is NoPreview (final); ExifTool failing to answer is
 * ExifToolFailed, a passing failure the job retries.
 */
export async function openRawPreview(request: SourceRequest): Promise<Source> {
  const file = exiftoolPath(request.file);
  const output = exiftoolPath(request.scratch);
  const release = () => fs.promises.rm(output, { force: true });
  try {
    // A missing original is original_missing, not ExifTool failing to read it.
    await fs.promises.access(file, fs.constants.R_OK);
    return await withExifTool(request.stop, async (exiftool) => {
      const best = await largestPreview(exiftool, file, output, request.stop);
      if (!best) throw new NoPreview('this camera RAW has no usable embedded preview to make variants from');
      // The last one measured is in `output` unless a larger one came before it.
      if (best.tag !== best.lastExtracted && !(await exiftool.extractTag(best.tag, file, output))) {
        throw new ExifToolFailed(`extracting ${best.tag} again: nothing written`);
      }
      const orientation = await rawOrientation(exiftool, file);
      await exiftool.writeOrientation(output, orientation);
      const written = await readableImage(output);
      // ExifTool said it wrote it; a preview that lost its orientation would come out turned.
      if (!written || (written.orientation ?? 1) !== orientation) throw new NoPreview(`the embedded preview ${best.tag} does not keep an orientation`);
      const sideways = orientation >= 5;
      const preview = { width: sideways ? written.height : written.width, height: sideways ? written.width : written.height };
      return { input: output, options: { ...request.options, animated: false }, preview, release };
    });
  } catch (err) {
    await release();
    throw err;
  }
}

/** The RAW's orientation (1–8) as ExifTool reads it for the file (the same value the metadata gives); 1 when it has none. */
async function rawOrientation(exiftool: ExifToolSession, file: string): Promise<number> {
  return orientationOf((await exiftool.readTags(file, ['-Orientation#'])).Orientation);
}

/**
 * Of the file's embedded previews, the one with the most pixels that libvips reads. Each is
 * extracted to `output` and measured there: what ExifTool prints for a binary tag when listing
 * it is a placeholder of its byte count in some versions and the bytes themselves in others
 * (exiftool-vendored's own decoding of it has changed), and bytes are not pixels anyway. The
 * listing is used for the tags' names only. Previews are a few MB at most; measuring reads their
 * headers.
 */
async function largestPreview(exiftool: ExifToolSession, file: string, output: string, stop: SourceRequest['stop']) {
  const tags = await exiftool.readTags(file, ['-a', '-G1', ...PREVIEW_TAGS.map((t) => `-${t}`)]);
  const candidates = Object.keys(tags).filter((tag) => TAG_REFERENCE.test(tag) && PREVIEW_TAGS.some((t) => tag.endsWith(`:${t}`)));
  let best: { tag: string; pixels: number } | undefined;
  let lastExtracted: string | undefined;
  for (const tag of candidates.sort()) {
    stop.check();
    if (!(await exiftool.extractTag(tag, file, output))) continue;
    lastExtracted = tag;
    const image = await readableImage(output);
    if (image && image.width * image.height > (best?.pixels ?? 0)) best = { tag, pixels: image.width * image.height };
  }
  return best && { tag: best.tag, lastExtracted };
}

/**
 * The size and orientation of a preview as libvips reads its header, or undefined when it is not
 * an image libvips reads (the 26-byte stubs of stripped files, a truncated JPEG header). Only
 * that verdict on the preview passes it over; sharp failing for another reason (the file gone,
 * out of memory) is thrown like any failure of the task.
 */
async function readableImage(output: string): Promise<{ width: number; height: number; orientation?: number } | undefined> {
  let meta: Metadata;
  try {
    meta = await sharp(output, { limitInputPixels: false }).metadata();
  } catch (err) {
    if (classifyError(err).code === 'corrupt_image') return undefined;
    throw err;
  }
  if (!PREVIEW_FORMATS.has(meta.format) || !meta.width || !meta.height) return undefined;
  return { width: meta.width, height: meta.height, orientation: meta.orientation };
}
