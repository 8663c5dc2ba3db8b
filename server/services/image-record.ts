import path from 'node:path';
import type { ImageRow, VariantRow } from '../db/images.repo.js';
import { EXTENSIONS, MIME_TYPES, type OutputFormat } from '../media/formats.js';
import { isoOrNull } from '../util/clock.js';

/** A variant past its expiry is reported expired even before the purge has run. */
export function effectiveVariantStatus(v: VariantRow, now: number): VariantRow['status'] {
  return v.status === 'done' && v.expires_at !== null && v.expires_at <= now ? 'expired' : v.status;
}

export function downloadUrl(imageId: string, variant: string): string {
  return `/v1/image/${imageId}/download?variant=${encodeURIComponent(variant)}`;
}

/** The image record of the API (CONTRACT §3). */
export function toImageRecord(image: ImageRow, variants: VariantRow[], now: number) {
  return {
    id: image.id,
    customer: image.customer,
    status: image.status,
    filename: image.filename,
    bytes: image.bytes,
    sha256: image.sha256,
    format: image.format,
    mimeType: MIME_TYPES[image.format as keyof typeof MIME_TYPES] ?? 'application/octet-stream',
    width: image.width,
    height: image.height,
    pages: image.pages,
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
        format: v.format,
        width: status === 'done' ? v.width : null,
        height: status === 'done' ? v.height : null,
        bytes: status === 'done' ? v.bytes : null,
        url: downloadUrl(image.id, v.name),
        expiresAt: isoOrNull(v.expires_at),
      };
    }),
  };
}

export type ImageRecord = ReturnType<typeof toImageRecord>;

/** "holiday.jpeg" + display/webp → "holiday-display.webp" */
export function variantFilename(original: string, variant: string, format: OutputFormat): string {
  const base = path.basename(original, path.extname(original)) || 'image';
  return `${base}-${variant}.${EXTENSIONS[format]}`;
}
