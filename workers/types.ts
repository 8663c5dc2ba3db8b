/**
 * What crosses the thread boundary between the job runner and the image workers: plain data
 * only (paths, numbers, options), never handles to the database or config.
 */

import type { StopControl } from './stopper.js';
import type { SvgRenderReport } from './svg-render.js';

// A variant is what the API's variant spec says, its defaults filled in (server/api/images.ts);
// type-only, so no schema code is loaded into a worker.
import type { OutputFormat } from '../server/api/enums.js';
import type { VariantSpec } from '../server/api/images.js';
export type { Fit, OutputFormat } from '../server/api/enums.js';
export type { VariantSpec } from '../server/api/images.js';
export type { Position } from '../server/api/enums.js';

/**
 * One output as the operation table reads it (workers/operations.ts): a variant without its
 * name, which is also what a render asks for.
 */
export type OutputSpec = Omit<VariantSpec, 'name'>;

// How the runner stops a task that runs is the stopper's own contract (it is defined there, so
// the stopper, which svg-render.ts uses, does not import this module back).
export type { StopControl } from './stopper.js';

export interface ProcessTask extends StopControl {
  input: string;
  /** The original's format as probed at ingest: an SVG is decoded from its bytes, never its path. */
  format: string;
  /** Decode every frame (animated GIF/WebP) instead of the first one only. */
  animated: boolean;
  maxInputPixels: number;
  /** No variant comes out larger than this (workers/output-caps.ts). */
  maxOutputPixels: number;
  /** A path in the same temp folder the task may use for a decoded intermediate; removed by the caller. */
  scratch: string;
  variants: Array<{ spec: VariantSpec; output: string }>;
  /** False: no thumbhash and no dominant colour (a render needs neither); true by default. */
  summary?: boolean;
}

export interface VariantResult {
  name: string;
  format: OutputFormat;
  width: number;
  height: number;
  bytes: number;
  sha256: string;
}

export type WorkerFailureCode = 'corrupt_image' | 'no_preview' | 'original_missing' | 'processing_failed' | 'processing_timeout' | 'cancelled';
export type WorkerFailure = { ok: false; code: WorkerFailureCode; message: string; retryable: boolean };

export type ProcessResult =
  | {
      ok: true;
      variants: VariantResult[];
      thumbhash: string;
      dominantColor: string;
      /** For an SVG: the size it was rendered at and how (workers/svg-render.ts). */
      render?: SvgRenderReport;
      /** For a camera RAW: the size (upright) of the embedded preview the variants were made from. */
      preview?: { width: number; height: number };
    }
  | WorkerFailure;

export interface MetadataTask extends StopControl {
  input: string;
  /** As in ProcessTask: an SVG is read from its bytes. */
  format: string;
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
  /** For a camera RAW: the maker's format, and the sensor's size where the camera recorded it. */
  rawFormat?: string;
  sensor?: { width: number; height: number } | null;
}

export type MetadataResult = { ok: true; metadata: ExtractedMetadata } | WorkerFailure;
