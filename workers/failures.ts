import type { WorkerFailure } from './types.js';

/**
 * Sorts a failure into "the image itself is broken" (final: retrying cannot help) and
 * "something around it failed" (disk full, file briefly missing: worth a retry).
 */
export function classifyError(err: unknown): WorkerFailure {
  const message = String((err as Error)?.message ?? err).split('\n')[0] ?? 'unknown error';
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
