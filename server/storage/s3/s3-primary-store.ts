import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { RemotePrimaryStore } from '../blob-store.js';
import { createBufferPool } from '../buffer-pool.js';
import type { S3Bucket } from './bucket.js';
import { createS3BlobStore } from './s3-blob-store.js';

export { createS3UploadParts } from './s3-upload-parts.js';
export { applyLifecycleRules } from './lifecycle.js';

const MiB = 1024 * 1024;

/**
 * An S3 bucket as the primary store (`--storage s3`): originals and processed files are
 * objects under their keys (the same keys, and so the same layout, as S3 sync writes), and the
 * node keeps only staged files under `<data dir>/tmp`, which is emptied at start.
 *
 * A staged file becomes a blob by `upload`, read from the disk in parts of `partSize` into
 * pooled buffers (two parts in flight per upload, and a fixed number for all uploads together,
 * whatever their size) and hashed on the way; it is refused (nothing stored) when its bytes do
 * not hash to the sha256 the caller knows (an original's key, a variant's as the worker wrote it). Readers that need a
 * path get a download to a staged file (`localCopy`). Reads, the ETag checks that keep a read
 * on the version it opened, and error translation (missing → BlobNotFoundError, unreachable →
 * BlobStoreUnavailableError, a 503 for a request) are the replica's (s3-blob-store.ts).
 */
export function createS3PrimaryStore(bucket: S3Bucket, options: { stagingDir: string; partSize?: number; bufferSlots?: number }) {
  const stagingDir = path.resolve(options.stagingDir);
  const partSize = options.partSize ?? 8 * MiB;
  const blobs = createS3BlobStore(bucket, { stagingDir, partSize });
  // Every part of every upload of a staged file is read into one of these, reused: the memory
  // of all uploads together is at most `slots × partSize` (48 MiB by default).
  const buffers = createBufferPool({ slots: options.bufferSlots ?? 6, slabSize: partSize });

  const store = {
    ...blobs,
    placement: 'remote' as const,
    // An object is on the provider's stable storage once its PUT (or completion) is answered.
    durable: true,

    stagingPath: (suffix = '') => path.join(stagingDir, `${crypto.randomUUID()}${suffix}`),

    async upload(stagedFile: string, key: string, uploadOptions: { sha256?: string; reuse?: boolean; signal?: AbortSignal } = {}): Promise<void> {
      if (uploadOptions.reuse) {
        // Identical bytes already stored (an original is named by its sha256): not sent again.
        // A shorter object is a damaged one (an interrupted writer of another kind): replaced.
        const [stored, staged] = await Promise.all([blobs.stat(key), fs.promises.stat(stagedFile)]);
        if (stored && stored.size === staged.size) return;
      }
      if (uploadOptions.sha256 === undefined) {
        const source = fs.createReadStream(stagedFile, { highWaterMark: MiB });
        await blobs.put(key, source, { signal: uploadOptions.signal });
        return;
      }
      const file = await fs.promises.open(stagedFile, 'r');
      try {
        const { size } = await file.stat();
        await blobs.putFile(key, file, { size, sha256: uploadOptions.sha256, buffers, partSize, partConcurrency: 2, signal: uploadOptions.signal });
      } finally {
        await file.close();
      }
    },

    async deletePrefix(prefix: string, signal?: AbortSignal): Promise<void> {
      for await (const key of blobs.list(prefix, signal)) await blobs.delete(key, signal);
    },

    async isReachable(): Promise<boolean> {
      try {
        await bucket.check(AbortSignal.timeout(5_000));
        return true;
      } catch {
        return false;
      }
    },

    async freeBytes(): Promise<number> {
      const stats = await fs.promises.statfs(stagingDir);
      return stats.bavail * stats.bsize;
    },

    // --- below the port ----------------------------------------------------------------------

    stagingDir,

    /** Creates the staging folder and empties it: nothing staged survives a restart. */
    init(): void {
      fs.mkdirSync(stagingDir, { recursive: true });
      for (const entry of fs.readdirSync(stagingDir)) fs.rmSync(path.join(stagingDir, entry), { recursive: true, force: true });
    },
  };

  const port: RemotePrimaryStore = store;
  void port;
  return store;
}

export type S3PrimaryStore = ReturnType<typeof createS3PrimaryStore>;
