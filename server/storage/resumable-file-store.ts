import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FileStore } from '@tus/file-store';
import { ERRORS, type Upload } from '@tus/server';
import { AppError } from '../errors.js';
import { HEAD_BYTES, judgeHead } from '../media/judge-head.js';
import { SNIFF_BYTES } from '../media/sniff.js';

/** tus upload ids as @tus/server names them: 32 hex digits. Anything else is not ours. */
export const UPLOAD_ID = /^[0-9a-f]{32}$/;

// Larger writes mean fewer syscalls for multi-gigabyte bodies; memory per upload stays at a few MB.
const WRITE_HIGH_WATER_MARK = 1024 * 1024;

interface RunningHash {
  hash: crypto.Hash;
  /** How many leading bytes of the file the hash has seen. */
  bytes: number;
}

export interface ResumableFileStoreOptions {
  directory: string;
  maxInputPixels: number;
}

/**
 * The tus file store with Darkroom's rules applied on the way in, exactly as for a plain upload:
 * the first bytes are judged before more are written (not an image → 415, pixel bomb → 422), and
 * sha256 is computed while the bytes stream to disk. A refused upload is removed at once.
 *
 * The hash of an upload lives in memory between the requests that carry its parts; after a
 * restart (or a part that failed half-way) it is rebuilt once from the bytes already on disk.
 */
export class ResumableFileStore extends FileStore {
  private readonly hashes = new Map<string, RunningHash>();
  private readonly maxInputPixels: number;

  constructor(options: ResumableFileStoreOptions) {
    super({ directory: options.directory });
    fs.mkdirSync(options.directory, { recursive: true });
    this.maxInputPixels = options.maxInputPixels;
  }

  /** Where the bytes of an upload are kept until it is complete. */
  filePath(id: string): string {
    if (!UPLOAD_ID.test(id)) throw ERRORS.FILE_NOT_FOUND;
    return path.join(this.directory, id);
  }

  override async write(readable: Readable, id: string, offset: number): Promise<number> {
    const file = this.filePath(id);
    const info = await this.configstore.get(id);
    if (!info) throw ERRORS.FILE_NOT_FOUND;
    const filename = info.metadata?.filename ?? '';
    const size = info.size;
    const running = await this.hashAt(id, file, offset);
    const maxInputPixels = this.maxInputPixels;

    // Any part that starts inside the head re-reads what came before it and judges again:
    // cheap (at most 256 KB) and it needs no state that a restart could lose.
    let head: Buffer[] | undefined = offset < HEAD_BYTES ? [await readPrefix(file, offset)] : undefined;
    let headBytes = offset;
    let received = 0;

    const judge = async (complete: boolean) => {
      const verdict = await judgeHead(Buffer.concat(head!), { complete, filename, maxInputPixels });
      if (verdict.decided) head = undefined;
    };

    const meter = new Transform({
      highWaterMark: WRITE_HIGH_WATER_MARK,
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

    // The source is piped rather than put in the pipeline: a refusal must not destroy it, or
    // the protocol layer would answer with a generic error before this upload is cleaned up.
    const writer = fs.createWriteStream(file, { flags: 'r+', start: offset, highWaterMark: WRITE_HIGH_WATER_MARK });
    const onSourceError = (err: Error) => meter.destroy(err);
    readable.once('error', onSourceError);
    readable.pipe(meter);
    try {
      await pipeline(meter, writer);
    } catch (err) {
      readable.unpipe(meter);
      // Some of what the hash saw may not have reached the disk: rebuild it next time.
      this.hashes.delete(id);
      const refusal = asRefusal(err);
      if (refusal) {
        await this.discard(id);
        throw refusal;
      }
      throw ERRORS.FILE_WRITE_ERROR;
    } finally {
      readable.off('error', onSourceError);
    }
    running.bytes = offset + received;
    return offset + received;
  }

  /** The sha256 of a complete upload: from the running hash, or read once from disk. */
  async sha256(id: string, size: number): Promise<string> {
    const running = await this.hashAt(id, this.filePath(id), size);
    this.hashes.delete(id);
    return running.hash.digest('hex');
  }

  /** Removes an upload's bytes and record, whatever state they are in. */
  async discard(id: string): Promise<void> {
    this.hashes.delete(id);
    await fs.promises.rm(this.filePath(id), { force: true });
    await fs.promises.rm(path.join(this.directory, `${id}.json`), { force: true });
  }

  /** Forgets the in-memory hash of an upload (it was completed or removed elsewhere). */
  forget(id: string): void {
    this.hashes.delete(id);
  }

  /** Every upload record in the directory, with when its bytes or record last changed. */
  async records(): Promise<Array<{ id: string; info: Upload | undefined; touchedAt: number }>> {
    const out = [];
    for (const name of await fs.promises.readdir(this.directory)) {
      const id = name.endsWith('.json') ? name.slice(0, -5) : undefined;
      if (!id || !UPLOAD_ID.test(id)) continue;
      const mtime = async (file: string) => (await fs.promises.stat(file).catch(() => undefined))?.mtimeMs ?? 0;
      const touchedAt = Math.max(await mtime(path.join(this.directory, name)), await mtime(this.filePath(id)));
      out.push({ id, info: await this.configstore.get(id), touchedAt });
    }
    return out;
  }

  private async hashAt(id: string, file: string, offset: number): Promise<RunningHash> {
    const known = this.hashes.get(id);
    if (known && known.bytes === offset) return known;
    const hash = crypto.createHash('sha256');
    if (offset > 0) {
      for await (const chunk of fs.createReadStream(file, { start: 0, end: offset - 1, highWaterMark: WRITE_HIGH_WATER_MARK })) {
        hash.update(chunk as Buffer);
      }
    }
    const running = { hash, bytes: offset };
    this.hashes.set(id, running);
    return running;
  }
}

/** The first `bytes` bytes of a file (at most the head, so small). */
async function readPrefix(file: string, bytes: number): Promise<Buffer> {
  if (bytes === 0) return Buffer.alloc(0);
  const handle = await fs.promises.open(file, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    const { bytesRead } = await handle.read(buf, 0, bytes, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
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
