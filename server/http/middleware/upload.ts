import fs from 'node:fs';
import type { Request, Response } from 'express';
import busboy from 'busboy';
import { AppError } from '../../errors.js';
import { allowSlowBody } from '../connection/body-deadline.js';
import { receiveToTempFile, tooLarge, type ReceiveLimits, type ReceivedFile } from '../../services/receive.js';

export interface UploadBody {
  files: ReceivedFile[];
  fields: Record<string, string>;
}

const MAX_FILES_PER_REQUEST = 100;
const MAX_FIELD_BYTES = 64 * 1024;

/**
 * Reads an upload request into temp files: `multipart/form-data` with one or more `image`
 * fields, or any other body as one raw image (`curl -T`, name in X-Filename). Streams only;
 * nothing is buffered beyond a few chunks. On failure every temp file is gone.
 */
export async function readUpload(
  req: Request,
  res: Response,
  limits: ReceiveLimits,
  tmpPath: () => string,
): Promise<UploadBody> {
  allowSlowBody(req);
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBodyBytes(limits)) throw tooLarge(limits.maxBytes);
  // The body is wanted: a client waiting on "Expect: 100-continue" may send it now.
  if (/100-continue/i.test(req.headers.expect ?? '') && !res.headersSent) res.writeContinue();
  const type = req.headers['content-type'] ?? '';
  if (/^multipart\/form-data/i.test(type)) return readMultipart(req, limits, tmpPath);
  const filename = decodeHeader(req.headers['x-filename']);
  // Nothing else reads a raw body: its chunks are the receiver's to free once copied.
  const file = await receiveToTempFile(req, tmpPath(), filename, limits, { ownsChunks: req.listenerCount('data') === 0 });
  return { files: [file], fields: {} };
}

function readMultipart(req: Request, limits: ReceiveLimits, tmpPath: () => string): Promise<UploadBody> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: req.headers,
        limits: { files: MAX_FILES_PER_REQUEST, fields: 50, fieldSize: MAX_FIELD_BYTES },
      });
    } catch (err) {
      reject(new AppError('invalid_request', `bad multipart body: ${(err as Error).message}`));
      return;
    }
    const fields: Record<string, string> = {};
    const receiving: Array<Promise<ReceivedFile>> = [];
    const active = new Set<NodeJS.ReadableStream & { destroy(err?: Error): void }>();
    let failure: unknown;

    const fail = (err: unknown) => {
      if (failure) return;
      failure = err;
      req.unpipe(parser);
      // Files still arriving will never finish now: end them so their temp files are removed.
      for (const stream of active) stream.destroy(new Error('upload abandoned'));
      settle();
    };

    parser.on('file', (name, stream, info) => {
      if (failure) return void stream.resume();
      if (name !== 'image') {
        stream.resume();
        return fail(new AppError('invalid_request', `unexpected file field "${name}"; send images in fields named "image"`));
      }
      active.add(stream);
      const receipt = receiveToTempFile(stream, tmpPath(), info.filename ?? '', limits);
      receipt.then(
        () => active.delete(stream),
        (err: unknown) => {
          active.delete(stream);
          stream.resume();
          fail(err);
        },
      );
      receiving.push(receipt);
    });
    parser.on('field', (name, value, info) => {
      if (info.valueTruncated) return fail(new AppError('invalid_request', `form field "${name}" is too long`));
      fields[name] = value;
    });
    parser.on('filesLimit', () => fail(new AppError('invalid_request', `at most ${MAX_FILES_PER_REQUEST} files per request`)));
    parser.on('error', (err: Error) => fail(new AppError('invalid_request', `bad multipart body: ${err.message}`)));
    parser.on('close', () => settle());
    req.on('aborted', () => fail(new AppError('invalid_request', 'the client aborted the upload')));
    // --max-upload-bytes caps the whole body too: many files each under the limit (or a body
    // with no Content-Length) cannot carry more than one file may.
    let bodyBytes = 0;
    const countBody = (chunk: Buffer) => {
      bodyBytes += chunk.length;
      if (bodyBytes <= maxBodyBytes(limits)) return;
      req.off('data', countBody);
      fail(tooLarge(limits.maxBytes));
    };
    req.on('data', countBody);

    let settled = false;
    async function settle() {
      if (settled) return;
      settled = true;
      const results = await Promise.allSettled(receiving);
      const files = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      const firstError = failure ?? results.find((r) => r.status === 'rejected')?.reason;
      if (firstError) {
        await Promise.all(files.map((f) => fs.promises.rm(f.tmpPath, { force: true })));
        reject(firstError);
        return;
      }
      if (!files.length) return reject(new AppError('invalid_request', 'no file in field "image"'));
      resolve({ files, fields });
    }

    req.pipe(parser);
  });
}

/** A request body may hold one file at the limit plus the form's fields and framing. */
function maxBodyBytes(limits: ReceiveLimits): number {
  return limits.maxBytes + MAX_FIELD_BYTES;
}

function decodeHeader(value: string | string[] | undefined): string {
  const raw = Array.isArray(value) ? value[0] : value;
  if (!raw) return '';
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}
