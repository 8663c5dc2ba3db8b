import exifr from 'exifr';
import sharp from 'sharp';
import { decodableInput } from './decoders.js';
import { classifyError } from './failures.js';
import { createStopper } from './stopper.js';
import { extractRawMetadata } from './raw-metadata.js';
import type { ExtractedMetadata, MetadataResult, MetadataTask } from './types.js';

/** EXIF tags surfaced by the API, under the names the API gives them. */
const EXIF_FIELDS: Record<string, string> = {
  Make: 'make',
  Model: 'model',
  LensMake: 'lensMake',
  LensModel: 'lensModel',
  DateTimeOriginal: 'dateTimeOriginal',
  OffsetTimeOriginal: 'offsetTimeOriginal',
  ExposureTime: 'exposureTime',
  FNumber: 'fNumber',
  ISO: 'iso',
  FocalLength: 'focalLength',
  FocalLengthIn35mmFormat: 'focalLengthIn35mm',
  ExposureCompensation: 'exposureCompensation',
  ExposureProgram: 'exposureProgram',
  MeteringMode: 'meteringMode',
  Flash: 'flash',
  WhiteBalance: 'whiteBalance',
  Software: 'software',
  Artist: 'artist',
  Copyright: 'copyright',
  ImageDescription: 'imageDescription',
};

/**
 * Header-only metadata: sharp for the image structure, exifr for EXIF, GPS and the ICC profile
 * name. Neither decodes pixels, and exifr reads only the segments it needs.
 */
export async function extractMetadata(task: MetadataTask): Promise<MetadataResult> {
  if (task.format === 'raw') return await extractRawMetadata(task);
  const stop = createStopper(task);
  try {
    const meta = await sharp(await decodableInput(task.input, task.format), { limitInputPixels: false }).metadata();
    stop.check();
    // An SVG has no EXIF, and exifr would read the file to find none.
    const tags = task.format === 'svg' ? undefined : await readTags(task.input);
    const metadata: ExtractedMetadata = {
      format: meta.format === 'heif' && meta.compression === 'av1' ? 'avif' : meta.format,
      width: meta.width ?? 0,
      height: meta.pageHeight ?? meta.height ?? 0,
      orientation: meta.orientation ?? null,
      space: meta.space ?? null,
      channels: meta.channels ?? null,
      depth: meta.depth ?? null,
      density: meta.density ?? null,
      hasAlpha: meta.hasAlpha ?? false,
      pages: meta.pages ?? 1,
      iccDescription: stringOrNull(tags?.ProfileDescription),
      exif: pickExif(tags),
      gps: pickGps(tags),
    };
    return { ok: true, metadata };
  } catch (err) {
    return classifyError(err, stop);
  }
}

async function readTags(file: string): Promise<Record<string, unknown> | undefined> {
  try {
    return await exifr.parse(file, {
      tiff: true,
      exif: true,
      gps: true,
      icc: true,
      ifd1: false,
      iptc: false,
      xmp: false,
      jfif: false,
      ihdr: false,
      interop: false,
      makerNote: false,
      userComment: false,
      // Keep dates as the camera wrote them: reviving them would read them in the server's
      // time zone, which the camera never knew.
      reviveValues: false,
      translateValues: true,
      mergeOutput: true,
    });
  } catch {
    return undefined; // no or unreadable EXIF is not an error for the image
  }
}

function pickExif(tags: Record<string, unknown> | undefined): Record<string, unknown> | null {
  if (!tags) return null;
  const exif: Record<string, unknown> = {};
  for (const [tag, name] of Object.entries(EXIF_FIELDS)) {
    let value = tags[tag];
    if (tag === 'ISO' && value === undefined) value = tags.ISOSpeedRatings ?? tags.PhotographicSensitivity;
    if (Array.isArray(value)) value = value[0];
    if (value === undefined || value === null || value === '') continue;
    if (tag === 'DateTimeOriginal' && typeof value === 'string') value = exifDateToIso(value);
    exif[name] = typeof value === 'string' ? value.replace(/\0+$/, '').trim() : value;
  }
  return Object.keys(exif).length ? exif : null;
}

function pickGps(tags: Record<string, unknown> | undefined) {
  const latitude = tags?.latitude;
  const longitude = tags?.longitude;
  if (typeof latitude !== 'number' || typeof longitude !== 'number' || !Number.isFinite(latitude + longitude)) return null;
  let altitude: number | null = typeof tags?.GPSAltitude === 'number' ? tags.GPSAltitude : null;
  if (altitude !== null && (tags?.GPSAltitudeRef === 1 || tags?.GPSAltitudeRef === 'Below sea level')) altitude = -altitude;
  return { latitude, longitude, altitude };
}

/** "2024:06:01 14:03:22" → "2024-06-01T14:03:22" (local camera time, no zone: EXIF has none). */
export function exifDateToIso(value: string): string {
  const m = /^(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})/.exec(value);
  return m ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}` : value;
}

const stringOrNull = (v: unknown) => (typeof v === 'string' && v.trim() ? v.trim() : null);
