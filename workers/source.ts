import type { SharpOptions } from 'sharp';
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
