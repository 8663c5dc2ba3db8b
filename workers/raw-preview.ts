import fs from 'node:fs';
import type { ExifTool } from 'exiftool-vendored';
import sharp from 'sharp';
import { exiftoolOutputPath, exiftoolPath, withExifTool } from './exiftool.js';
import type { Source, SourceRequest } from './sources.js';

/**
 * Where cameras keep the JPEG they embed in a RAW, as ExifTool names it. Most have several (a
 * thumbnail, a screen-size preview, a full-size one); the largest usable one is taken. The
 * 160-pixel ThumbnailImage is left out: variants made from it would be useless.
 */
const PREVIEW_TAGS = ['JpgFromRaw', 'PreviewImage', 'OtherImage'] as const;
/** Formats an embedded preview may have (old Kodak and Hasselblad files embed TIFFs). */
const PREVIEW_FORMATS = new Set(['jpeg', 'tiff']);
/** ExifTool's stand-in for binary data that was not extracted: "(Binary data 12345 bytes, use -b …)". */
const BINARY_SIZE = /^\(Binary data (\d+) bytes/;
/** ExifTool group and tag names, as exiftool-vendored accepts them (no option can hide in one). */
const TAG_REFERENCE = /^[A-Za-z0-9_-]+:[A-Za-z0-9_]+$/;

/** A camera RAW without an embedded preview that libvips can read: nothing to make variants from. */
export class NoPreview extends Error {}

/**
 * A camera RAW as sharp reads it: the largest embedded preview, extracted by ExifTool to the
 * task's scratch path, with the RAW's own orientation written into it. The preview's own EXIF
 * orientation is often missing or wrong (cameras rotate the RAW, not the preview), so the
 * pipeline's one `.rotate()` must find the RAW's there and nothing else. Decoding it is subject
 * to the pixel limit like any image (the request's options).
 */
export async function openRawPreview(request: SourceRequest): Promise<Source> {
  const file = exiftoolPath(request.file);
  const output = exiftoolPath(request.scratch);
  const release = () => fs.promises.rm(output, { force: true });
  try {
    return await withExifTool(request.stop, async (exiftool) => {
      // The previews are listed first: in a process that has read the file before, ExifTool 13
      // prints binary tags as their bytes instead of "(Binary data N bytes…)".
      const previews = await previewsLargestFirst(exiftool, file);
      const orientation = await rawOrientation(exiftool, file);
      for (const tag of previews) {
        request.stop.check();
        const preview = await extractPreview(exiftool, file, tag, output, orientation);
        if (preview) return { input: output, options: { ...request.options, animated: false }, preview, release };
      }
      throw new NoPreview('this camera RAW has no usable embedded preview to make variants from');
    });
  } catch (err) {
    await release();
    throw err;
  }
}

/** The RAW's orientation (1–8) as ExifTool reads it for the file (the same value the metadata gives); 1 when it has none. */
export async function rawOrientation(exiftool: ExifTool, file: string): Promise<number> {
  const tags = (await exiftool.readRaw(file, { readArgs: ['-Orientation#'] })) as Record<string, unknown>;
  const value = Number(tags.Orientation);
  return Number.isInteger(value) && value >= 1 && value <= 8 ? value : 1;
}

/** Every embedded preview's tag (group-qualified), the largest first. */
async function previewsLargestFirst(exiftool: ExifTool, file: string): Promise<string[]> {
  const tags = (await exiftool.readRaw(file, { readArgs: ['-a', '-G1', ...PREVIEW_TAGS.map((t) => `-${t}`)] })) as Record<string, unknown>;
  const found: Array<{ tag: string; bytes: number }> = [];
  for (const [tag, value] of Object.entries(tags)) {
    if (!TAG_REFERENCE.test(tag) || !PREVIEW_TAGS.some((t) => tag.endsWith(`:${t}`))) continue;
    // Should ExifTool give the bytes themselves, their length ranks them as well.
    const bytes = Number(BINARY_SIZE.exec(String(value))?.[1] ?? String(value).length);
    if (bytes > 0) found.push({ tag, bytes });
  }
  return found.sort((a, b) => b.bytes - a.bytes).map((f) => f.tag);
}

/**
 * Extracts one preview to `output` and gives it the RAW's orientation; its upright size, or
 * undefined when it is not an image libvips reads (the 26-byte stubs of stripped files, a
 * truncated JPEG header).
 */
async function extractPreview(
  exiftool: ExifTool,
  file: string,
  tag: string,
  output: string,
  orientation: number,
): Promise<{ width: number; height: number } | undefined> {
  try {
    await exiftool.extractBinaryTag(tag, file, exiftoolOutputPath(output), { forceWrite: true, ignoreMinorErrors: true });
    const before = await sharp(output, { limitInputPixels: false }).metadata();
    if (!PREVIEW_FORMATS.has(before.format) || !before.width || !before.height) return undefined;
    await exiftool.write(output, { 'Orientation#': orientation } as Record<string, number>, { writeArgs: ['-overwrite_original'] });
    const after = await sharp(output, { limitInputPixels: false }).metadata();
    if (after.orientation !== orientation && !(orientation === 1 && after.orientation === undefined)) return undefined;
    const sideways = orientation >= 5;
    return { width: sideways ? after.height! : after.width!, height: sideways ? after.width! : after.height! };
  } catch {
    return undefined; // this one is unusable; the next (smaller) may do
  }
}
