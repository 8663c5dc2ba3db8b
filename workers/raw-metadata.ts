import fs from 'node:fs';
import { exiftoolPath, withExifTool } from './exiftool.js';
import { classifyError } from './failures.js';
import { exifDateToIso } from './exif-date.js';
import { EXIF_FIELDS, orientationOf } from './exif-fields.js';
import { rawFormatOfFileType } from './raw-formats.js';
import { createStopper } from './stopper.js';
import type { ExtractedMetadata, MetadataResult, MetadataTask } from './types.js';

/**
 * ExifTool reads the API's EXIF fields (exif-fields.ts) under the same tag names. Those the API
 * gives as numbers are read as numbers (`#`: ExifTool's value before print conversion); the
 * rest as ExifTool prints them ("Manual", "Auto", "Off, Did not fire").
 */
const NUMERIC_TAGS: ReadonlySet<string> = new Set(['ExposureTime', 'FNumber', 'ISO', 'FocalLength', 'FocalLengthIn35mmFormat', 'ExposureCompensation']);
const readTag = (tag: string) => (NUMERIC_TAGS.has(tag) ? `${tag}#` : tag);
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
    const readArgs = ['FileType', 'Orientation#', LENS_FALLBACK, ...Object.keys(EXIF_FIELDS).map(readTag), ...SIZE_TAGS, ...GPS_TAGS].map((t) => `-${t}`);
    const tags = await withExifTool(stop, (exiftool) => exiftool.readTags(file, readArgs));
    stop.check();
    const [width, height] = pair(tags.ImageSize);
    const metadata: ExtractedMetadata = {
      format: 'raw',
      rawFormat: rawFormatOfFileType(tags.FileType),
      width: width ?? 0,
      height: height ?? 0,
      orientation: orientationOf(tags.Orientation),
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
  for (const [tag, name] of Object.entries(EXIF_FIELDS)) {
    let value = tags[tag];
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

