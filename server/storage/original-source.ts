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
    acquire: async (sha256) => ({ path: store.originalPath(sha256), release: () => {} }),
  };
}
