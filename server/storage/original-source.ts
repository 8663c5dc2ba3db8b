import fs from 'node:fs';
import { JobError } from '../jobs/runner.js';
import type { BlobStore } from './fs-blob-store.js';

/**
 * Where processing reads an original from. Locally that is simply its path in the blob store;
 * with the S3 capacity tier an evicted original is first brought back from the bucket, and is
 * kept on disk (never evicted) until `release` is called.
 */
export interface OriginalSource {
  acquire(sha256: string, signal?: AbortSignal): Promise<{ path: string; release(): void }>;
}

export function localOriginals(store: BlobStore): OriginalSource {
  return {
    acquire: async (sha256) => {
      // A recorded original is on disk from its commit until its last image is deleted, and
      // this process has none that is about to arrive: gone is gone (a disk lost it, or a power
      // cut with --fsync false). Retrying cannot help, so the image fails at once.
      if (!(await fs.promises.stat(store.originalPath(sha256)).catch(() => undefined))?.isFile()) {
        throw new JobError(`original ${sha256} is missing from the data dir`, 'original_missing', false);
      }
      return { path: store.originalPath(sha256), release: () => {} };
    },
  };
}
