import { z } from 'zod';
import { IdParams, Sha256, Timestamp, pageOf } from './common.js';
import { Fit, ImageStatus, InputFormat, OutputFormat, Position, VariantStatus } from './enums.js';
import { DEFAULT_PAGE_LIMIT, MAX_OUTPUT_SIDE, MAX_PAGE_LIMIT, MAX_VARIANTS } from './vocabulary.js';
import { PresetName } from './presets.js';

// ---------------------------------------------------------------------------------------------
// Requests

const side = z
  .number()
  .int()
  .min(1)
  .max(MAX_OUTPUT_SIDE, `at most ${MAX_OUTPUT_SIDE} pixels a side (the output cap)`);

const VariantName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'name: 1–32 lower-case letters, digits, "_" or "-"')
  .refine((n) => n !== 'original', 'name "original" is reserved for the uploaded file')
  .meta({ description: 'The variant\'s name, used in `download?variant=`; "original" is reserved' });

/** One variant an upload asks for (CONTRACT §3 `variants`). */
export const VariantSpec = z
  .strictObject({
    name: VariantName,
    width: side.optional().meta({ description: 'Box width in pixels; without it, the source\'s proportion decides' }),
    height: side.optional().meta({ description: 'Box height in pixels; without it, the source\'s proportion decides' }),
    fit: Fit.default('inside').meta({ description: 'How the image fits the box (sharp\'s fit); default inside' }),
    position: Position.optional().meta({ description: 'What a crop keeps (fit cover or contain); center when absent; entropy and attention only with fit cover' }),
    format: OutputFormat.default('webp').meta({ description: 'The format written; default webp' }),
    quality: z.number().int().min(1).max(100).optional().meta({ description: 'Encoder quality 1–100; the format\'s default when absent' }),
    withoutEnlargement: z.boolean().default(true).meta({ description: 'Never scale up past the original\'s size' }),
  })
  .meta({ id: 'VariantSpec' });
/** A variant as the client writes it (defaults may be left out). */
export type VariantSpecInput = z.input<typeof VariantSpec>;
/** A variant with its defaults filled in. */
export type VariantSpec = z.output<typeof VariantSpec>;

/**
 * A variant made as a preset renders (CONTRACT §10): `{"name": "card", "preset": "card"}`. The
 * preset is resolved when the upload is accepted into a VariantSpec with the same output as a
 * render of the preset; changing the preset later does not change the variant.
 */
export const PresetVariantSpec = z
  .strictObject({
    name: VariantName,
    preset: PresetName.meta({ description: 'A preset (GET /v1/presets) with a fixed format; resolved when the upload is accepted' }),
  })
  .meta({ id: 'PresetVariantSpec' });
export type PresetVariantSpec = z.infer<typeof PresetVariantSpec>;

/** A variant as an upload asks for it: its own parameters, or a preset's. */
export const VariantRequest = z.union([PresetVariantSpec, VariantSpec]);
export type VariantRequest = z.output<typeof VariantRequest>;

export const VariantList = z
  .array(VariantRequest)
  .min(1, 'give at least one variant')
  .max(MAX_VARIANTS, `at most ${MAX_VARIANTS} variants`)
  .refine((list) => new Set(list.map((v) => v.name)).size === list.length, 'variant names must be unique')
  .meta({ description: `1–${MAX_VARIANTS} variants replacing the defaults (thumb, display); names unique` });

/** `variants` as it travels in a query, a form field or tus metadata: the JSON text of a VariantList. */
export const VariantsText = z
  .string()
  .max(64 * 1024)
  .meta({ description: 'JSON text of a variant list, e.g. [{"name":"hero","width":1600,"height":900,"fit":"cover","format":"avif","quality":50},{"name":"card","preset":"card"}]' });

/** The query of `POST|PUT /v1/image`: `variants` may come here instead of as a form field. */
export const UploadQuery = z.strictObject({ variants: VariantsText.optional() });
export type UploadQuery = z.infer<typeof UploadQuery>;

/** `GET /v1/images` */
export const ListImagesQuery = z.strictObject({
  status: ImageStatus.optional().meta({ description: 'Only images in this status' }),
  limit: z.coerce.number().int().min(1).max(MAX_PAGE_LIMIT).default(DEFAULT_PAGE_LIMIT).meta({ description: 'Records per page' }),
  cursor: z.string().min(1).max(512).optional().meta({ description: 'The previous page\'s nextCursor' }),
  customer: z.string().min(1).max(64).optional().meta({ description: 'Admin keys only: one customer\'s images (others see their own anyway)' }),
});
export type ListImagesQuery = z.infer<typeof ListImagesQuery>;

/** `GET /v1/image/{id}/download` */
export const DownloadQuery = z.strictObject({
  variant: z.string().min(1).max(64).default('display').meta({ description: 'A variant\'s name, or "original" for the upload byte for byte' }),
});
export type DownloadQuery = z.infer<typeof DownloadQuery>;

/** `{id}` of `/v1/image/{id}`, `/v1/image/{id}/metadata`, … */
export const ImageParams = IdParams;

// ---------------------------------------------------------------------------------------------
// Responses

const Pixels = z.number().int().min(0);

export const Variant = z
  .strictObject({
    name: z.string(),
    status: VariantStatus,
    format: OutputFormat,
    width: Pixels.nullable().meta({ description: 'Null until processed' }),
    height: Pixels.nullable().meta({ description: 'Null until processed' }),
    bytes: z.number().int().min(0).nullable().meta({ description: 'Null until processed' }),
    url: z.string().meta({ description: 'Its download path (needs the key)' }),
    expiresAt: Timestamp.nullable().meta({ description: 'When its processed file expires; null until processed' }),
  })
  .meta({ id: 'Variant' });
export type Variant = z.infer<typeof Variant>;

const Size = z.strictObject({ width: Pixels, height: Pixels });

/** The image record (CONTRACT §3). */
export const ImageRecord = z
  .strictObject({
    id: z.string().meta({ description: 'The image id (UUID v7)' }),
    customer: z.string(),
    status: ImageStatus,
    filename: z.string().meta({ description: 'The name it was uploaded under' }),
    bytes: z.number().int().min(0),
    sha256: Sha256,
    format: InputFormat,
    mimeType: z.string().meta({ description: 'The original\'s media type' }),
    width: Pixels,
    height: Pixels,
    pages: z.number().int().min(1).meta({ description: 'Frames or pages of the original' }),
    rawFormat: z.string().optional().meta({ description: 'Camera RAWs only: the maker\'s format (dng, cr3, nef, …)' }),
    preview: Size.nullable()
      .optional()
      .meta({ description: 'Camera RAWs only: the embedded preview variants are made from; null until processed' }),
    createdAt: Timestamp,
    processedAt: Timestamp.nullable(),
    error: z.strictObject({ code: z.string(), message: z.string() }).nullable().meta({ description: 'Why processing failed (corrupt_image, processing_timeout, …); null otherwise' }),
    thumbhash: z.string().nullable().meta({ description: 'ThumbHash of the image, base64; null until processed' }),
    dominantColor: z.string().nullable().meta({ description: 'Dominant colour as #rrggbb; null until processed' }),
    url: z.string().meta({ description: 'The original\'s download path' }),
    variants: z.array(Variant),
  })
  .meta({ id: 'ImageRecord' });
export type ImageRecord = z.infer<typeof ImageRecord>;

/** `POST /v1/image`, `POST /v1/image/import`: one record, or an array for several files. */
export const UploadResponse = z.union([ImageRecord, z.array(ImageRecord)]).meta({ description: 'The record, or an array of records for several files' });
export type UploadResponse = z.infer<typeof UploadResponse>;

/** `GET /v1/images` */
export const ImagePage = pageOf(ImageRecord).meta({ id: 'ImagePage' });
export type ImagePage = z.infer<typeof ImagePage>;

const Exif = z
  .object({
    make: z.string().optional(),
    model: z.string().optional(),
    lensMake: z.string().optional(),
    lensModel: z.string().optional(),
    dateTimeOriginal: z.string().optional(),
    exposureTime: z.number().optional(),
    fNumber: z.number().optional(),
    iso: z.number().optional(),
    focalLength: z.number().optional(),
    focalLengthIn35mm: z.number().optional(),
  })
  // Cameras write many more tags; the ones above are those every format reads (workers/exif-fields.ts).
  .catchall(z.unknown())
  .meta({ description: 'EXIF fields read from the original; null when it has none' });

/** `GET /v1/image/metadata/{id}` (CONTRACT §3). */
export const ImageMetadata = z
  .strictObject({
    id: z.string(),
    format: InputFormat,
    mimeType: z.string(),
    rawFormat: z.string().optional().meta({ description: 'Camera RAWs only: the maker\'s format' }),
    preview: Size.nullable().optional().meta({ description: 'Camera RAWs only: the embedded preview\'s size' }),
    sensor: Size.nullable().optional().meta({ description: 'Camera RAWs only: the sensor\'s size where the maker\'s notes say' }),
    bytes: z.number().int().min(0),
    sha256: Sha256,
    width: Pixels,
    height: Pixels,
    orientation: z.number().int().min(1).max(8).nullable().meta({ description: 'EXIF orientation 1–8' }),
    space: z.string().nullable().meta({ description: 'Colour space (srgb, cmyk, …)' }),
    channels: z.number().int().nullable(),
    depth: z.string().nullable().meta({ description: 'Pixel depth as sharp names it (uchar, ushort, …)' }),
    density: z.number().nullable().meta({ description: 'Pixels per inch' }),
    hasAlpha: z.boolean().nullable(),
    pages: z.number().int().min(1),
    iccDescription: z.string().nullable().meta({ description: 'The embedded ICC profile\'s description' }),
    exif: Exif.nullable(),
    gps: z
      .strictObject({ latitude: z.number().min(-90).max(90), longitude: z.number().min(-180).max(180), altitude: z.number().nullable().optional() })
      .nullable(),
    dominantColor: z.string().nullable(),
    thumbhash: z.string().nullable(),
    extracted: z.boolean().meta({ description: 'False until metadata extraction ran: the fields it fills are null until then' }),
  })
  .meta({ id: 'ImageMetadata' });
export type ImageMetadata = z.infer<typeof ImageMetadata>;
