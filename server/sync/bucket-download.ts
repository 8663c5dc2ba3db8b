import { pipeline } from 'node:stream/promises';
import type { Request, Response } from 'express';
import { originalKey, type SyncRepo } from '../db/sync.repo.js';
import { AppError } from '../errors.js';
import { parseRange } from '../http/range.js';
import type { S3Bucket } from '../storage/s3-bucket.js';
import { describeS3Error, isNotFound, mightBeBucketWide } from '../storage/s3-errors.js';

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
    const ifRange = typeof req.headers['if-range'] === 'string' ? req.headers['if-range'] : undefined;
    const range = parseRange(req.headers.range, file.bytes, ifRange, file.etag);
    res.setHeader('Accept-Ranges', 'bytes');
    if (range === 'unsatisfiable') {
      throw new AppError('range_not_satisfiable', `the original has ${file.bytes} bytes`, { 'Content-Range': `bytes */${file.bytes}` });
    }
    const length = range ? range.end - range.start + 1 : file.bytes;
    res.status(range ? 206 : 200);
    res.setHeader('Content-Length', String(length));
    if (range) res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${file.bytes}`);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }

    // The client going away stops the transfer from the bucket too.
    const controller = new AbortController();
    const onClose = () => controller.abort();
    res.once('close', onClose);
    let object;
    try {
      object = await deps.bucket.get(originalKey(file.sha256), range, controller.signal);
    } catch (err) {
      res.off('close', onClose);
      res.removeHeader('Content-Length');
      res.removeHeader('Content-Range');
      if (isNotFound(err)) throw new AppError('not_found', 'the original file is gone');
      if (mightBeBucketWide(err)) {
        throw new AppError('unavailable', `the original is kept in the S3 bucket, which cannot be reached now (${describeS3Error(err)})`, {
          'Retry-After': '30',
        });
      }
      throw err;
    }
    try {
      await pipeline(object.body, res);
    } catch {
      // The client left, or the bucket's stream broke: the response is cut short either way,
      // which the client sees as a short body and can resume with Range.
      res.destroy();
    } finally {
      res.off('close', onClose);
    }
  };
}

export type BucketDownloads = ReturnType<typeof createBucketDownloads>;
