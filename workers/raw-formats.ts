/**
 * Camera RAW formats. Darkroom's format for all of them is `raw`; which maker's format a file is
 * (`dng`, `cr2`, `nef`, …) is its `rawFormat`, named after the file extension cameras give it.
 * Media types are ExifTool's (Image::ExifTool %mimeType), the names libraries and browsers know.
 * ExifTool decides what a file is (its FileType); this table only names what it may answer.
 */
const RAW_MEDIA_TYPES: Readonly<Record<string, string>> = {
  '3fr': 'image/x-hasselblad-3fr',
  ari: 'image/x-raw',
  arq: 'image/x-sony-arq',
  arw: 'image/x-sony-arw',
  cr2: 'image/x-canon-cr2',
  cr3: 'image/x-canon-cr3',
  crw: 'image/x-canon-crw',
  dcr: 'image/x-kodak-dcr',
  dng: 'image/x-adobe-dng',
  erf: 'image/x-epson-erf',
  fff: 'image/x-hasselblad-fff',
  gpr: 'image/x-gopro-gpr',
  iiq: 'image/x-raw',
  k25: 'image/x-kodak-k25',
  kdc: 'image/x-kodak-kdc',
  mef: 'image/x-mamiya-mef',
  mos: 'image/x-raw',
  mrw: 'image/x-minolta-mrw',
  nef: 'image/x-nikon-nef',
  nrw: 'image/x-nikon-nrw',
  orf: 'image/x-olympus-orf',
  ori: 'image/x-olympus-orf',
  pef: 'image/x-pentax-pef',
  raf: 'image/x-fujifilm-raf',
  raw: 'image/x-raw',
  rw2: 'image/x-panasonic-rw2',
  rwl: 'image/x-leica-rwl',
  sr2: 'image/x-sony-sr2',
  srf: 'image/x-sony-srf',
  srw: 'image/x-samsung-srw',
  x3f: 'image/x-sigma-x3f',
};

/** ExifTool's FileType ("CR2", "NEF", …) → rawFormat, or undefined when it is not a camera RAW. */
export function rawFormatOfFileType(fileType: unknown): string | undefined {
  const name = typeof fileType === 'string' ? fileType.toLowerCase() : '';
  return Object.hasOwn(RAW_MEDIA_TYPES, name) ? name : undefined;
}

/** The media type an original of this RAW format is served with. */
export const rawMediaType = (rawFormat: string) => RAW_MEDIA_TYPES[rawFormat] ?? 'image/x-raw';

/** file-type's media types for the RAW containers it recognises → rawFormat. */
export const RAW_BY_SNIFFED_MIME: Readonly<Record<string, string>> = {
  'image/x-adobe-dng': 'dng',
  'image/x-canon-cr2': 'cr2',
  'image/x-canon-cr3': 'cr3',
  'image/x-nikon-nef': 'nef',
  'image/x-sony-arw': 'arw',
  'image/x-fujifilm-raf': 'raf',
  'image/x-olympus-orf': 'orf',
  'image/x-panasonic-rw2': 'rw2',
};

/**
 * RAW containers file-type does not know, by their magic numbers (ExifTool's own tests):
 * without these their first bytes would be refused as "not an image". TIFF-based RAWs that
 * file-type takes for TIFF (NEF of some cameras, PEF, SRW, IIQ, 3FR, ERF, …) are told apart later,
 * from the whole file, by ExifTool (server/media/probe-raw.ts); the Phase One mark is here for
 * the IIQs ExifTool recognises only by their size or their name.
 */
export function rawFormatFromMagic(head: Uint8Array): string | undefined {
  const bytes = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  if (bytes.length >= 14 && bytes.toString('latin1', 6, 14) === 'HEAPCCDR' && bytes.toString('latin1', 0, 2) === 'II') return 'crw';
  if (bytes.length >= 4 && bytes.toString('latin1', 0, 4) === '\0MRM') return 'mrw';
  if (bytes.length >= 4 && bytes.toString('latin1', 0, 4) === 'FOVb') return 'x3f';
  // Phase One: a TIFF header, then its own directory's mark (ExifTool's PhaseOne.pm).
  if (bytes.length >= 16 && /^(II\*\0|MM\0\*)....(IIII.waR|MMMMRaw.)/s.test(bytes.toString('latin1', 0, 16))) return 'iiq';
  return undefined;
}

/** The statistics key of an image's format: `raw/<rawFormat>` for a RAW, its format otherwise. */
export const statsFormat = (format: string, rawFormat?: string | null) => (format === 'raw' && rawFormat ? `raw/${rawFormat}` : format);

/** A statistics key split back into the format and the RAW sub-format (docs/statistics.md). */
export function splitStatsFormat(key: string): { format: string; rawFormat?: string } {
  const slash = key.indexOf('/');
  return slash < 0 ? { format: key } : { format: key.slice(0, slash), rawFormat: key.slice(slash + 1) };
}
