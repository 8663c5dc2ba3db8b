import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError } from '../errors.js';
import type { InputFormat } from '../media/formats.js';
import { describeUpload, judgeHead } from '../media/judge-head.js';
import { SNIFF_BYTES } from '../media/sniff.js';
import { openHashedFile, type HashedFileWriter } from '../storage/file-writer.js';
import { releaseBuffer } from '../storage/release-buffer.js';

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

export interface ReceiveOptions {
  /**
   * The source's chunks are this receiver's alone (a request body nothing else reads, a file
   * stream): each is freed as soon as it is copied (storage/release-buffer.ts), so memory does
   * not wait for the garbage collector. Never for chunks that are slices of something larger.
   */
  ownsChunks?: boolean;
}

/**
 * Streams one upload to a temp file: counts bytes against the limit, judges the first bytes
 * before reading the rest (so a text file named .jpg or a decompression bomb is refused after a
 * few kilobytes, not gigabytes, and never touches the disk), then writes and hashes sha256 on
 * the way (on the file-writer thread). Memory does not grow with size. On any failure the temp
 * file is removed and the error thrown.
 */
export async function receiveToTempFile(
  source: Readable,
  tmpPath: string,
  filename: string,
  limits: ReceiveLimits,
  options: ReceiveOptions = {},
): Promise<ReceivedFile> {
  let bytes = 0;
  let held: Buffer[] = []; // the head, kept until judged
  let heldBytes = 0;
  let sniffed: InputFormat | undefined;
  let file: HashedFileWriter | undefined; // opened once the head is accepted

  /** Judges the head; once it is accepted, opens the file and writes the head to it. */
  const judge = async (complete: boolean) => {
    const verdict = await judgeHead(Buffer.concat(held), { complete, filename, maxInputPixels: limits.maxInputPixels, known: sniffed });
    sniffed = verdict.format;
    if (verdict.decided) {
      file = await openHashedFile(tmpPath);
      for (const chunk of held) await file.write(chunk);
      held = [];
    }
  };

  const sink = new Writable({
    async write(chunk: Buffer, _encoding, callback) {
      try {
        bytes += chunk.length;
        if (bytes > limits.maxBytes) {
          const err = tooLarge(limits.maxBytes);
          err.context.format = sniffed;
          throw err;
        }
        if (file) {
          await file.write(chunk);
          if (options.ownsChunks) releaseBuffer(chunk);
        } else {
          held.push(chunk);
          heldBytes += chunk.length;
          if (heldBytes >= SNIFF_BYTES) await judge(false);
        }
        callback();
      } catch (err) {
        callback(err as Error);
      }
    },
    async final(callback) {
      try {
        if (!file) {
          if (bytes === 0) throw new AppError('invalid_request', `${describeUpload(filename)} is empty`);
          await judge(true);
        }
        callback();
      } catch (err) {
        callback(err as Error);
      }
    },
  });

  try {
    await pipeline(source, sink);
    return { tmpPath, bytes, sha256: await file!.finish(), filename, sniffedFormat: sniffed! };
  } catch (err) {
    await (file as HashedFileWriter | undefined)?.abort();
    throw translateWriteError(err);
  }
}

export function tooLarge(maxBytes: number): AppError {
  return new AppError('payload_too_large', `upload is larger than the limit of ${maxBytes} bytes`);
}

/** Source errors that mean the client went away mid-body (or was cut off for going silent). */
const CLIENT_GONE = new Set(['ERR_STREAM_PREMATURE_CLOSE', 'ECONNRESET', 'ECONNABORTED', 'EPIPE']);

function translateWriteError(err: unknown): unknown {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new AppError('insufficient_storage', 'the server ran out of disk space while receiving the upload');
  }
  // The client's doing, not a failure of the server: no error in the log for each one (a flood of
  // stalled uploads is what --idle-timeout cuts), and nobody is left to read the answer anyway.
  if ((code && CLIENT_GONE.has(code)) || (err as Error)?.message === 'aborted') {
    return new AppError('invalid_request', 'the client aborted the upload before it was complete');
  }
  return err;
}
