import type { Sharp } from 'sharp';
import type { OutputPlan } from './output-caps.js';
import type { OutputSpec } from './types.js';

/**
 * The operation table: every step that turns a decoded image into one output (an upload's
 * variant or a render, which are the same thing asked two ways), each with the arguments it
 * reads from the output spec, the check those arguments must pass together, its place in the
 * order, and how it is applied with sharp. Laid out as ipx lays out its handlers (one entry per
 * operation: arguments, order, apply), so a variant and a render with the same parameters run
 * the same entries in the same order and come out byte for byte the same.
 *
 * What each argument may be on its own (ranges, words) is the API's to say: the zod schemas of
 * server/api/ (`VariantSpec`, `RenderQuery`), which also document it. What arguments must be
 * together, and what they do, is said here once.
 */
export interface Operation {
  name: string;
  /** Lower runs first; the encoder is last. */
  order: number;
  /** The fields of the spec the operation reads. */
  args: ReadonlyArray<keyof OutputSpec>;
  /** A combination of its arguments that cannot be made: what is wrong, for a 400. */
  check?(spec: OutputSpec): string | undefined;
  /** Applies the operation to the pipeline (sharp chains: it returns the same pipeline). */
  apply(image: Sharp, spec: OutputSpec, plan: OutputPlan): Sharp;
}

/**
 * Variants past this size (all frames counted) are encoded with the settings that need the least
 * memory and time:
 * - AVIF at effort 1 and 4:2:0 chroma (as WebP and most JPEGs have). Effort changes little of
 *   the memory, but sharp's default effort 4 costs ~2.4 µs a pixel of a photo on one core (a
 *   32 MP variant took 76 s here, 4.9 s at effort 1 for an 18% larger file); 4:4:4 takes ~1.5
 *   times the memory of 4:2:0.
 * - WebP at effort 2: from effort 3 libwebp keeps every coefficient token in memory before it
 *   writes them; 40 MP of noise at quality 100 peaked at 476 MiB at effort 2, over 1.2 GiB at 6.
 * Below it, sharp's defaults: a few seconds at most, and well within memory.
 */
const LARGE_OUTPUT_PIXELS = 8_000_000;

/** Positions that choose by content: sharp's strategies, which only cropping (cover) uses. */
const STRATEGIES = new Set(['entropy', 'attention']);

const TABLE: Operation[] = [
  {
    // The box, the fit and where a crop keeps the image; the plan (workers/output-caps.ts) has
    // already made it fit the output caps.
    name: 'resize',
    order: 10,
    args: ['width', 'height', 'fit', 'position', 'withoutEnlargement'],
    check: (spec) =>
      spec.position && STRATEGIES.has(spec.position) && spec.fit !== 'cover'
        ? `position ${spec.position} picks what a crop keeps: only with fit cover (fit is ${spec.fit})`
        : undefined,
    apply: (image, spec, plan) => {
      if (!plan.resize) return image;
      // center is sharp's default: left out, so a spec without a position is the same pipeline.
      const position = spec.position && spec.position !== 'center' ? spec.position : undefined;
      return image.resize({ ...plan.resize, ...(position && { position }), background: { r: 0, g: 0, b: 0, alpha: 0 } });
    },
  },
  {
    // JPEG has no alpha: flatten onto white rather than the black libvips would pick.
    name: 'flatten',
    order: 30,
    args: ['format'],
    apply: (image, spec) => (spec.format === 'jpeg' ? image.flatten({ background: '#ffffff' }) : image),
  },
  {
    name: 'colourspace',
    order: 20,
    args: [],
    apply: (image) => image.toColourspace('srgb'),
  },
  {
    name: 'encode',
    order: 100,
    args: ['format', 'quality'],
    apply: (image, spec, plan) => {
      const large = plan.width * plan.height * plan.frames > LARGE_OUTPUT_PIXELS;
      switch (spec.format) {
        case 'webp':
          return image.webp({ quality: spec.quality ?? 80, effort: large ? 2 : 4 });
        case 'avif':
          // effort 4 is sharp's default; AVIF encoding is the slowest step of any pipeline.
          return large
            ? image.avif({ quality: spec.quality ?? 50, effort: 1, chromaSubsampling: '4:2:0' })
            : image.avif({ quality: spec.quality ?? 50, effort: 4 });
        case 'jpeg':
          return image.jpeg({ quality: spec.quality ?? 82, progressive: true, mozjpeg: false });
        case 'png':
          return image.png({ compressionLevel: 6, quality: spec.quality, palette: spec.quality !== undefined });
      }
    },
  },
];

/** The table in the order its operations run. */
export const OPERATIONS: readonly Operation[] = [...TABLE].sort((a, b) => a.order - b.order);

/** The first combination of arguments no operation can make, or undefined. */
export function checkOperations(spec: OutputSpec): string | undefined {
  for (const op of OPERATIONS) {
    const problem = op.check?.(spec);
    if (problem) return problem;
  }
  return undefined;
}

/** Every operation, in order, on a decoded image: the encoder ready to write. */
export function applyOperations(image: Sharp, spec: OutputSpec, plan: OutputPlan): Sharp {
  return OPERATIONS.reduce((pipeline, op) => op.apply(pipeline, spec, plan), image);
}
