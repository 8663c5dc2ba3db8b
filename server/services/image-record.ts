import path from 'node:path';
import type { ImageRecord, InputFormat } from '../api/index.js';
import type { ImageRow, VariantRow } from '../db/images.repo.js';
import { EXTENSIONS, MIME_TYPES, type OutputFormat } from '../media/formats.js';
import { isoOrNull } from '../util/clock.js';
import { rawMediaType } from '../../workers/raw-formats.js';

/** A variant past its expiry is reported expired even before the purge has run. */
export function effectiveVariantStatus(v: VariantRow, now: number): VariantRow['status'] {
  return v.status === 'done' && v.expires_at !== null && v.expires_at <= now ? 'expired' : v.status;
}

export function downloadUrl(imageId: string, variant: string): string {
  return `/v1/image/${imageId}/download?variant=${encodeURIComponent(variant)}`;
}

/** The image record of the API (CONTRACT §3; its schema is server/api/images.ts). */
export function toImageRecord(image: ImageRow, variants: VariantRow[], now: number): ImageRecord {
  return {
    id: image.id,
    customer: image.customer,
    status: image.status,
    filename: image.filename,
    bytes: image.bytes,
    sha256: image.sha256,
    // A row holds only a format the sniffer accepted at ingest (media/formats.ts).
    format: image.format as InputFormat,
    mimeType: originalMediaType(image),
    width: image.width,
    height: image.height,
    pages: image.pages,
    ...rawFields(image),
    createdAt: isoOrNull(image.created_at)!,
    processedAt: isoOrNull(image.processed_at),
    error: image.error_code ? { code: image.error_code, message: image.error_message ?? '' } : null,
    thumbhash: image.thumbhash,
    dominantColor: image.dominant_color,
    url: downloadUrl(image.id, 'original'),
    variants: variants.map((v) => {
      const status = effectiveVariantStatus(v, now);
      return {
        name: v.name,
        status,
        format: v.format as OutputFormat,
        width: status === 'done' ? v.width : null,
        height: status === 'done' ? v.height : null,
        bytes: status === 'done' ? v.bytes : null,
        url: downloadUrl(image.id, v.name),
        expiresAt: isoOrNull(v.expires_at),
      };
    }),
  };
}

export type { ImageRecord };

/** The media type of an original: a camera RAW's is its maker's format's (image/x-canon-cr2, …). */
export function originalMediaType(image: Pick<ImageRow, 'format' | 'raw_format'>): string {
  if (image.format === 'raw' && image.raw_format) return rawMediaType(image.raw_format);
  return MIME_TYPES[image.format as keyof typeof MIME_TYPES] ?? 'application/octet-stream';
}

/**
 * A camera RAW's own fields, only on RAW records: its maker's format, and the size of the
 * embedded preview its variants were made from (null until processed). A variant never comes
 * out larger than the preview unless its spec allows enlarging.
 */
function rawFields(image: ImageRow): { rawFormat?: string; preview?: { width: number; height: number } | null } {
  if (image.format !== 'raw') return {};
  const preview = image.preview_width && image.preview_height ? { width: image.preview_width, height: image.preview_height } : null;
  return { rawFormat: image.raw_format ?? 'raw', preview };
}

/** "holiday.jpeg" + display/webp → "holiday-display.webp" */
export function variantFilename(original: string, variant: string, format: OutputFormat): string {
  const base = path.basename(original, path.extname(original)) || 'image';
  return `${base}-${variant}.${EXTENSIONS[format]}`;
}

/**
 * A camera RAW's own fields of the metadata answer: its maker's format, the sensor's size as the
 * camera recorded it (null when the maker's notes do not say), and the preview's size.
 */
export function rawMetadataFields(image: ImageRow, extracted: Record<string, unknown> | undefined) {
  if (image.format !== 'raw') return {};
  return { ...rawFields(image), sensor: (extracted?.sensor as { width: number; height: number } | null | undefined) ?? null };
}
