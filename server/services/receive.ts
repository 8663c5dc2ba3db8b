import crypto from 'node:crypto';
import fs from 'node:fs';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError } from '../errors.js';
import type { InputFormat } from '../media/formats.js';
import { describeUpload, judgeHead } from '../media/judge-head.js';
import { SNIFF_BYTES } from '../media/sniff.js';

export { checkPixelLimit } from '../media/judge-head.js';

export interface ReceivedFile {
  tmpPath: string;
  bytes: number;
  sha256: string;
  filename: string;
  sniffedFormat: InputFormat;
}

export interface ReceiveLimits {
  maxBytes: number;
  maxInputPixels: number;
}

// Larger writes mean fewer syscalls for multi-gigabyte bodies; memory per upload stays at a few MB.
const WRITE_HIGH_WATER_MARK = 1024 * 1024;

/**
 * Streams one upload to a temp file: counts bytes against the limit, hashes sha256 on the way,
 * and judges the first bytes before reading the rest, so a text file named .jpg or a
 * decompression bomb is refused after a few kilobytes, not gigabytes. Memory does not grow with
 * size. On any failure the temp file is removed and the error thrown.
 */
export async function receiveToTempFile(
  source: Readable,
  tmpPath: string,
  filename: string,
  limits: ReceiveLimits,
): Promise<ReceivedFile> {
  const hash = crypto.createHash('sha256');
  let bytes = 0;
  let head: Buffer[] = [];
  let headBytes = 0;
  let sniffed: InputFormat | undefined;
  let decided = false;

  const decide = async (complete: boolean) => {
    const verdict = await judgeHead(Buffer.concat(head), { complete, filename, maxInputPixels: limits.maxInputPixels, known: sniffed });
    sniffed = verdict.format;
    if (verdict.decided) {
      decided = true;
      head = [];
    }
  };

  const meter = new Transform({
    highWaterMark: WRITE_HIGH_WATER_MARK,
    transform(chunk: Buffer, _enc, callback: TransformCallback) {
      bytes += chunk.length;
      if (bytes > limits.maxBytes) {
        callback(tooLarge(limits.maxBytes));
        return;
      }
      hash.update(chunk);
      if (decided) {
        callback(null, chunk);
        return;
      }
      head.push(chunk);
      headBytes += chunk.length;
      if (headBytes < SNIFF_BYTES) {
        callback(null, chunk);
        return;
      }
      // Hold the stream (backpressure) until the head is judged.
      decide(false).then(
        () => callback(null, chunk),
        (err: unknown) => callback(err as Error),
      );
    },
    flush(callback) {
      if (decided) return callback();
      if (bytes === 0) return callback(new AppError('invalid_request', `${describeUpload(filename)} is empty`));
      decide(true).then(
        () => callback(),
        (err: unknown) => callback(err as Error),
      );
    },
  });

  try {
    await pipeline(source, meter, fs.createWriteStream(tmpPath, { highWaterMark: WRITE_HIGH_WATER_MARK }));
  } catch (err) {
    await fs.promises.rm(tmpPath, { force: true });
    throw translateWriteError(err);
  }
  return { tmpPath, bytes, sha256: hash.digest('hex'), filename, sniffedFormat: sniffed! };
}

export function tooLarge(maxBytes: number): AppError {
  return new AppError('payload_too_large', `upload is larger than the limit of ${maxBytes} bytes`);
}

function translateWriteError(err: unknown): unknown {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new AppError('insufficient_storage', 'the server ran out of disk space while receiving the upload');
  }
  return err;
}
