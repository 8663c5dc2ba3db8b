import exifr from 'exifr';
import sharp from 'sharp';
import { decodableInput } from './decoders.js';
import { classifyError } from './failures.js';
import { describeHeif } from './heif/describe.js';
import { createStopper } from './stopper.js';
import { exifDateToIso } from './exif-date.js';
import { EXIF_FIELDS } from './exif-fields.js';
import { extractRawMetadata } from './raw-metadata.js';
import type { ExtractedMetadata, MetadataResult, MetadataTask } from './types.js';

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
    // A HEIF image's EXIF as libheif finds it (exifr's own HEIF reader misses it in files
    // libheif wrote), its orientation and size from its container.
    const heif = task.format === 'heif' ? await describeHeif(task.input, meta) : undefined;
    // An SVG has no EXIF, and exifr would read the file to find none.
    const tags = task.format === 'svg' ? undefined : await readTags(heif ? meta.exif : task.input);
    const metadata: ExtractedMetadata = {
      format: meta.format === 'heif' && meta.compression === 'av1' ? 'avif' : meta.format,
      width: heif?.width ?? meta.width ?? 0,
      height: heif?.height ?? meta.pageHeight ?? meta.height ?? 0,
      orientation: heif?.orientation ?? meta.orientation ?? null,
      space: meta.space ?? null,
      channels: meta.channels ?? null,
      depth: meta.depth ?? null,
      density: meta.density ?? null,
      hasAlpha: meta.hasAlpha ?? false,
      pages: heif ? 1 : (meta.pages ?? 1),
      iccDescription: stringOrNull(iccDescription(meta.icc)),
      exif: pickExif(tags),
      gps: pickGps(tags),
    };
    return { ok: true, metadata };
  } catch (err) {
    return classifyError(err, stop);
  }
}

async function readTags(file: string | Buffer | undefined): Promise<Record<string, unknown> | undefined> {
  if (!file) return undefined;
  try {
    return await exifr.parse(file, {
      tiff: true,
      exif: true,
      gps: true,
      // The profile is read from what sharp found (iccDescription): exifr's own ICC reading
      // throws on a JPEG whose profile ends near the end of the file, losing the EXIF with it.
      icc: false,
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


/** The description in an ICC profile's header tags (`desc`), read by exifr's ICC parser. */
function iccDescription(icc: Buffer | undefined): string | undefined {
  if (!icc) return undefined;
  try {
    const parsed = exifr.segmentParsers.get('icc').parse(icc) as { ProfileDescription?: unknown } | undefined;
    return typeof parsed?.ProfileDescription === 'string' ? parsed.ProfileDescription : undefined;
  } catch {
    return undefined; // a profile without a readable description is not an error for the image
  }
}

const stringOrNull = (v: unknown) => (typeof v === 'string' && v.trim() ? v.trim() : null);
