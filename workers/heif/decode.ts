import fs from 'node:fs';
import sharp from 'sharp';
import { createWarmChild, type ChildLimits } from '../limited-child.js';
import type { Source, SourceRequest } from '../source.js';
import { compiledWorkerPath } from '../worker-path.js';
import { describeHeif } from './describe.js';
import type { HeifLayout } from './layout.js';

const MiB = 1024 * 1024;

/**
 * What one HEIF decode may use. libheif in WebAssembly holds the file, the decoded YCbCr planes
 * and the RGB image in its memory: a 12 MP photo left the process at 150–160 MiB resident, Node
 * and libheif's code included. 1 GiB (held by the kernel as the process's data segment) leaves
 * room for 48 MP, the largest photos phones write. A 12 MP decode takes 0.6–0.9 s of CPU, so 30 s
 * is far more than a photo needs but ends a file made to keep a decoder busy.
 * `npm run bench -- heic` measures them (docs/performance.md).
 */
export const HEIF_DECODE_LIMITS: Readonly<ChildLimits> = { memoryBytes: 1024 * MiB, cpuMs: 30_000 };

export interface HeifDecodeTask {
  /** The original's path: the process reads it, the decoder sees only its bytes. */
  input: string;
  /** The uncompressed TIFF to write. */
  output: string;
  /** The EXIF orientation to record in the TIFF for the pipeline's auto-orientation (1 when the decoder turned it). */
  orientation: number;
  /** The profile the pixels are in, carried in the TIFF so the pipeline converts from it to sRGB. */
  icc?: Uint8Array;
  maxPixels: number;
}

export interface HeifDecodeResult {
  width: number;
  height: number;
  alpha: boolean;
}

/** A HEIF image that could not be decoded within the limits, or at all. */
export class HeifDecodeFailed extends Error {
  constructor(
    readonly reason: 'memory' | 'cpu' | 'failed',
    message: string,
  ) {
    super(message);
  }
}

const CHILD = compiledWorkerPath('workers/heif/decode.child.js');

/**
 * Past this resident size after an image the decode process is ended rather than kept: what
 * WebAssembly grew for a large image it keeps. A 12 MP photo leaves it near 160 MiB.
 */
const RECYCLE_ABOVE_BYTES = 256 * MiB;
/** A decode process outlives its last image by this long, like an idle worker thread. */
const IDLE_MS = 30_000;

/** This worker thread's decode process, kept between images (one at a time: the thread runs one task). */
let decoders: { limits: ChildLimits; child: ReturnType<typeof createWarmChild<HeifDecodeTask, HeifDecodeResult>> } | undefined;

function decoderWithin(limits: ChildLimits) {
  if (decoders?.limits !== limits) {
    decoders?.child.close();
    decoders = { limits, child: createWarmChild<HeifDecodeTask, HeifDecodeResult>({ module: CHILD, what: 'the HEIF decode process', limits, recycleAboveBytes: RECYCLE_ABOVE_BYTES, idleMs: IDLE_MS }) };
  }
  return decoders.child;
}

/**
 * Decodes a HEIF original (HEVC-coded, which sharp's libvips cannot) into an uncompressed TIFF at
 * `request.scratch` and returns it as the source every variant is made from: upright or carrying
 * the one orientation still to apply, in the colour profile it was taken in.
 */
export async function openHeif(request: SourceRequest, limits: ChildLimits = HEIF_DECODE_LIMITS): Promise<Source> {
  const meta = await sharp(request.file, { limitInputPixels: false }).metadata();
  const { layout, orientationAfterDecode } = await describeHeif(request.file, meta);
  request.stop.check();
  const task: HeifDecodeTask = {
    input: request.file,
    output: request.scratch,
    orientation: orientationAfterDecode,
    maxPixels: typeof request.options.limitInputPixels === 'number' ? request.options.limitInputPixels : Number.MAX_SAFE_INTEGER,
  };
  const icc = await colourProfile(layout.colour);
  if (icc) task.icc = icc;
  const release = () => fs.promises.rm(request.scratch, { force: true });
  try {
    const run = await decoderWithin(limits).run(task, request.stop);
    if (run.outcome !== 'done') throw refusal(run.outcome, run.message, limits);
  } catch (err) {
    await release();
    throw err;
  }
  return { input: request.scratch, options: request.options, release };
}

function refusal(outcome: 'memory' | 'cpu' | 'failed', message: string | undefined, limits: ChildLimits): HeifDecodeFailed {
  const budget = `${Math.round(limits.memoryBytes / MiB)} MiB of memory and ${limits.cpuMs / 1000} s of CPU`;
  // libheif refused memory past the kernel's limit, or the process died without a word (V8
  // aborts when its own heap cannot grow): the limit, not a broken file.
  const outOfMemory = /out of memory|allocat|cannot enlarge memory|Aborted\(OOM\)|without a result/i.test(message ?? '');
  if (outcome === 'failed' && !outOfMemory) return new HeifDecodeFailed('failed', `this HEIF image could not be decoded: ${(message ?? '').split('\n')[0]}`);
  if (outcome === 'failed') outcome = 'memory';
  return new HeifDecodeFailed(outcome, `this HEIF image could not be decoded within ${budget} (HEIF decodes may use no more)`);
}

let p3Profile: Promise<Buffer> | undefined;

/**
 * The ICC profile the decoded pixels are in. An embedded profile as it is; `nclx` code points
 * for Display P3 (primaries 12, as phones that write nclx tag their wide-gamut photos) as libvips'
 * own P3 profile; anything else as sRGB, which libvips assumes of an untagged image (BT.709
 * primaries are sRGB's; BT.2020 and HDR transfer functions are not converted).
 */
async function colourProfile(colour: HeifLayout['colour']): Promise<Buffer | undefined> {
  if (!colour) return undefined;
  if ('icc' in colour) return colour.icc;
  if (colour.nclx.primaries !== 12) return undefined;
  p3Profile ??= sharp({ create: { width: 1, height: 1, channels: 3, background: '#000' } })
    .withIccProfile('p3')
    .png()
    .toBuffer()
    .then(async (png) => (await sharp(png).metadata()).icc!);
  return await p3Profile;
}
