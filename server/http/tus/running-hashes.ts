import crypto from 'node:crypto';
import { blobKeys } from '../../storage/blob-store.js';
import type { UploadPartStore } from '../../storage/upload-parts.js';

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
      const blob = await parts.open(blobKeys.upload(id));
      try {
        for await (const chunk of await blob.stream({ start: 0, end: offset - 1 })) hash.update(chunk as Buffer);
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
