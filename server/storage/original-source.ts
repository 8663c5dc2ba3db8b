import { JobError } from '../jobs/runner.js';
import { blobKeys, isBlobNotFound, type BlobStore } from './blob-store.js';

/**
 * Where processing reads an original from: a local copy of it (sharp and ExifTool need a path).
 * From the primary store that is `localCopy` (the file itself on the fs store); with the S3
 * capacity tier an evicted original is first brought back from the bucket, and is kept on disk
 * (never evicted) until `release` is called.
 */
export interface OriginalSource {
  acquire(sha256: string, signal?: AbortSignal): Promise<{ path: string; release(): void }>;
}

export function localOriginals(store: BlobStore): OriginalSource {
  return {
    acquire: async (sha256, signal) => {
      try {
        const copy = await store.localCopy(blobKeys.original(sha256), signal);
        return { path: copy.path, release: () => void copy.release() };
      } catch (err) {
        // A recorded original is in the store from its commit until its last image is deleted,
        // and this process has none that is about to arrive: gone is gone (a disk lost it, or a
        // power cut with --fsync false). Retrying cannot help, so the image fails at once.
        if (isBlobNotFound(err)) throw new JobError(`original ${sha256} is missing from the data dir`, 'original_missing', false);
        throw err;
      }
    },
  };
}
