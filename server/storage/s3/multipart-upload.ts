import crypto from 'node:crypto';
import zlib from 'node:zlib';
import type { BufferPool } from '../buffer-pool.js';
import type { CompletedPart, ObjectInfo, S3Bucket } from './bucket.js';
import { isUnknownUpload } from './errors.js';

const MiB = 1024 * 1024;
/** S3 allows at most 10,000 parts; parts grow past the default only for objects over ~80 GB. */
const MAX_PARTS = 10_000;

/** The local bytes are not what their recorded sha256 says: uploading again will not help. */
export class LocalIntegrityError extends Error {}

/** The multipart upload cannot be continued (the server forgot it, or the file changed): start a new one. */
export class UploadGoneError extends Error {}

export function planParts(size: number, minPartSize: number): { partSize: number; count: number } {
  const partSize = Math.max(minPartSize, Math.ceil(size / MAX_PARTS / MiB) * MiB);
  return { partSize, count: Math.max(1, Math.ceil(size / partSize)) };
}

/** S3 writes checksums as base64 of the big-endian value. */
export function crc32Base64(data: Buffer): string {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(zlib.crc32(data) >>> 0);
  return out.toString('base64');
}

/** What the bytes are read from: an open blob of any store, or a FileHandle. */
export interface PositionalSource {
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
}

async function readFully(file: PositionalSource, buffer: Buffer, length: number, position: number): Promise<void> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await file.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) throw new LocalIntegrityError(`the file ended at ${position + done} bytes, before its recorded size`);
    done += bytesRead;
  }
}

export interface UploadRequest {
  bucket: S3Bucket;
  key: string;
  file: PositionalSource;
  size: number;
  /** Hex sha256 the bytes must have; checked before the object is completed. */
  sha256: string;
  info: Omit<ObjectInfo, 'sha256'>;
  buffers: BufferPool;
  minPartSize: number;
  partConcurrency: number;
  /** A multipart upload of this object begun earlier (before a crash or restart). */
  resume?: { uploadId: string; partSize: number; parts: Array<{ part_number: number; etag: string; crc32: string; bytes: number }> };
  /** Persist these before relying on them: they are what a later attempt resumes from. */
  /** Awaited when it returns a promise (recording the upload may be asynchronous). */
  onMultipartStarted(uploadId: string, partSize: number): unknown;
  /** Awaited like onMultipartStarted. */
  onPartDone(part: CompletedPart & { bytes: number }): unknown;
  onProgress?(bytesDone: number): void;
  signal: AbortSignal;
}

/**
 * Uploads a blob (or a local file) as one object, verifiably and with bounded memory:
 *
 * - up to one part size: a single PUT carrying the sha256 of the bytes, which the server checks
 *   before storing them (`x-amz-checksum-sha256`);
 * - larger: a multipart upload whose parts carry a CRC32 the server checks, read in order into
 *   pooled buffers (so at most `partConcurrency` parts are in memory) while a sha256 of the whole
 *   file is computed on the way. The upload is completed only when that sha256 equals the recorded
 *   one, so the object is exactly the bytes Darkroom accepted.
 *
 * Every finished part is reported before the next is relied on, and a later call with `resume`
 * skips the parts already stored (after checking their CRC32 against the local bytes), which is
 * how a multipart upload survives `kill -9`. lib-storage's Upload cannot do that: it keeps its
 * parts in memory and starts a new multipart upload each time.
 */
export async function uploadFile(req: UploadRequest): Promise<{ multipart: boolean; resumedBytes: number }> {
  const { bucket, key, file, size, signal } = req;
  const info: ObjectInfo = { ...req.info, sha256: req.sha256 };

  if (size <= req.minPartSize) {
    const slab = await req.buffers.acquire(size, signal);
    try {
      const body = slab.subarray(0, size);
      await readFully(file, body, size, 0);
      const digest = crypto.createHash('sha256').update(body).digest();
      if (digest.toString('hex') !== req.sha256) {
        throw new LocalIntegrityError(`the local file's sha256 is ${digest.toString('hex')}, not the recorded ${req.sha256}`);
      }
      const out = await bucket.put(key, body, digest.toString('base64'), info, signal);
      if (out.checksumSha256 && out.checksumSha256 !== digest.toString('base64')) {
        throw new Error(`the server stored a different sha256 (${out.checksumSha256}) than sent`);
      }
      req.onProgress?.(size);
      return { multipart: false, resumedBytes: 0 };
    } finally {
      req.buffers.release(slab);
    }
  }

  const plan = planParts(size, req.minPartSize);
  let uploadId: string;
  const stored = new Map<number, { etag: string; crc32: string; bytes: number }>();
  if (req.resume && req.resume.partSize === plan.partSize) {
    uploadId = req.resume.uploadId;
    for (const p of req.resume.parts) stored.set(p.part_number, p);
  } else {
    if (req.resume) await bucket.abortMultipart(key, req.resume.uploadId);
    uploadId = await bucket.createMultipart(key, info, signal);
    await req.onMultipartStarted(uploadId, plan.partSize);
  }

  const parts: CompletedPart[] = [];
  const whole = crypto.createHash('sha256');
  const controller = new AbortController();
  const partSignal = AbortSignal.any([signal, controller.signal]);
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  let bytesDone = 0;
  let resumedBytes = 0;

  const send = async (partNumber: number, body: Buffer, slab: Buffer, crc32: string) => {
    try {
      const out = await bucket.uploadPart(key, uploadId, partNumber, body, crc32, partSignal);
      if (out.checksumCrc32 && out.checksumCrc32 !== crc32) throw new Error(`the server stored part ${partNumber} with a different CRC32`);
      await req.onPartDone({ partNumber, etag: out.etag, crc32, bytes: body.length });
      parts.push({ partNumber, etag: out.etag, crc32 });
      bytesDone += body.length;
      req.onProgress?.(bytesDone);
    } finally {
      req.buffers.release(slab);
    }
  };

  try {
    for (let partNumber = 1; partNumber <= plan.count && failure === undefined; partNumber++) {
      const offset = (partNumber - 1) * plan.partSize;
      const length = Math.min(plan.partSize, size - offset);
      const slab = await req.buffers.acquire(length, partSignal);
      const body = slab.subarray(0, length);
      try {
        await readFully(file, body, length, offset);
      } catch (err) {
        req.buffers.release(slab);
        throw err;
      }
      // In part order, so the whole file's hash needs no second pass.
      whole.update(body);
      const crc32 = crc32Base64(body);
      const already = stored.get(partNumber);
      if (already) {
        req.buffers.release(slab);
        // The file is not what the stored parts were cut from (a processed file made again):
        // those parts are worthless, the upload starts over.
        if (already.crc32 !== crc32 || already.bytes !== length) {
          throw new UploadGoneError(`part ${partNumber} no longer matches the part stored earlier`);
        }
        parts.push({ partNumber, etag: already.etag, crc32 });
        bytesDone += length;
        resumedBytes += length;
        req.onProgress?.(bytesDone);
        continue;
      }
      // The next part was read and hashed while these were on the wire: it goes as soon as one lands.
      while (inFlight.size >= req.partConcurrency) await Promise.race(inFlight);
      if (failure !== undefined) {
        req.buffers.release(slab);
        break;
      }
      const task = send(partNumber, body, slab, crc32).catch((err: unknown) => {
        failure ??= err;
        controller.abort(err);
      });
      inFlight.add(task);
      void task.finally(() => inFlight.delete(task));
    }
    await Promise.all(inFlight);
  } catch (err) {
    failure ??= err;
    controller.abort(err);
    await Promise.allSettled(inFlight);
  }
  if (failure !== undefined) {
    if (isUnknownUpload(failure)) throw new UploadGoneError(`multipart upload ${uploadId} is gone: ${(failure as Error).message}`);
    throw failure;
  }

  const digest = whole.digest('hex');
  if (digest !== req.sha256) {
    await bucket.abortMultipart(key, uploadId);
    throw new LocalIntegrityError(`the local file's sha256 is ${digest}, not the recorded ${req.sha256}`);
  }
  parts.sort((a, b) => a.partNumber - b.partNumber);
  try {
    await bucket.completeMultipart(key, uploadId, parts, signal);
  } catch (err) {
    if (isUnknownUpload(err)) throw new UploadGoneError(`multipart upload ${uploadId} is gone: ${(err as Error).message}`);
    throw err;
  }
  return { multipart: true, resumedBytes };
}
