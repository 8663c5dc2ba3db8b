import type { ResizeOptions } from 'sharp';
import type { OutputFormat, OutputSpec } from './types.js';

// No variant is wider or taller than this, whatever its format could hold: the API's cap.
import { MAX_OUTPUT_SIDE } from '../server/api/vocabulary.js';
export { MAX_OUTPUT_SIDE };

/**
 * AVIF and WebP variants have lower pixel caps than --max-output-pixels. Their encoders hold
 * memory in proportion to the output, most of all for content with nothing to predict (noise)
 * and an alpha channel, which each encodes as a second image. Measured alone (sharp 0.35:
 * libaom 3.15 through libheif 1.23, libwebp 1.6), noise with noisy alpha at quality 100, with
 * the settings large variants get (workers/pipeline.ts): AVIF 12 MP peaked at 572 MiB over the
 * process and 16 MP at 751 MiB; WebP 16 MP at 506 MiB, 40 MP at 1142 MiB. JPEG at 40 MP needs
 * 259 MiB, PNG 229 MiB. In the server with one worker, the largest request a `user` key may
 * make (ten variants at these caps from 40 MP of such noise; test/integration/
 * output-memory.test.ts) peaked at 698–740 MiB; with AVIF at 16 MP and WebP at 40 MP it peaked
 * at 1.29 GiB. docs/security.md, "Output caps", has the figures.
 */
export const AVIF_MAX_PIXELS = 12_000_000;
export const WEBP_MAX_PIXELS = 16_000_000;

/** The pixel cap of one variant in this format. */
export function maxPixelsFor(format: OutputFormat, maxOutputPixels: number): number {
  if (format === 'avif') return Math.min(maxOutputPixels, AVIF_MAX_PIXELS);
  if (format === 'webp') return Math.min(maxOutputPixels, WEBP_MAX_PIXELS);
  return maxOutputPixels;
}

export interface OutputPlan {
  /** How to resize the (oriented) source; undefined keeps its size. */
  resize?: ResizeOptions;
  /** The largest fraction of the source this variant needs, to decode no more than that. */
  scale: number;
  /** The most the output (each frame of it) can measure (its box; it may come out smaller). */
  width: number;
  height: number;
  /** Frames in the output: 1 but for an animation kept animated. */
  frames: number;
  /** True when the request would have come out over a cap and was made smaller. */
  clamped: boolean;
}

/**
 * How one variant is made from a source of this size (a frame's size, for an animation), within
 * the caps. The sides are capped per frame; the pixel cap of the format counts every frame of an
 * animation (width × height × frames), since an encoder's memory and output grow with all of
 * them. A request whose size is its box (both sides, cover/contain/fill) was checked against the
 * caps for one frame when it was made; over them with its frames, its box is made smaller,
 * keeping its shape. One whose size follows the source (one side only, `inside`/`outside`, or no
 * size: a conversion) may come out larger, and is scaled down here to fit both caps, keeping its
 * aspect ratio. Either way every frame is kept.
 */
export function planOutput(spec: OutputSpec, sourceWidth: number, sourceHeight: number, maxOutputPixels: number, frames = 1): OutputPlan {
  const framePixels = maxPixelsFor(spec.format, maxOutputPixels) / frames;
  const sx = spec.width ? spec.width / sourceWidth : undefined;
  const sy = spec.height ? spec.height / sourceHeight : undefined;
  const asRequested: ResizeOptions = { width: spec.width, height: spec.height, fit: spec.fit, withoutEnlargement: spec.withoutEnlargement };
  if (sx !== undefined && sy !== undefined && spec.fit !== 'inside' && spec.fit !== 'outside') {
    const scale = spec.fit === 'contain' ? Math.min(sx, sy) : Math.max(sx, sy);
    const shrink = Math.min(1, Math.sqrt(framePixels / (spec.width! * spec.height!)));
    if (shrink >= 1) return { resize: asRequested, scale, width: spec.width!, height: spec.height!, frames, clamped: false };
    const box = { width: Math.max(1, Math.floor(spec.width! * shrink)), height: Math.max(1, Math.floor(spec.height! * shrink)) };
    return { resize: { ...asRequested, ...box }, scale: scale * shrink, ...box, frames, clamped: true };
  }
  let scale = sx === undefined ? (sy ?? 1) : sy === undefined ? sx : spec.fit === 'inside' ? Math.min(sx, sy) : Math.max(sx, sy);
  if (spec.withoutEnlargement) scale = Math.min(scale, 1);
  const width = sourceWidth * scale;
  const height = sourceHeight * scale;
  const shrink = Math.min(1, MAX_OUTPUT_SIDE / width, MAX_OUTPUT_SIDE / height, Math.sqrt(framePixels / (width * height)));
  if (shrink >= 1) {
    const resize = sx === undefined && sy === undefined ? undefined : asRequested;
    return { resize, scale, width: Math.round(width), height: Math.round(height), frames, clamped: false };
  }
  // Inside this box the output keeps the source's aspect ratio and is at most box-sized (sharp
  // makes one side the box's and rounds the other down to fit), so it is within both caps.
  const box = { width: Math.max(1, Math.floor(width * shrink)), height: Math.max(1, Math.floor(height * shrink)) };
  return { resize: { ...box, fit: 'inside', withoutEnlargement: false }, scale: scale * shrink, ...box, frames, clamped: true };
}
