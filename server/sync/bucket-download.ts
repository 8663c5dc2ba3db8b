import type { Request, Response } from 'express';
import type { SyncRepo } from '../db/sync.repo.js';
import { AppError } from '../errors.js';
import { sendRanged } from '../http/send-ranged.js';
import { BlobStoreUnavailableError, isBlobNotFound, type BlobStore } from '../storage/blob-store.js';
import { originalKey } from './bucket-keys.js';

export interface OriginalDownload {
  sha256: string;
  bytes: number;
  etag: string;
}

/**
 * Answers a download of an original that is not in the primary store (evicted by the capacity
 * tier) by streaming it from the replica store: the same headers as a local file, `Range`
 * passed through, nothing written to disk, backpressure from the client all the way to the
 * replica. The caller has already set Content-Type, ETag, Content-Disposition and caching headers.
 */
export function createBucketDownloads(deps: { replica: BlobStore; sync: Pick<SyncRepo, 'original'> }) {
  const answer = (err: unknown): unknown => {
    if (isBlobNotFound(err)) return new AppError('not_found', 'the original file is gone');
    if (err instanceof BlobStoreUnavailableError) {
      return new AppError('unavailable', `the original is kept in the S3 bucket, which cannot be reached now (${err.detail})`, { 'Retry-After': '30' });
    }
    return err;
  };

  return async function sendFromBucket(req: Request, res: Response, file: OriginalDownload): Promise<void> {
    if (!(await deps.sync.original(file.sha256))?.synced_at) throw new AppError('not_found', 'the original file is gone');
    const blob = await deps.replica.open(originalKey(file.sha256)).catch((err: unknown) => {
      throw answer(err);
    });
    await sendRanged(req, res, {
      size: blob.size,
      etag: file.etag,
      open: (range, signal) =>
        blob.stream(range, signal).catch((err: unknown) => {
          throw answer(err);
        }),
    });
  };
}

export type BucketDownloads = ReturnType<typeof createBucketDownloads>;
