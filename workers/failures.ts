import { SvgTooLarge } from './decoders.js';
import { ExifToolFailed } from './exiftool.js';
import { NoPreview } from './no-preview.js';
import { HeifDecodeFailed } from './heif/decode.js';
import { MalformedHeif } from './heif/layout.js';
import { Stopped, type Stopper } from './stopper.js';
import { SvgRenderFailed } from './svg-render.js';
import type { WorkerFailure } from './types.js';

/** What libvips says when the trouble is around the image, not in it: writing, resources. */
const ENVIRONMENT = /write failed|no space|disk full|quota|cannot allocate|out of memory|too many open files|permission denied|read-only file system|i\/o error/i;

/**
 * Sorts a failure into "the image itself is broken" (final: retrying cannot help) and
 * "something around it failed" (disk full, file briefly missing: worth a retry). Anything sharp
 * raised is about the image unless it names such trouble: libvips does not always say more than
 * "Unknown error" about a broken file (an interlaced PNG), and retrying those only wastes the
 * attempts. A task stopped by its deadline (ours, or libvips abandoning a pipeline when sharp's
 * timeout passed) is a timeout, retried like any passing failure; a cancelled one is final.
 */
export function classifyError(err: unknown, stop?: Pick<Stopper, 'timedOut'>): WorkerFailure {
  const full = String((err as Error)?.message ?? err);
  const message = full.split('\n')[0] || 'unknown error';
  if (err instanceof Stopped) return { ok: false, code: err.code, message, retryable: err.code === 'processing_timeout' };
  if (/^timeout: \d+% complete/.test(message) || stop?.timedOut()) return { ok: false, code: 'processing_timeout', message, retryable: true };
  if (err instanceof SvgTooLarge) return { ok: false, code: 'corrupt_image', message, retryable: false };
  if (err instanceof NoPreview) return { ok: false, code: 'no_preview', message, retryable: false };
  // ExifTool not answering says nothing about the camera RAW it was asked about.
  if (err instanceof ExifToolFailed) return { ok: false, code: 'processing_failed', message, retryable: true };
  // Renders are deterministic: the same document passes the same limits on the next attempt.
  if (err instanceof SvgRenderFailed) {
    return { ok: false, code: err.reason === 'cpu' ? 'processing_timeout' : 'processing_failed', message, retryable: false };
  }
  // Decoding is deterministic too: a broken HEIF file is broken on every attempt.
  if (err instanceof MalformedHeif) return { ok: false, code: 'corrupt_image', message: `not a decodable HEIF image: ${message}`, retryable: false };
  if (err instanceof HeifDecodeFailed) {
    const code = err.reason === 'failed' ? 'corrupt_image' : err.reason === 'cpu' ? 'processing_timeout' : 'processing_failed';
    return { ok: false, code, message, retryable: false };
  }
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT' || /^Input file is missing/.test(message)) return { ok: false, code: 'original_missing', message, retryable: true };
  if (code) return { ok: false, code: 'processing_failed', message, retryable: true };
  // An encoder that cannot represent this output (WebP past its first partition's size) will
  // not on the next attempt either.
  if (/unable to encode/.test(full)) return { ok: false, code: 'processing_failed', message, retryable: false };
  if (ENVIRONMENT.test(full)) return { ok: false, code: 'processing_failed', message, retryable: true };
  // sharp and libvips raise plain Errors; a TypeError or the like is a bug of ours, retried.
  if (err instanceof Error && err.constructor === Error) return { ok: false, code: 'corrupt_image', message, retryable: false };
  return { ok: false, code: 'processing_failed', message, retryable: true };
}
