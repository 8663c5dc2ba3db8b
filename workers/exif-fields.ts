export /** EXIF tags surfaced by the API, under the names the API gives them. */
const EXIF_FIELDS: Readonly<Record<string, string>> = {
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

/** An EXIF orientation (1–8) from a tag's value; 1 (as stored) for anything else. */
export function orientationOf(value: unknown): number {
  const n = Number(value);
  return Number.isInteger(n) && n >= 1 && n <= 8 ? n : 1;
}
