import crypto from 'node:crypto';
import { blobKeys } from '../../storage/blob-store.js';
import type { UploadPartStore } from '../../storage/upload-parts.js';

const REHASH_BLOCK = 1024 * 1024;

export interface RunningHash {
  hash: crypto.Hash;
  /** How many leading bytes of the upload the hash has seen. */
  bytes: number;
}

/**
 * The sha256 of each upload in progress, computed as its parts arrive. It lives in memory
 * between the requests that carry the parts; after a restart, a part that failed half-way, or a
 * part this process did not receive, it is rebuilt once from the bytes the store holds, so it is
 * a saving and never a source of truth.
 */
export function createRunningHashes(parts: UploadPartStore) {
  const hashes = new Map<string, RunningHash>();

  /** The running hash of an upload whose first `offset` bytes are stored. */
  async function at(id: string, offset: number): Promise<RunningHash> {
    const known = hashes.get(id);
    if (known && known.bytes === offset) return known;
    hashes.delete(id);
    const hash = crypto.createHash('sha256');
    if (offset > 0) {
      // Read in large blocks: a resume after a restart re-reads everything stored so far
      // (gigabytes), and 1 MiB reads cost a sixteenth of the calls of a stream's 64 KiB.
      const blob = await parts.open(blobKeys.upload(id));
      try {
        const block = Buffer.allocUnsafe(REHASH_BLOCK);
        for (let position = 0; position < offset; ) {
          const { bytesRead } = await blob.read(block, 0, Math.min(REHASH_BLOCK, offset - position), position);
          if (bytesRead === 0) throw new Error(`upload ${id} holds fewer than ${offset} bytes`);
          hash.update(block.subarray(0, bytesRead));
          position += bytesRead;
        }
      } finally {
        await blob.close();
      }
    }
    const running = { hash, bytes: offset };
    hashes.set(id, running);
    return running;
  }

  return {
    at,
    /** The hex sha256 of a complete upload of `size` bytes; the running hash is done with. */
    async digest(id: string, size: number): Promise<string> {
      const running = await at(id, size);
      hashes.delete(id);
      return running.hash.digest('hex');
    },
    /** Forgets an upload's hash: some of what it saw may not be stored, or the upload is gone. */
    forget(id: string): void {
      hashes.delete(id);
    },
  };
}

export type RunningHashes = ReturnType<typeof createRunningHashes>;
