import { AppError } from '../errors.js';
import { createExifTool, ExifToolFailed, type ExifToolSession } from '../../workers/exiftool.js';
import { rawFormatFromMagic, rawFormatOfFileType } from '../../workers/raw-formats.js';

/**
 * The server's own ExifTool, for telling camera RAWs apart at upload: one Perl process, started
 * with the first RAW or TIFF and ended after a minute without one, or by `endRawProbe()` when the
 * server closes. Each probe reads a few header tags (`-fast`), milliseconds of that process.
 */
let exiftool: ExifToolSession | undefined;
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
 * ExifTool not answering is a 503 (`unavailable`), whatever the file looked like.
 */
export async function probeRaw(file: string, sniffed: 'raw' | 'tiff', head: Uint8Array): Promise<ProbedRaw | undefined> {
  const tags = await probeTags(file);
  if (!tags) {
    if (sniffed === 'tiff') return undefined; // sharp judges it as a TIFF, as it always did
    throw new AppError('unsupported_media_type', 'not a readable camera RAW: ExifTool cannot read it');
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

/** How long a client is asked to wait when ExifTool does not answer (a new process starts meanwhile). */
const RETRY_AFTER_SECONDS = 10;

/**
 * The header tags of `file`, or undefined when ExifTool answers but cannot read this file. ExifTool
 * answers for any file it can open, readable or not (its verdict is in the answer), so a command
 * that fails is ExifTool failing, not the file: its process is replaced and the command tried
 * once more. Failing twice, it is the file only if a new ExifTool then answers a plain question
 * (one that hangs or kills ExifTool on reading); otherwise ExifTool itself is unavailable and
 * the upload is answered 503 with Retry-After, never a 415 that would tell the client its photo
 * is not one.
 */
async function probeTags(file: string): Promise<Record<string, unknown> | undefined> {
  for (let attempt = 1; attempt <= 2; attempt++) {
    try {
      return await probeExifTool().readTags(file, ['-fast', '-FileType', '-ImageSize#']);
    } catch (err) {
      if (!(err instanceof ExifToolFailed)) throw err;
      replaceProbeExifTool();
    }
  }
  try {
    await probeExifTool().version();
    return undefined;
  } catch {
    replaceProbeExifTool();
    throw new AppError('unavailable', 'camera RAWs cannot be read right now (ExifTool does not answer); try again shortly', {
      'Retry-After': String(RETRY_AFTER_SECONDS),
    });
  }
}

const probeExifTool = () => (exiftool ??= createExifTool({ taskTimeoutMs: PROBE_TIMEOUT_MS, idleMs: PROBE_IDLE_MS }));

/** Ends a process that failed a command (in the background: it may be hung); the next probe starts another. */
function replaceProbeExifTool(): void {
  const failed = exiftool;
  exiftool = undefined;
  failed?.end().catch(() => undefined);
}

/** Ends the probe's ExifTool process (at server close); the next probe starts another. */
export async function endRawProbe(): Promise<void> {
  const ending = exiftool;
  exiftool = undefined;
  await ending?.end();
}
