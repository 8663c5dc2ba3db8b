/**
 * A fixed number of reusable buffers: every byte the S3 sync holds in memory sits in one of them,
 * so its memory is `slots × slab size` however large or many the files are. Buffers are reused
 * rather than allocated per part, which keeps the heap (and RSS) flat during long uploads.
 */
export function createBufferPool(options: { slots: number; slabSize: number }) {
  const free: Buffer[] = [];
  const waiting: Array<() => void> = [];
  let taken = 0;

  function take(size: number): Buffer {
    taken++;
    // A part larger than a slab (objects past slabSize × 10,000 parts) gets a buffer of its
    // own, still counted as one slot.
    if (size > options.slabSize) return Buffer.allocUnsafeSlow(size);
    return free.pop() ?? Buffer.allocUnsafeSlow(options.slabSize);
  }

  return {
    /** A buffer of at least `size` bytes, once a slot is free. Use `.subarray(0, size)`. */
    async acquire(size: number, signal?: AbortSignal): Promise<Buffer> {
      while (taken >= options.slots) {
        signal?.throwIfAborted();
        await new Promise<void>((resolve) => {
          const wake = () => {
            const at = waiting.indexOf(wake);
            if (at >= 0) waiting.splice(at, 1);
            signal?.removeEventListener('abort', wake);
            resolve();
          };
          waiting.push(wake);
          signal?.addEventListener('abort', wake, { once: true });
        });
      }
      signal?.throwIfAborted();
      return take(size);
    },

    release(buffer: Buffer): void {
      taken--;
      if (buffer.length === options.slabSize) free.push(buffer);
      waiting[0]?.();
    },

    inUse: () => taken,
  };
}

export type BufferPool = ReturnType<typeof createBufferPool>;
