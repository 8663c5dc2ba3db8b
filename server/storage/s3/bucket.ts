import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';

export interface BucketTarget {
  bucket: string;
  /** Without leading or trailing slashes; '' for the bucket's root. */
  prefix: string;
  endpoint?: string;
  region: string;
  forcePathStyle: boolean;
}

export interface ObjectInfo {
  contentType?: string;
  /** Hex sha256 of the whole object, kept as `x-amz-meta-sha256` so a copy can be verified later. */
  sha256: string;
}

export interface CompletedPart {
  partNumber: number;
  etag: string;
  /** Base64 CRC32 of the part, as S3 checksums are written. */
  crc32: string;
}

/**
 * The one adapter around the S3 SDK: keys below the prefix in, plain values out. Credentials
 * come from the SDK's standard chain (environment, shared config and profile, instance roles).
 */
export function createS3Bucket(target: BucketTarget) {
  const client = new S3Client({
    region: target.region,
    endpoint: target.endpoint,
    forcePathStyle: target.forcePathStyle,
    // Darkroom computes and sends its own checksums (sha256 for whole objects, CRC32 for parts):
    // the SDK's automatic ones would hash every byte a second time.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 5_000, socketTimeout: 60_000, httpAgent: { keepAlive: true, maxSockets: 32 } },
  });
  const Bucket = target.bucket;
  const fullKey = (key: string) => (target.prefix ? `${target.prefix}/${key}` : key);
  const where = `bucket "${target.bucket}"${target.endpoint ? ` at ${target.endpoint}` : ` in ${target.region}`}`;

  return {
    target,
    client,
    fullKey,
    /** For messages: `bucket "photos" at http://minio:9000`. */
    where,
    /** s3://bucket/prefix/ */
    url: `s3://${target.bucket}/${target.prefix ? `${target.prefix}/` : ''}`,

    async check(signal?: AbortSignal): Promise<void> {
      await client.send(new HeadBucketCommand({ Bucket }), { abortSignal: signal });
    },

    /** One request for a small object, with the sha256 the server verifies before storing it. */
    async put(key: string, body: Buffer, sha256Base64: string, info: ObjectInfo, signal?: AbortSignal) {
      const out = await client.send(
        new PutObjectCommand({
          Bucket,
          Key: fullKey(key),
          Body: body,
          ContentLength: body.length,
          ChecksumSHA256: sha256Base64,
          ContentType: info.contentType,
          Metadata: info.sha256 ? { sha256: info.sha256 } : undefined,
        }),
        { abortSignal: signal },
      );
      return { etag: out.ETag ?? '', checksumSha256: out.ChecksumSHA256 };
    },

    async createMultipart(key: string, info: ObjectInfo, signal?: AbortSignal): Promise<string> {
      const out = await client.send(
        new CreateMultipartUploadCommand({
          Bucket,
          Key: fullKey(key),
          ContentType: info.contentType,
          Metadata: info.sha256 ? { sha256: info.sha256 } : undefined,
          ChecksumAlgorithm: 'CRC32',
        }),
        { abortSignal: signal },
      );
      if (!out.UploadId) throw new Error('the server started a multipart upload without an upload id');
      return out.UploadId;
    },

    async uploadPart(key: string, uploadId: string, partNumber: number, body: Buffer, crc32: string, signal?: AbortSignal) {
      const out = await client.send(
        new UploadPartCommand({
          Bucket,
          Key: fullKey(key),
          UploadId: uploadId,
          PartNumber: partNumber,
          Body: body,
          ContentLength: body.length,
          ChecksumCRC32: crc32,
        }),
        { abortSignal: signal },
      );
      if (!out.ETag) throw new Error(`the server stored part ${partNumber} without an ETag`);
      return { etag: out.ETag, checksumCrc32: out.ChecksumCRC32 };
    },

    async completeMultipart(key: string, uploadId: string, parts: CompletedPart[], signal?: AbortSignal) {
      const out = await client.send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key: fullKey(key),
          UploadId: uploadId,
          MultipartUpload: {
            Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag, ChecksumCRC32: p.crc32 })),
          },
        }),
        { abortSignal: signal },
      );
      return { etag: out.ETag ?? '' };
    },

    /** Best effort: a server without it (or an upload already gone) is no reason to fail. */
    async abortMultipart(key: string, uploadId: string): Promise<void> {
      try {
        await client.send(new AbortMultipartUploadCommand({ Bucket, Key: fullKey(key), UploadId: uploadId }));
      } catch {
        // The bucket's lifecycle rule for incomplete uploads is the second line of defence.
      }
    },

    async head(key: string, signal?: AbortSignal) {
      const out = await client.send(new HeadObjectCommand({ Bucket, Key: fullKey(key) }), { abortSignal: signal });
      return { bytes: out.ContentLength ?? 0, sha256: out.Metadata?.sha256, etag: out.ETag, modifiedMs: out.LastModified?.getTime() ?? 0 };
    },

    /**
     * Streams an object, or the inclusive byte range `[start, end]` of it; with `ifMatch`, only
     * while the object still has that ETag (412 otherwise), so ranges of one object never mix
     * bytes of two versions.
     */
    async get(key: string, range?: { start: number; end: number }, signal?: AbortSignal, ifMatch?: string) {
      const out = await client.send(
        new GetObjectCommand({ Bucket, Key: fullKey(key), Range: range ? `bytes=${range.start}-${range.end}` : undefined, IfMatch: ifMatch }),
        { abortSignal: signal },
      );
      // Where the bytes sent begin: a server may send another range than asked, or all of it.
      const sentFrom = Number(/^bytes (\d+)-/.exec(out.ContentRange ?? '')?.[1] ?? 0);
      return { body: out.Body as Readable, bytes: out.ContentLength ?? 0, sha256: out.Metadata?.sha256, etag: out.ETag, sentFrom };
    },

    async delete(key: string, signal?: AbortSignal): Promise<void> {
      await client.send(new DeleteObjectCommand({ Bucket, Key: fullKey(key) }), { abortSignal: signal });
    },

    /** Keys (below the prefix) starting with `keyPrefix`, one page (up to 1,000) at a time. */
    async *listPages(keyPrefix: string, signal?: AbortSignal): AsyncIterable<string[]> {
      let token: string | undefined;
      const strip = target.prefix ? target.prefix.length + 1 : 0;
      do {
        const out = await client.send(
          new ListObjectsV2Command({ Bucket, Prefix: fullKey(keyPrefix), ContinuationToken: token }),
          { abortSignal: signal },
        );
        yield (out.Contents ?? []).flatMap((item) => (item.Key ? [item.Key.slice(strip)] : []));
        token = out.IsTruncated ? out.NextContinuationToken : undefined;
      } while (token);
    },

    /** Like `listPages`, with each object's size and modification time. */
    async *listObjects(keyPrefix: string, signal?: AbortSignal): AsyncIterable<Array<{ key: string; bytes: number; modifiedMs: number }>> {
      let token: string | undefined;
      const strip = target.prefix ? target.prefix.length + 1 : 0;
      do {
        const out = await client.send(
          new ListObjectsV2Command({ Bucket, Prefix: fullKey(keyPrefix), ContinuationToken: token }),
          { abortSignal: signal },
        );
        yield (out.Contents ?? []).flatMap((item) =>
          item.Key ? [{ key: item.Key.slice(strip), bytes: item.Size ?? 0, modifiedMs: item.LastModified?.getTime() ?? 0 }] : [],
        );
        token = out.IsTruncated ? out.NextContinuationToken : undefined;
      } while (token);
    },

    /** Keys (below the prefix) starting with `keyPrefix`, every page. */
    async list(keyPrefix: string, signal?: AbortSignal): Promise<string[]> {
      const keys: string[] = [];
      for await (const page of this.listPages(keyPrefix, signal)) keys.push(...page);
      return keys;
    },

    destroy: () => client.destroy(),
  };
}

export type S3Bucket = ReturnType<typeof createS3Bucket>;
