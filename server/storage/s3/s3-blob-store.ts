import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  BlobChangedError,
  BlobIntegrityError,
  BlobNotFoundError,
  BlobStoreUnavailableError,
  parseBlobKey,
  parseBlobPrefix,
  type BlobStat,
  type BlobStore,
  type ByteRange,
  type LocalCopy,
  type OpenedBlob,
  type PutResult,
} from '../blob-store.js';
import type { BufferPool } from '../buffer-pool.js';
import type { S3Bucket } from './bucket.js';
import { describeS3Error, isNotFound, mightBeBucketWide, statusOf } from './errors.js';
import { LocalIntegrityError, crc32Base64, uploadFile, type PositionalSource, type UploadRequest } from './multipart-upload.js';

const MiB = 1024 * 1024;

/**
 * The blob store as objects in an S3 bucket: the key is the object's name below the bucket's
 * prefix, unchanged, so a bucket a replica was written to reads as a store of the same keys.
 *
 * Today the bucket is the replica that S3 sync writes (sync/) and the capacity tier reads back
 * from; it offers the portable half of the port. SDK failures leave here translated: a missing
 * object is BlobNotFoundError, a bucket that cannot be reached (network, 5xx, throttling,
 * credentials) is BlobStoreUnavailableError with the SDK's error as its cause (which
 * storage/s3/errors.ts still reads, for sync's outage pause).
 */
export function createS3BlobStore(
  bucket: S3Bucket,
  options: {
    /** A local folder for `localCopy` (on the data dir's filesystem, emptied at start). */
    stagingDir: string;
    /** Objects up to this size go in one PUT; larger ones in parts of this size. */
    partSize?: number;
  },
) {
  const partSize = options.partSize ?? 8 * MiB;

  /** The SDK's failure as the port's: missing, unreachable, or (anything else) as it is. */
  const translate = (err: unknown, key: string): unknown => {
    if (err instanceof BlobNotFoundError || err instanceof BlobStoreUnavailableError) return err;
    if (isNotFound(err)) return new BlobNotFoundError(key);
    if (statusOf(err) === 412) return new BlobChangedError(key);
    if (mightBeBucketWide(err)) return new BlobStoreUnavailableError(`S3 ${bucket.where}: ${describeS3Error(err)}`, { cause: err });
    return err;
  };
  const guard = async <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw translate(err, key);
    }
  };

  /**
   * A GET of the version opened (`etag`), or of a range of it. Checked here as well as asked of
   * the server (If-Match): some S3-compatible servers ignore If-Match, and HTTP lets a server
   * send the whole object for a Range (some send a wider range than asked for `bytes=0-0`),
   * which is then cut to the range here.
   */
  async function get(key: string, range: ByteRange | undefined, etag: string | undefined, signal?: AbortSignal): Promise<Readable> {
    const out = await guard(key, () => bucket.get(key, range, signal, etag));
    if (etag !== undefined && out.etag !== undefined && out.etag !== etag) {
      out.body.destroy();
      throw new BlobChangedError(key);
    }
    if (!range || (out.sentFrom === range.start && out.bytes === range.end - range.start + 1)) return out.body;
    const cut = cutToRange({ start: range.start - out.sentFrom, end: range.end - out.sentFrom });
    out.body.once('error', (err) => cut.destroy(err));
    cut.once('close', () => out.body.destroy());
    return out.body.pipe(cut);
  }

  return {
    bucket,

    async put(key: string, source: Readable | AsyncIterable<Uint8Array>, putOptions: { sha256?: string; signal?: AbortSignal } = {}): Promise<PutResult> {
      parseBlobKey(key);
      const { signal } = putOptions;
      const hash = crypto.createHash('sha256');
      let bytes = 0;
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      let uploadId: string | undefined;
      const parts: Array<{ partNumber: number; etag: string; crc32: string }> = [];

      // Parts leave one at a time as they fill: memory stays at one part whatever the size.
      const sendPart = async (body: Buffer) => {
        uploadId ??= await guard(key, () => bucket.createMultipart(key, { sha256: putOptions.sha256 ?? '' }, signal));
        const partNumber = parts.length + 1;
        const crc32 = crc32Base64(body);
        const out = await guard(key, () => bucket.uploadPart(key, uploadId!, partNumber, body, crc32, signal));
        parts.push({ partNumber, etag: out.etag, crc32 });
      };

      try {
        for await (const chunk of source) {
          const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
          hash.update(buffer);
          bytes += buffer.length;
          pending.push(buffer);
          pendingBytes += buffer.length;
          while (pendingBytes >= partSize) {
            const all = Buffer.concat(pending, pendingBytes);
            await sendPart(all.subarray(0, partSize));
            pending = [all.subarray(partSize)];
            pendingBytes = all.length - partSize;
          }
        }
        const digest = hash.digest();
        const sha256 = digest.toString('hex');
        if (putOptions.sha256 !== undefined && putOptions.sha256 !== sha256) throw new BlobIntegrityError(key, putOptions.sha256, sha256);
        const rest = Buffer.concat(pending, pendingBytes);
        if (uploadId === undefined) {
          // One request, which the server checks against the sha256 before storing.
          await guard(key, () => bucket.put(key, rest, digest.toString('base64'), { sha256 }, signal));
        } else {
          if (rest.length > 0) await sendPart(rest);
          await guard(key, () => bucket.completeMultipart(key, uploadId!, parts, signal));
        }
        return { bytes, sha256 };
      } catch (err) {
        if (uploadId !== undefined) await bucket.abortMultipart(key, uploadId);
        throw err;
      }
    },

    async open(key: string): Promise<OpenedBlob> {
      parseBlobKey(key);
      const head = await guard(key, () => bucket.head(key));
      // Every read names the version opened: a replaced object fails (412) instead of mixing.
      const etag = head.etag;
      const size = head.bytes;
      return {
        key,
        size,
        modifiedMs: head.modifiedMs,
        async stream(range?: ByteRange, signal?: AbortSignal) {
          // An empty object has no range to ask for, and nothing to read.
          if (size === 0) return Readable.from([]);
          return get(key, range, etag, signal);
        },
        async read(buffer: Buffer, offset: number, length: number, position: number) {
          if (position >= size || length <= 0) return { bytesRead: 0 };
          const end = Math.min(size, position + length) - 1;
          const body = await get(key, { start: position, end }, etag);
          let bytesRead = 0;
          for await (const chunk of body as AsyncIterable<Buffer>) {
            chunk.copy(buffer, offset + bytesRead);
            bytesRead += chunk.length;
          }
          return { bytesRead };
        },
        // Nothing is held open between requests.
        close: async () => {},
      };
    },

    async stat(key: string): Promise<BlobStat | undefined> {
      parseBlobKey(key);
      try {
        const head = await guard(key, () => bucket.head(key));
        return { size: head.bytes, modifiedMs: head.modifiedMs };
      } catch (err) {
        if (err instanceof BlobNotFoundError) return undefined;
        throw err;
      }
    },

    async delete(key: string, signal?: AbortSignal): Promise<void> {
      parseBlobKey(key);
      await guard(key, () => bucket.delete(key, signal));
    },

    async *list(prefix: string, signal?: AbortSignal): AsyncIterable<string> {
      parseBlobPrefix(prefix);
      const pages = bucket.listPages(prefix, signal)[Symbol.asyncIterator]();
      for (;;) {
        const page = await guard(prefix, () => pages.next());
        if (page.done) return;
        yield* page.value;
      }
    },

    async localCopy(key: string, signal?: AbortSignal): Promise<LocalCopy> {
      parseBlobKey(key);
      fs.mkdirSync(options.stagingDir, { recursive: true });
      const file = path.join(options.stagingDir, `${crypto.randomUUID()}.copy`);
      try {
        const body = await get(key, undefined, undefined, signal);
        await pipeline(body, fs.createWriteStream(file), { signal });
      } catch (err) {
        await fs.promises.rm(file, { force: true });
        throw translate(err, key);
      }
      return { path: file, release: () => fs.promises.rm(file, { force: true }) };
    },

    /**
     * Stores a local file's bytes (read at positions, in parts of the pool's slab size, at most
     * `partConcurrency` in memory) under `key`, refused (BlobIntegrityError, nothing stored)
     * unless they hash to `sha256`: the primary store's upload of a staged file. The pool's
     * buffers are reused part after part, so memory stays flat however large the file.
     */
    async putFile(
      key: string,
      file: PositionalSource,
      request: { size: number; sha256: string; buffers: BufferPool; partSize: number; partConcurrency: number; signal?: AbortSignal },
    ): Promise<void> {
      parseBlobKey(key);
      let uploadId: string | undefined;
      try {
        await uploadFile({
          bucket,
          key,
          file,
          size: request.size,
          sha256: request.sha256,
          info: {},
          buffers: request.buffers,
          minPartSize: request.partSize,
          partConcurrency: request.partConcurrency,
          onMultipartStarted: (id: string) => void (uploadId = id),
          onPartDone: () => {},
          signal: request.signal ?? new AbortController().signal,
        });
      } catch (err) {
        // Nothing resumes a staged file's upload: its parts go now (the bucket's lifecycle rule
        // is the second line).
        if (uploadId !== undefined) await bucket.abortMultipart(key, uploadId);
        if (err instanceof LocalIntegrityError) {
          throw new BlobIntegrityError(key, request.sha256, /sha256 is ([0-9a-f]{64})/.exec(err.message)?.[1] ?? 'other bytes');
        }
        throw translate(err, key);
      }
    },

    /**
     * Replication's own put: copies an opened blob of another store, verified against its
     * sha256, as a multipart upload that survives a restart (`resume`, and the hooks that
     * persist each stored part). See multipart-upload.ts.
     */
    async replicate(source: OpenedBlob, request: Omit<UploadRequest, 'bucket' | 'key' | 'file' | 'size' | 'buffers'> & { key: string; buffers: BufferPool }) {
      parseBlobKey(request.key);
      return uploadFile({ ...request, bucket, file: source, size: source.size });
    },
  };
}

export type S3BlobStore = ReturnType<typeof createS3BlobStore>;

/** Passes on only the bytes of an inclusive range of what flows through. */
function cutToRange(range: ByteRange): Transform {
  let position = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      const from = Math.max(range.start - position, 0);
      const to = Math.min(range.end + 1 - position, chunk.length);
      position += chunk.length;
      done(null, from < to ? chunk.subarray(from, to) : undefined);
    },
  });
}

// The S3 store is a BlobStore; checked here, where a change to either would show first.
const _isBlobStore = (store: S3BlobStore): BlobStore => store;
void _isBlobStore;
