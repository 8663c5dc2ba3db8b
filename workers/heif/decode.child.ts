/**
 * The process HEIF images are decoded in (workers/heif/decode.ts keeps one per worker thread,
 * through workers/limited-child.ts `createWarmChild`). The decoder is libheif with libde265
 * compiled to WebAssembly (libheif-js): it reaches nothing but its own memory (no files, no
 * network), and that memory, which WebAssembly never gives back while the process lives, goes
 * when the process ends (after a large image, a failure, or a quiet spell).
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { serveLimitedTasks } from '../limited-child.runtime.js';
import type { HeifDecodeResult, HeifDecodeTask } from './decode.js';
import { writeTiff } from './tiff.js';

const require = createRequire(import.meta.url);
// The WebAssembly build bundled into one file (no .wasm file to find at run time), as heic-decode loads it.
const libheif = require('libheif-js/wasm-bundle') as LibHeif;

serveLimitedTasks<HeifDecodeTask, HeifDecodeResult>(async (task) => {
  await libheif.ready;
  const decoder = new libheif.HeifDecoder();
  // libheif copies the file into its own memory; it logs its reason for a refusal and returns none.
  const images = decoder.decode(fs.readFileSync(task.input));
  try {
    if (!images.length) throw new Error('libheif found no image it can read in this file');
    return await decodePrimary(images.find((i) => i.is_primary()) ?? images[0]!, task);
  } finally {
    // This process serves the next image: what this one held in libheif's memory is given back to it.
    for (const image of images) image.free();
    if (decoder.decoder) libheif.heif_context_free(decoder.decoder);
  }
});

async function decodePrimary(image: HeifImageHandle, task: HeifDecodeTask): Promise<HeifDecodeResult> {
  const width = image.get_width();
  const height = image.get_height();
  if (width * height > task.maxPixels) {
    throw new Error(`the primary image is ${width}×${height} = ${width * height} pixels, over the limit of ${task.maxPixels}`);
  }
  const alpha = image.has_alpha_channel();
  // Decoded with the container's transforms (irot, imir, clap) applied, to 8 bits a channel
  // (a 10-bit image too: every variant is 8-bit), from YCbCr by its nclx matrix.
  const decoded = await libheif.heif_js_decode_image2(
    image.handle,
    libheif.heif_colorspace_RGB,
    alpha ? libheif.heif_chroma_interleaved_RGBA : libheif.heif_chroma_interleaved_RGB,
  );
  if (!decoded || decoded.code) throw new Error(`libheif could not decode the image: ${decoded?.message ?? 'no reason given'}`);
  try {
    const plane = decoded.channels.find((c) => c.id === libheif.heif_channel_interleaved);
    if (!plane) throw new Error('libheif gave no interleaved pixels');
    const channels = alpha ? 4 : 3;
    // The rows are read where libheif wrote them (a view of its memory), a strip at a time.
    writeTiff(task.output, {
      width: plane.width,
      height: plane.height,
      channels,
      sourceChannels: channels,
      pixels: plane.data,
      stride: plane.stride,
      icc: task.icc,
      orientation: task.orientation,
    });
    return { width: plane.width, height: plane.height, alpha };
  } finally {
    libheif.heif_image_release(decoded.image);
  }
}

/** The parts of libheif-js used here (it ships no types for its bundle). */
interface LibHeif {
  ready: Promise<void>;
  HeifDecoder: new () => { decoder: unknown; decode(data: Uint8Array): HeifImageHandle[] };
  heif_context_free(context: unknown): void;
  heif_js_decode_image2(handle: unknown, colorspace: unknown, chroma: unknown): Promise<DecodedImage | undefined> | DecodedImage | undefined;
  heif_image_release(image: unknown): void;
  heif_colorspace_RGB: unknown;
  heif_chroma_interleaved_RGB: unknown;
  heif_chroma_interleaved_RGBA: unknown;
  heif_channel_interleaved: unknown;
}

interface HeifImageHandle {
  handle: unknown;
  get_width(): number;
  get_height(): number;
  is_primary(): boolean;
  has_alpha_channel(): boolean;
  free(): void;
}

interface DecodedImage {
  code?: number;
  message?: string;
  image: unknown;
  channels: Array<{ id: unknown; width: number; height: number; stride: number; data: Uint8Array }>;
}
