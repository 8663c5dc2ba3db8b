/**
 * What crosses the thread boundary between the job runner and the image workers: plain data
 * only (paths, numbers, options), never handles to the database or config.
 */

export type Fit = 'cover' | 'contain' | 'fill' | 'inside' | 'outside';
export type OutputFormat = 'webp' | 'avif' | 'jpeg' | 'png';

export interface VariantSpec {
  name: string;
  width?: number;
  height?: number;
  fit: Fit;
  format: OutputFormat;
  quality?: number;
  /** Never scale up past the original's size. */
  withoutEnlargement: boolean;
}

export interface ProcessTask {
  input: string;
  /** Decode every frame (animated GIF/WebP) instead of the first one only. */
  animated: boolean;
  maxInputPixels: number;
  variants: Array<{ spec: VariantSpec; output: string }>;
}

export interface VariantResult {
  name: string;
  format: OutputFormat;
  width: number;
  height: number;
  bytes: number;
  sha256: string;
}

export type WorkerFailure = { ok: false; code: 'corrupt_image' | 'original_missing' | 'processing_failed'; message: string; retryable: boolean };

export type ProcessResult =
  | { ok: true; variants: VariantResult[]; thumbhash: string; dominantColor: string }
  | WorkerFailure;

export interface MetadataTask {
  input: string;
}

export interface ExtractedMetadata {
  format: string;
  width: number;
  height: number;
  orientation: number | null;
  space: string | null;
  channels: number | null;
  depth: string | null;
  density: number | null;
  hasAlpha: boolean;
  pages: number;
  iccDescription: string | null;
  exif: Record<string, unknown> | null;
  gps: { latitude: number; longitude: number; altitude: number | null } | null;
}

export type MetadataResult = { ok: true; metadata: ExtractedMetadata } | WorkerFailure;
