import type { Request, Response } from 'express';
import { originalKey, type SyncRepo } from '../db/sync.repo.js';
import { AppError } from '../errors.js';
import { sendRanged } from '../http/send-ranged.js';
import type { S3Bucket } from '../storage/s3/bucket.js';
import { describeS3Error, isNotFound, mightBeBucketWide } from '../storage/s3/errors.js';

export interface OriginalDownload {
  sha256: string;
  bytes: number;
  etag: string;
}

/**
 * Answers a download of an original that is not on local disk (evicted by the capacity tier) by
 * streaming it from the bucket: the same headers as a local file, `Range` passed through to S3,
 * nothing written to disk, backpressure from the client all the way to the bucket's socket.
 * The caller has already set Content-Type, ETag, Content-Disposition and caching headers.
 */
export function createBucketDownloads(deps: { bucket: S3Bucket; repo: SyncRepo }) {
  return async function sendFromBucket(req: Request, res: Response, file: OriginalDownload): Promise<void> {
    if (!deps.repo.original(file.sha256)?.synced_at) throw new AppError('not_found', 'the original file is gone');
    await sendRanged(req, res, {
      size: file.bytes,
      etag: file.etag,
      async open(range, signal) {
        try {
          return (await deps.bucket.get(originalKey(file.sha256), range, signal)).body;
        } catch (err) {
          if (isNotFound(err)) throw new AppError('not_found', 'the original file is gone');
          if (mightBeBucketWide(err)) {
            throw new AppError('unavailable', `the original is kept in the S3 bucket, which cannot be reached now (${describeS3Error(err)})`, {
              'Retry-After': '30',
            });
          }
          throw err;
        }
      },
    });
  };
}

export type BucketDownloads = ReturnType<typeof createBucketDownloads>;
