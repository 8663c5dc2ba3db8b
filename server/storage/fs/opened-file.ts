import fs from 'node:fs';
import { BlobNotFoundError, type ByteRange, type OpenedBlob } from '../blob-store.js';

/**
 * Opens a file as the port's OpenedBlob: one handle, so what was opened stays whole until it is
 * closed whatever happens to the name meanwhile. A missing file is BlobNotFoundError(key).
 */
export async function openFileAsBlob(key: string, file: string): Promise<OpenedBlob> {
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(file, 'r');
  } catch (err) {
    if (isMissing(err)) throw new BlobNotFoundError(key);
    throw err;
  }
  let stats: fs.Stats;
  try {
    stats = await handle.stat();
  } catch (err) {
    await handle.close().catch(() => {});
    throw err;
  }
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await handle.close().catch(() => {});
  };
  return {
    key,
    size: stats.size,
    modifiedMs: stats.mtimeMs,
    async stream(range?: ByteRange, signal?: AbortSignal) {
      const stream = handle.createReadStream({ start: range?.start ?? 0, end: range?.end, autoClose: true, signal });
      // The stream closes the handle itself when it ends or fails.
      stream.once('close', () => void (closed = true));
      return stream;
    },
    async read(buffer: Buffer, offset: number, length: number, position: number) {
      const { bytesRead } = await handle.read(buffer, offset, length, position);
      return { bytesRead };
    },
    close,
  };
}

/** Whether a file-system error says "nothing there". */
export const isMissing = (err: unknown): boolean => {
  const code = (err as NodeJS.ErrnoException)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
};
