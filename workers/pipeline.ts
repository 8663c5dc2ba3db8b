import crypto from 'node:crypto';
import fs from 'node:fs';
import sharp from 'sharp';
import type { Metadata, Sharp, SharpOptions } from 'sharp';
import { rgbaToThumbHash } from 'thumbhash';
import type { ProcessResult, ProcessTask, VariantResult, VariantSpec } from './types.js';
import { classifyError } from './failures.js';
import { planOutput, type OutputPlan } from './output-caps.js';
import { applyOperations } from './operations.js';
import { createStopper, type Stopper } from './stopper.js';
import type { Source } from './source.js';
import { openSource } from './sources.js';
import { renderSvg, type SvgRenderReport } from './svg-render.js';

/**
 * Largest decoded intermediate (in pixels) kept in memory to derive every variant from one
 * decode: 8 MP of RGBA is 32 MB, and the default variants of any photo need less. Up to
 * INTERMEDIATE_FILE_MAX_PIXELS it goes to an uncompressed TIFF in the temp folder instead, which
 * each variant then reads in strips: decoded once, and not held in memory while a large variant
 * is encoded (AVIF and WebP encoders alone need up to ~50 bytes a pixel; workers/output-caps.ts).
 * Past that (extreme crops of huge images) each variant streams from the original on its own;
 * libvips shrink-on-load keeps those cheap. An SVG never streams: it is rendered once, in a
 * process of its own (workers/svg-render.ts), at most INTERMEDIATE_FILE_MAX_PIXELS.
 */
const INTERMEDIATE_MEMORY_MAX_PIXELS = 8_000_000;
const INTERMEDIATE_FILE_MAX_PIXELS = 40_000_000;
const THUMBHASH_MAX_SIDE = 100; // thumbhash wants at most 100×100
/** The one output format here that keeps an animation; the others get its first frame. */
const ANIMATED_FORMATS: ReadonlySet<string> = new Set(['webp']);

interface Planned {
  spec: VariantSpec;
  output: string;
  plan: OutputPlan;
}

/** What every way of making the variants gives back. */
interface Made {
  variants: VariantResult[];
  thumbhash: string;
  dominantColor: string;
  render?: SvgRenderReport;
}

/**
 * (input file, variant specs) → variant files, their sizes, a thumbhash and a dominant colour.
 * Every output is auto-oriented, sRGB and free of metadata (sharp strips EXIF, XMP, IPTC and ICC
 * unless told otherwise; the intermediates carry none in the first place), and within the output
 * caps (workers/output-caps.ts).
 */
export async function processImage(task: ProcessTask): Promise<ProcessResult> {
  const stop = createStopper(task);
  let source: Source | undefined;
  try {
    const inputOptions: SharpOptions = {
      limitInputPixels: task.maxInputPixels,
      // Refuse truncated files (they would come out with grey bands) but accept the harmless
      // warnings many cameras and phones produce.
      failOn: 'truncated',
      animated: task.animated,
    };
    source = await openSource({ file: task.input, format: task.format, options: inputOptions, scratch: `${task.scratch}.source`, stop });
    const meta = await sharp(source.input, source.options).metadata();
    stop.check();
    if (task.animated && (meta.pages ?? 1) > 1) return { ok: true, ...(await fromAnimation(source, meta, task, stop)) };
    const width = meta.autoOrient?.width ?? meta.width ?? 0;
    const height = meta.autoOrient?.height ?? meta.height ?? 0;
    const made = await fromStill(source, width, height, planVariants(task, width, height), task, stop);
    return { ok: true, ...made, ...(source.preview && { preview: source.preview }) };
  } catch (err) {
    return classifyError(err, stop);
  } finally {
    await source?.release?.();
  }
}

function planVariants(task: ProcessTask, width: number, height: number, framesOf: (spec: VariantSpec) => number = () => 1): Planned[] {
  return task.variants.map(({ spec, output }) => ({ spec, output, plan: planOutput(spec, width, height, task.maxOutputPixels, framesOf(spec)) }));
}

/**
 * An animation: its WebP variants animated, every frame kept, with the pixel cap counting all
 * frames (workers/output-caps.ts); its other variants (AVIF, JPEG, PNG hold no animation here)
 * made from its first frame, like any still. libvips gives an animation as one strip of frames:
 * its frame's height is `pageHeight`, not `height` (the strip's).
 */
async function fromAnimation(source: Source, meta: Metadata, task: ProcessTask, stop: Stopper): Promise<Made> {
  const frames = meta.pages!;
  const width = meta.width ?? 0;
  const height = meta.pageHeight ?? Math.round((meta.height ?? 0) / frames);
  const planned = planVariants(task, width, height, (spec) => (ANIMATED_FORMATS.has(spec.format) ? frames : 1));
  const stills = planned.filter((p) => p.plan.frames === 1);
  const firstFrame = { input: source.input, options: { ...source.options, animated: false } };
  const still = await fromStill(firstFrame, width, height, stills, task, stop);
  const made = new Map<Planned, VariantResult>(still.variants.map((v, i) => [stills[i]!, v]));
  // Each animated variant is its own streaming pipeline from the original, a frame at a time.
  for (const p of planned.filter((p) => p.plan.frames > 1)) made.set(p, await writeVariant(stop.limit(sharp(source.input, source.options)), p));
  return { ...still, variants: planned.map((p) => made.get(p)!) };
}

/**
 * A still image (or an animation's first frame) of this oriented size into the `planned`
 * variants, from one decode (or, for an SVG, one render). With none planned, only the
 * placeholder and the colour.
 */
async function fromStill(source: Source, width: number, height: number, planned: Planned[], task: ProcessTask, stop: Stopper): Promise<Made> {
  const needed = planned.length ? Math.max(...planned.map((p) => p.plan.scale)) : THUMBHASH_MAX_SIDE / Math.max(width, height);
  const scale = Math.min(1, needed);
  if (task.format === 'svg') return await fromSvg(source.input as Buffer, intermediateSize(width, height, scale, true), planned, task, stop);
  const { width: iw, height: ih } = intermediateSize(width, height, scale, false);
  const size = scale < 1 ? { width: iw, height: ih } : undefined;
  if (iw * ih > INTERMEDIATE_FILE_MAX_PIXELS) return await streamEachVariant(source, planned, stop, task.summary !== false);
  if (iw * ih <= INTERMEDIATE_MEMORY_MAX_PIXELS) return await fromMemory(source, size, planned, stop, task.summary !== false);
  return await fromScratchFile(source, size, task.scratch, planned, stop, task.summary !== false);
}

/**
 * The size of the decoded intermediate for a source of width × height shrunk by `scale`.
 * Rounded up, so no variant has to be enlarged from it by a fraction of a pixel. A render (an
 * SVG) is at most INTERMEDIATE_FILE_MAX_PIXELS: where rounding up passes that, it is the largest
 * size within it, rounded down (10000×10000 at √(40 MP / 100 MP) is 6324.56 a side, and 6325²
 * is 40,005,625 pixels).
 */
export function intermediateSize(width: number, height: number, scale: number, render: boolean): { width: number; height: number } {
  const size = { width: Math.max(1, Math.ceil(width * scale)), height: Math.max(1, Math.ceil(height * scale)) };
  if (!render || size.width * size.height <= INTERMEDIATE_FILE_MAX_PIXELS) return size;
  const cap = Math.sqrt(INTERMEDIATE_FILE_MAX_PIXELS / (width * height));
  return { width: Math.max(1, Math.floor(width * cap)), height: Math.max(1, Math.floor(height * cap)) };
}

/**
 * An SVG, rendered once at the size its largest variant needs (workers/svg-render.ts: in a
 * process of its own, within memory and time limits, smaller and enlarged when it must), then
 * made into its variants like any decoded image.
 */
async function fromSvg(svg: Buffer, size: { width: number; height: number }, planned: Planned[], task: ProcessTask, stop: Stopper): Promise<Made> {
  // The render stands for the document, but may be smaller than a variant needs (renders stop
  // at 40 MP: 8192×4882 cut from a 10000×10000 document needs 67 MP). Whether a variant may be
  // enlarged is a question about the document, so a variant no larger than the document is
  // made at its size even where that enlarges the render.
  const fromRender = planned.map((p) =>
    p.plan.resize && p.plan.scale <= 1 ? { ...p, plan: { ...p.plan, resize: { ...p.plan.resize, withoutEnlargement: false } } } : p,
  );
  try {
    const render = await renderSvg({ svg, output: task.scratch, ...size, stop });
    const rendered = { input: task.scratch, options: { limitInputPixels: false } };
    const made =
      size.width * size.height <= INTERMEDIATE_MEMORY_MAX_PIXELS
        ? await fromMemory(rendered, undefined, fromRender, stop, task.summary !== false)
        : await fromFile(task.scratch, fromRender, stop, task.summary !== false);
    return { ...made, render };
  } finally {
    await fs.promises.rm(task.scratch, { force: true });
  }
}

/** The source decoded, oriented, in sRGB, 8 bits a channel, shrunk to `size` when given. */
function decoded(source: Source, size: { width: number; height: number } | undefined, stop: Stopper): Sharp {
  let image = stop.limit(sharp(source.input, source.options)).rotate();
  if (size) image = image.resize({ ...size, fit: 'fill' });
  return image.toColourspace('srgb');
}

/** Decode once (with shrink-on-load down to the largest size any variant needs), derive all from memory. */
async function fromMemory(source: Source, size: { width: number; height: number } | undefined, planned: Planned[], stop: Stopper, summary: boolean): Promise<Made> {
  const { data, info } = await decoded(source, size, stop).raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  const raw = { raw: { width: info.width, height: info.height, channels: info.channels } } as const;
  const variants: VariantResult[] = [];
  for (const p of planned) variants.push(await writeVariant(stop.limit(sharp(data, raw)), p));
  const { thumbhash, dominantColor } = await summarise(stop.limit(sharp(data, raw)), summary);
  return { variants, thumbhash, dominantColor };
}

/** Decode once into an uncompressed TIFF, then make each variant reading it strip by strip. */
async function fromScratchFile(
  source: Source,
  size: { width: number; height: number } | undefined,
  scratch: string,
  planned: Planned[],
  stop: Stopper,
  summary: boolean,
): Promise<Made> {
  try {
    await decoded(source, size, stop).tiff({ compression: 'none' }).toFile(scratch);
    return await fromFile(scratch, planned, stop, summary);
  } finally {
    await fs.promises.rm(scratch, { force: true });
  }
}

/** Each variant from a decoded intermediate in an uncompressed TIFF, read strip by strip. */
async function fromFile(file: string, planned: Planned[], stop: Stopper, summary: boolean): Promise<Made> {
  const open = () => stop.limit(sharp(file, { limitInputPixels: false, sequentialRead: true }));
  const variants: VariantResult[] = [];
  for (const p of planned) variants.push(await writeVariant(open(), p));
  const { thumbhash, dominantColor } = await summarise(open(), summary);
  return { variants, thumbhash, dominantColor };
}

/** Each variant its own streaming pipeline from the original: for extreme crops of huge images. */
async function streamEachVariant(source: Source, planned: Planned[], stop: Stopper, summary: boolean): Promise<Made> {
  const open = () => stop.limit(sharp(source.input, source.options)).rotate();
  const variants: VariantResult[] = [];
  for (const p of planned) variants.push(await writeVariant(open(), p));
  const { thumbhash, dominantColor } = await summarise(open(), summary);
  return { variants, thumbhash, dominantColor };
}

/** One output through the operation table (workers/operations.ts), written to its file. */
async function writeVariant(image: Sharp, { spec, output, plan }: Planned): Promise<VariantResult> {
  const info = await applyOperations(image, spec, plan).toFile(output);
  return {
    name: spec.name,
    format: spec.format,
    width: info.width,
    // For an animation libvips reports the height of the whole strip of frames.
    height: plan.frames > 1 ? (info.pageHeight ?? info.height) : info.height,
    bytes: info.size,
    sha256: await sha256File(output),
  };
}

type Summary = { thumbhash: string; dominantColor: string };
/** What a render gives instead of a summary it does not need: the ≤100 px copy is not made. */
const NO_SUMMARY: Summary = { thumbhash: '', dominantColor: '' };

/** A thumbhash placeholder and the dominant colour, from a ≤100 px copy (none when the task asks for none). */
async function summarise(image: Sharp, wanted = true): Promise<Summary> {
  if (!wanted) return NO_SUMMARY;
  const small = await image
    .resize({ width: THUMBHASH_MAX_SIDE, height: THUMBHASH_MAX_SIDE, fit: 'inside' })
    .toColourspace('srgb')
    .ensureAlpha()
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  const hash = rgbaToThumbHash(small.info.width, small.info.height, small.data);
  const stats = await sharp(small.data, {
    raw: { width: small.info.width, height: small.info.height, channels: 4 },
  }).stats();
  const { r, g, b } = stats.dominant;
  const hex = `#${[r, g, b].map((c) => c.toString(16).padStart(2, '0')).join('')}`;
  return { thumbhash: Buffer.from(hash).toString('base64'), dominantColor: hex };
}

/**
 * The sha256 of a written variant, read through one buffer: a read stream would leave a 64 KiB
 * Buffer behind per chunk for the collector, tens of megabytes for a large variant.
 */
export async function sha256File(file: string): Promise<string> {
  const hash = crypto.createHash('sha256');
  const handle = await fs.promises.open(file, 'r');
  try {
    const chunk = Buffer.allocUnsafe(1024 * 1024);
    for (;;) {
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      hash.update(chunk.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}
