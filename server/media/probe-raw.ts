import type { ExifTool } from 'exiftool-vendored';
import { AppError } from '../errors.js';
import { createExifTool, exiftoolPath } from '../../workers/exiftool.js';
import { rawFormatFromMagic, rawFormatOfFileType } from './raw-formats.js';

/**
 * The server's own ExifTool, for telling camera RAWs apart at upload: one Perl process, started
 * with the first RAW or TIFF and ended after a minute without one, or by `endRawProbe()` when the
 * server closes. Each probe reads a few header tags (`-fast`), milliseconds of that process.
 */
let exiftool: ExifTool | undefined;
const PROBE_TIMEOUT_MS = 10_000;
const PROBE_IDLE_MS = 60_000;

export interface ProbedRaw {
  format: 'raw';
  rawFormat: string;
  width: number;
  height: number;
  pages: 1;
}

/**
 * What ExifTool says a file is: a camera RAW with its maker's format and the photo's size
 * (ExifTool's ImageSize: the developed image, not a thumbnail in the first directory), or
 * undefined when it is not a RAW. For a file whose first bytes announced a RAW, anything else is
 * a 415; for one that looked like a TIFF (TIFF-based RAWs do), undefined lets it go on as a TIFF.
 */
export async function probeRaw(file: string, sniffed: 'raw' | 'tiff', head: Uint8Array): Promise<ProbedRaw | undefined> {
  let tags: Record<string, unknown>;
  try {
    exiftool ??= createExifTool({ taskTimeoutMs: PROBE_TIMEOUT_MS, idleMs: PROBE_IDLE_MS });
    tags = (await exiftool.readRaw(exiftoolPath(file), { readArgs: ['-fast', '-FileType', '-ImageSize#'] })) as Record<string, unknown>;
  } catch (err) {
    if (sniffed === 'tiff') return undefined; // sharp judges it as a TIFF, as it always did
    throw new AppError('unsupported_media_type', `not a readable camera RAW: ${String((err as Error)?.message ?? err).split('\n')[0]}`);
  }
  const rawFormat = rawFormatOfFileType(tags.FileType) ?? rawFormatFromMagic(head);
  if (!rawFormat) {
    if (sniffed === 'tiff') return undefined;
    throw new AppError('unsupported_media_type', 'not a readable camera RAW');
  }
  const [width, height] = String(tags.ImageSize ?? '').split(/[ x]/).map(Number);
  if (!width || !height || !Number.isInteger(width) || !Number.isInteger(height)) {
    const refused = new AppError('unsupported_media_type', `camera RAW (${rawFormat}) without image dimensions`);
    refused.context.format = `raw/${rawFormat}`;
    throw refused;
  }
  return { format: 'raw', rawFormat, width, height, pages: 1 };
}

/** Ends the probe's ExifTool process (at server close); the next probe starts another. */
export async function endRawProbe(): Promise<void> {
  const ending = exiftool;
  exiftool = undefined;
  await ending?.end();
}
