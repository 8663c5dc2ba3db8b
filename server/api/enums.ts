import { z } from 'zod';
import { FITS, IMAGE_STATUSES, INPUT_FORMATS, OUTPUT_FORMATS, POSITIONS, PROCESSING_ERROR_CODES, RENDER_FORMATS, ROLES, VARIANT_STATUSES } from './vocabulary.js';

/** The enumerations of vocabulary.ts as schemas, each with what it means for a reader of the API. */
export const Role = z.enum(ROLES).meta({ id: 'Role', description: 'user: its customer\'s images; business: statistics of all customers, read-only; admin: everything' });
export type Role = z.infer<typeof Role>;
export const ImageStatus = z.enum(IMAGE_STATUSES).meta({ id: 'ImageStatus', description: 'Where the image is in its processing' });
export type ImageStatus = z.infer<typeof ImageStatus>;
export const VariantStatus = z.enum(VARIANT_STATUSES).meta({ id: 'VariantStatus', description: 'pending until processed; expired once its file passed --processed-ttl' });
export type VariantStatus = z.infer<typeof VariantStatus>;
export const InputFormat = z.enum(INPUT_FORMATS).meta({ id: 'InputFormat', description: 'The uploaded image\'s format as sharp names it; raw is any camera RAW' });
export type InputFormat = z.infer<typeof InputFormat>;
export const OutputFormat = z.enum(OUTPUT_FORMATS).meta({ id: 'OutputFormat', description: 'A format variants are written in' });
export type OutputFormat = z.infer<typeof OutputFormat>;
export const Fit = z.enum(FITS).meta({ id: 'Fit', description: 'How the image fits the box of width × height, as sharp\'s fit' });
export type Fit = z.infer<typeof Fit>;
export const ProcessingErrorCode = z.enum(PROCESSING_ERROR_CODES).meta({ description: 'Why processing failed' });
export type ProcessingErrorCode = z.infer<typeof ProcessingErrorCode>;
export const Position = z.enum(POSITIONS).meta({ id: 'Position', description: 'Where a crop keeps the image: a side, the centre, or by content (entropy, attention: only with fit cover)' });
export type Position = z.infer<typeof Position>;
export const RenderFormat = z.enum(RENDER_FORMATS).meta({ id: 'RenderFormat', description: 'The format written; auto picks AVIF, WebP, PNG or JPEG from Accept and the source' });
export type RenderFormat = z.infer<typeof RenderFormat>;
