import fs from 'node:fs';
import { exiftoolPath, withExifTool } from './exiftool.js';
import { classifyError } from './failures.js';
import { exifDateToIso } from './exif-date.js';
import { rawFormatOfFileType } from './raw-formats.js';
import { rawOrientation } from './raw-preview.js';
import { createStopper } from './stopper.js';
import type { ExtractedMetadata, MetadataResult, MetadataTask } from './types.js';

/**
 * ExifTool tags → the API's EXIF fields (the same names as for other formats, workers/metadata.ts).
 * Numbers are read as numbers (`#`: ExifTool's value before print conversion) where the API
 * gives numbers; the rest as ExifTool prints them ("Manual", "Auto", "Off, Did not fire").
 */
const EXIF_FIELDS: ReadonlyArray<[tag: string, name: string]> = [
  ['Make', 'make'],
  ['Model', 'model'],
  ['LensMake', 'lensMake'],
  ['LensModel', 'lensModel'],
  ['DateTimeOriginal', 'dateTimeOriginal'],
  ['OffsetTimeOriginal', 'offsetTimeOriginal'],
  ['ExposureTime#', 'exposureTime'],
  ['FNumber#', 'fNumber'],
  ['ISO#', 'iso'],
  ['FocalLength#', 'focalLength'],
  ['FocalLengthIn35mmFormat#', 'focalLengthIn35mm'],
  ['ExposureCompensation#', 'exposureCompensation'],
  ['ExposureProgram', 'exposureProgram'],
  ['MeteringMode', 'meteringMode'],
  ['Flash', 'flash'],
  ['WhiteBalance', 'whiteBalance'],
  ['Software', 'software'],
  ['Artist', 'artist'],
  ['Copyright', 'copyright'],
  ['ImageDescription', 'imageDescription'],
];
/** Older cameras name the lens only in their maker notes, which ExifTool gives as `Lens`. */
const LENS_FALLBACK = 'Lens';
const SIZE_TAGS = ['ImageSize#', 'SensorWidth#', 'SensorHeight#', 'RawImageFullSize#'];
const GPS_TAGS = ['GPSLatitude#', 'GPSLongitude#', 'GPSAltitude#'];

/**
 * A camera RAW's metadata, all from ExifTool (libvips reads none of these formats, and exifr
 * only some): make, model, lens, exposure, the date, GPS, orientation, the photo's size and
 * the sensor's. Nothing is decoded; ExifTool reads the header and maker notes.
 */
export async function extractRawMetadata(task: MetadataTask): Promise<MetadataResult> {
  const stop = createStopper(task);
  try {
    const file = exiftoolPath(task.input);
    // A missing original is original_missing, not ExifTool failing to read it.
    await fs.promises.access(file, fs.constants.R_OK);
    const { tags, orientation } = await withExifTool(stop, async (exiftool) => {
      const readArgs = ['-FileType', LENS_FALLBACK, ...EXIF_FIELDS.map(([t]) => t), ...SIZE_TAGS, ...GPS_TAGS].map((t) => (t.startsWith('-') ? t : `-${t}`));
      const tags = await exiftool.readTags(file, readArgs);
      return { tags, orientation: await rawOrientation(exiftool, file) };
    });
    stop.check();
    const [width, height] = pair(tags.ImageSize);
    const metadata: ExtractedMetadata = {
      format: 'raw',
      rawFormat: rawFormatOfFileType(tags.FileType),
      width: width ?? 0,
      height: height ?? 0,
      orientation,
      space: null,
      channels: null,
      depth: null,
      density: null,
      hasAlpha: false,
      pages: 1,
      iccDescription: null,
      exif: pickExif(tags),
      gps: pickGps(tags),
      sensor: pickSensor(tags),
    };
    return { ok: true, metadata };
  } catch (err) {
    return classifyError(err, stop);
  }
}

function pickExif(tags: Record<string, unknown>): Record<string, unknown> | null {
  const exif: Record<string, unknown> = {};
  for (const [tag, name] of EXIF_FIELDS) {
    let value = tags[tag.replace(/#$/, '')];
    if (name === 'lensModel' && isBlank(value)) value = tags[LENS_FALLBACK];
    if (isBlank(value)) continue;
    if (name === 'dateTimeOriginal') value = exifDateToIso(String(value));
    exif[name] = typeof value === 'string' ? value.trim() : value;
  }
  return Object.keys(exif).length ? exif : null;
}

/** ExifTool's composite GPS tags, signed by their reference (south, west, below sea level). */
function pickGps(tags: Record<string, unknown>) {
  const latitude = tags.GPSLatitude;
  const longitude = tags.GPSLongitude;
  if (typeof latitude !== 'number' || typeof longitude !== 'number' || !Number.isFinite(latitude + longitude)) return null;
  const altitude = typeof tags.GPSAltitude === 'number' && Number.isFinite(tags.GPSAltitude) ? tags.GPSAltitude : null;
  return { latitude, longitude, altitude };
}

/** The sensor's size as the maker's notes give it (Canon, Panasonic, Minolta, Phase One: SensorWidth/Height; Fujifilm: RawImageFullSize). */
function pickSensor(tags: Record<string, unknown>) {
  const width = Number(tags.SensorWidth);
  const height = Number(tags.SensorHeight);
  if (width > 0 && height > 0) return { width, height };
  const [w, h] = pair(tags.RawImageFullSize);
  return w && h ? { width: w, height: h } : null;
}

/** "6000 4000" (ExifTool's numeric ImageSize) → [6000, 4000]. */
function pair(value: unknown): [number?, number?] {
  const [a, b] = String(value ?? '').split(/[ x]/).map(Number);
  return a && b && Number.isInteger(a) && Number.isInteger(b) ? [a, b] : [];
}

const isBlank = (value: unknown) => value === undefined || value === null || (typeof value === 'string' && !value.trim());

