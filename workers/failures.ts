import { SvgTooLarge } from './decoders.js';
import { Stopped, type Stopper } from './stopper.js';
import type { WorkerFailure } from './types.js';

/**
 * Sorts a failure into "the image itself is broken" (final: retrying cannot help) and
 * "something around it failed" (disk full, file briefly missing: worth a retry). A task stopped
 * by its deadline (ours, or libvips abandoning a pipeline when sharp's timeout passed) is a
 * timeout, retried like any passing failure; a cancelled one is final.
 */
export function classifyError(err: unknown, stop?: Pick<Stopper, 'timedOut'>): WorkerFailure {
  const message = String((err as Error)?.message ?? err).split('\n')[0] ?? 'unknown error';
  if (err instanceof Stopped) return { ok: false, code: err.code, message, retryable: err.code === 'processing_timeout' };
  if (/^timeout: \d+% complete/.test(message) || stop?.timedOut()) return { ok: false, code: 'processing_timeout', message, retryable: true };
  if (err instanceof SvgTooLarge) return { ok: false, code: 'corrupt_image', message, retryable: false };
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT') return { ok: false, code: 'original_missing', message, retryable: true };
  if (code) return { ok: false, code: 'processing_failed', message, retryable: true };
  // Errors raised by libvips while decoding describe the input: truncated data, bad markers,
  // unsupported features, dimensions past the limit.
  if (/vips|premature|corrupt|truncat|invalid|bad |unsupported|not a known|pixel limit|marker|huffman|zlib|decode|read error|too many/i.test(message)) {
    return { ok: false, code: 'corrupt_image', message, retryable: false };
  }
  return { ok: false, code: 'processing_failed', message, retryable: true };
}
