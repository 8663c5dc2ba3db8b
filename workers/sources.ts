import type { SharpOptions } from 'sharp';
import { decodableInput } from './decoders.js';
import { openRawPreview } from './raw-preview.js';
import type { Stopper } from './stopper.js';

/** The original as sharp opens it: a path, or bytes already in memory. */
export interface Source {
  input: string | Buffer;
  options: SharpOptions;
  /** Removes what opening it wrote (a decoded copy in the temp folder); called once the task ends. */
  release?: () => Promise<void>;
  /** For a camera RAW: the size (upright) of the embedded preview this source is. */
  preview?: { width: number; height: number };
}

export interface SourceRequest {
  /** The original's path in the blob store. */
  file: string;
  /** The original's format as probed at ingest (server/media/probe.ts). */
  format: string;
  /** Options every decode of this original takes (pixel limit, failOn, animation). */
  options: SharpOptions;
  /** A path in the task's temp folder this step may write a decoded copy to (its own: the pipeline's scratch is another). */
  scratch: string;
  stop: Stopper;
}

/**
 * What sharp reads for an original. Most formats are read straight from their file; some must
 * first be turned into something libvips can read, each by its own decoder.
 */
export async function openSource(request: SourceRequest): Promise<Source> {
  if (request.format === 'raw') return await openRawPreview(request);
  return { input: await decodableInput(request.file, request.format), options: request.options };
}
