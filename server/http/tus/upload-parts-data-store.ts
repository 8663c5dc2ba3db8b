import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { DataStore, ERRORS, Upload } from '@tus/server';
import { AppError } from '../../errors.js';
import { HEAD_BYTES, judgeHead } from '../../media/judge-head.js';
import { SNIFF_BYTES } from '../../media/sniff.js';
import { BlobStoreUnavailableError, UPLOAD_ID, blobKeys } from '../../storage/blob-store.js';
import type { UploadPartStore } from '../../storage/upload-parts.js';
import { createRunningHashes, type RunningHashes } from './running-hashes.js';

// Larger chunks mean fewer syscalls for multi-gigabyte bodies; memory per upload stays at a few MB.
const METER_HIGH_WATER_MARK = 1024 * 1024;

export interface UploadPartsDataStoreOptions {
  parts: UploadPartStore;
  maxInputPixels: number;
}


/** The metadata key of a completed upload's record naming the image it became (set by resumable-uploads.ts). */
export const IMAGE_ID_KEY = 'darkroom-image-id';

/**
 * tus's DataStore over the upload-parts port, with Darkroom's rules applied on the way in,
 * exactly as for a plain upload: the first bytes are judged before more are stored (not an
 * image → 415, pixel bomb → 422), and sha256 is computed while the bytes stream to the store. A
 * refused upload is removed at once.
 *
 * Why not @tus/file-store's FileStore (the usual base): it *is* a file adapter (it resolves paths,
 * opens write streams, keeps records through a path-based KV store), so extending it puts the
 * protocol, Darkroom's rules and the disk layout in one class, and an upload could only ever
 * live in a local folder. tus's own base class (DataStore, from @tus/server's re-export of
 * @tus/utils) is the contract @tus/server calls; implementing its six methods over the port is
 * a page, and the file layout stays the fs adapter's (storage/fs/fs-upload-parts.ts), the same
 * files FileStore kept. @tus/server still does all of the protocol.
 */
export class UploadPartsDataStore extends DataStore {
  private readonly parts: UploadPartStore;
  private readonly maxInputPixels: number;
  private readonly hashes: RunningHashes;

  constructor(options: UploadPartsDataStoreOptions) {
    super();
    this.parts = options.parts;
    this.maxInputPixels = options.maxInputPixels;
    this.hashes = createRunningHashes(options.parts);
    // What FileStore offered, so OPTIONS answers the same Tus-Extension. Expiration is
    // announced but off (getExpiration() is 0): abandoned uploads are swept by the caller.
    this.extensions = ['creation', 'creation-with-upload', 'creation-defer-length', 'termination', 'expiration'];
  }

  override async create(upload: Upload): Promise<Upload> {
    await this.parts.create(keyOf(upload.id), { size: upload.size, metadata: upload.metadata ?? {}, createdAt: upload.creation_date });
    return upload;
  }

  override async getUpload(id: string): Promise<Upload> {
    const key = keyOf(id);
    const record = await this.parts.readRecord(key);
    if (!record) throw ERRORS.FILE_NOT_FOUND;
    const stored = await this.parts.stat(key);
    // A completed upload became an image and its bytes went with it: it is whole, so a part
    // sent at an older offset (the same last part retried on another node, which waited for the
    // lock meanwhile) is answered 409 with the offset to ask about, not as gone.
    if (!stored && record.size !== undefined && record.metadata[IMAGE_ID_KEY]) {
      return new Upload({ id, size: record.size, offset: record.size, metadata: record.metadata, creation_date: record.createdAt });
    }
    if (!stored) throw ERRORS.FILE_NO_LONGER_EXISTS;
    return new Upload({ id, size: record.size, offset: stored.bytes, metadata: record.metadata, creation_date: record.createdAt });
  }

  override async declareUploadLength(id: string, length: number): Promise<void> {
    const key = keyOf(id);
    const record = await this.parts.readRecord(key);
    if (!record) throw ERRORS.FILE_NOT_FOUND;
    await this.parts.writeRecord(key, { ...record, size: length });
  }

  override async remove(id: string): Promise<void> {
    const key = keyOf(id);
    if (!(await this.parts.stat(key))) throw ERRORS.FILE_NOT_FOUND;
    await this.discard(id);
  }

  override async deleteExpired(): Promise<number> {
    return 0;
  }

  override getExpiration(): number {
    return 0;
  }

  override async write(readable: Readable, id: string, offset: number): Promise<number> {
    const key = keyOf(id);
    const record = await this.parts.readRecord(key);
    if (!record) throw ERRORS.FILE_NOT_FOUND;
    const filename = record.metadata.filename ?? '';
    const size = record.size;
    const running = await this.hashes.at(id, offset);
    const maxInputPixels = this.maxInputPixels;

    // Any part that starts inside the head re-reads what came before it and judges again:
    // cheap (at most 256 KB) and it needs no state that a restart could lose.
    let head: Buffer[] | undefined = offset < HEAD_BYTES ? [await this.readPrefix(key, offset)] : undefined;
    let headBytes = offset;
    let received = 0;

    const judge = async (complete: boolean) => {
      const verdict = await judgeHead(Buffer.concat(head!), { complete, filename, maxInputPixels });
      if (verdict.decided) head = undefined;
    };

    const meter = new Transform({
      highWaterMark: METER_HIGH_WATER_MARK,
      transform(chunk: Buffer, _enc, callback: TransformCallback) {
        received += chunk.length;
        running.hash.update(chunk);
        if (!head) return callback(null, chunk);
        head.push(chunk);
        headBytes += chunk.length;
        if (headBytes < SNIFF_BYTES) return callback(null, chunk);
        // Hold the stream (backpressure) until the head is judged.
        judge(false).then(
          () => callback(null, chunk),
          (err: unknown) => callback(err as Error),
        );
      },
      flush(callback) {
        if (!head || size === undefined || offset + received < size) return callback();
        judge(true).then(
          () => callback(),
          (err: unknown) => callback(err as Error),
        );
      },
    });

    // The source is piped rather than handed to the store: a refusal must not destroy it, or
    // the protocol layer would answer with a generic error before this upload is cleaned up.
    const onSourceError = (err: Error) => meter.destroy(err);
    readable.once('error', onSourceError);
    readable.pipe(meter);
    let end: number;
    try {
      end = await this.parts.append(key, meter, offset);
    } catch (err) {
      readable.unpipe(meter);
      // Some of what the hash saw may not have been stored: rebuild it next time.
      this.hashes.forget(id);
      // A store that cannot be reached now (a bucket's outage) refuses nothing: 503 with
      // Retry-After, and the upload keeps what was stored, to resume from.
      if (err instanceof BlobStoreUnavailableError) throw err;
      const refusal = asRefusal(err);
      if (refusal) {
        await this.discard(id);
        throw refusal;
      }
      throw ERRORS.FILE_WRITE_ERROR;
    } finally {
      readable.off('error', onSourceError);
    }
    if (end === offset + received) running.bytes = end;
    else this.hashes.forget(id);
    return end;
  }

  /** The sha256 of a complete upload: from the running hash, or read once from the store. */
  sha256(id: string, size: number): Promise<string> {
    return this.hashes.digest(id, size);
  }

  /** Removes an upload's bytes and record, whatever state they are in. */
  async discard(id: string): Promise<void> {
    this.hashes.forget(id);
    await this.parts.remove(keyOf(id));
  }

  /** The first `bytes` bytes of an upload (at most the head, so small). */
  private async readPrefix(key: string, bytes: number): Promise<Buffer> {
    if (bytes === 0) return Buffer.alloc(0);
    const blob = await this.parts.open(key);
    try {
      const buf = Buffer.alloc(bytes);
      const { bytesRead } = await blob.read(buf, 0, bytes, 0);
      return buf.subarray(0, bytesRead);
    } finally {
      await blob.close();
    }
  }
}

/** The key of a tus upload id; an id that is not one of ours is an upload that does not exist. */
export function keyOf(id: string): string {
  if (!UPLOAD_ID.test(id)) throw ERRORS.FILE_NOT_FOUND;
  return blobKeys.upload(id);
}

/** Errors that refuse the upload for good (as opposed to a dropped connection, which is resumed). */
function asRefusal(err: unknown): AppError | undefined {
  if (err instanceof AppError) return err;
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new AppError('insufficient_storage', 'the server ran out of disk space while receiving the upload');
  }
  return undefined;
}
