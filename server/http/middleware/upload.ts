import fs from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import type { Request, Response } from 'express';
import multer from 'multer';
import { AppError } from '../../errors.js';
import { allowSlowBody } from '../connection/body-deadline.js';
import type { IngestPipeline } from '../../services/ingest/pipeline.js';
import { tooLarge, type ReceiveLimits, type ReceivedFile } from '../../services/receive.js';
import { stagingStorage } from './staging-storage.js';

export interface UploadBody {
  files: ReceivedFile[];
  fields: Record<string, string>;
}

const MAX_FILES_PER_REQUEST = 100;
const MAX_FIELDS_PER_REQUEST = 50;
const MAX_FIELD_BYTES = 64 * 1024;

/** The pipeline's receiving step, which a request's files are streamed through. */
type Receiver = Pick<IngestPipeline, 'receive'>;

/**
 * Reads an upload request into staged files: `multipart/form-data` with one or more `image`
 * fields, or any other body as one raw image (`curl -T`, name in X-Filename). Streams only;
 * nothing is buffered beyond a few chunks. On failure every staged file is gone.
 */
export async function readUpload(req: Request, res: Response, limits: ReceiveLimits, ingest: Receiver): Promise<UploadBody> {
  allowSlowBody(req);
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBodyBytes(limits)) throw tooLarge(limits.maxBytes);
  // The body is wanted: a client waiting on "Expect: 100-continue" may send it now.
  if (/100-continue/i.test(req.headers.expect ?? '') && !res.headersSent) res.writeContinue();
  const type = req.headers['content-type'] ?? '';
  if (/^multipart\/form-data/i.test(type)) return readMultipart(req, res, limits, ingest);
  const filename = decodeHeader(req.headers['x-filename']);
  // Nothing else reads a raw body: its chunks are the receiver's to free once copied.
  const file = await ingest.receive(req, filename, { limits, ownsChunks: req.listenerCount('data') === 0 });
  return { files: [file], fields: {} };
}

/** multer 2.x reads `streamHandler` (how the body reaches its parser); its typings do not list it yet. */
type MulterOptions = multer.Options & { streamHandler?: (req: Request, parser: Writable) => void };

/**
 * A multipart body through multer, each file streamed by the storage engine into the pipeline's
 * receiver. multer answers a refusal only once the whole body has been read; the refusals this
 * side sees first (a file refused by the receiver, the whole-body cap, too many files, a field
 * too long, a malformed body) settle the request at once, so the answer goes out while multer
 * drains the rest (connection/early-answers.ts keeps it readable).
 */
function readMultipart(req: Request, res: Response, limits: ReceiveLimits, ingest: Receiver): Promise<UploadBody> {
  return new Promise((resolve, reject) => {
    const staged = new Map<string, ReceivedFile>();
    const receipts: Array<Promise<ReceivedFile>> = [];
    const arriving = new Set<Readable>();
    let settled = false;

    const fail = async (err: unknown) => {
      if (settled) return;
      settled = true;
      // Files still arriving will never finish now: end them so their staged bytes are removed.
      for (const stream of arriving) stream.destroy(new Error('upload abandoned'));
      // The answer waits until nothing of the request is left in staging.
      const results = await Promise.allSettled(receipts);
      const files = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      await Promise.all(files.map((f) => fs.promises.rm(f.tmpPath, { force: true })));
      reject(err);
    };

    const options: MulterOptions = {
      storage: stagingStorage({
        receive: (stream, filename) => {
          const receipt = ingest.receive(stream, filename, { limits });
          receipts.push(receipt);
          return receipt;
        },
        started: (stream) => void arriving.add(stream),
        staged: (file, stream) => {
          arriving.delete(stream);
          if (settled) return false; // removed by fail()
          staged.set(file.tmpPath, file);
          return true;
        },
        failed: (err, stream) => {
          arriving.delete(stream);
          void fail(err);
        },
      }),
      limits: { files: MAX_FILES_PER_REQUEST, fields: MAX_FIELDS_PER_REQUEST, fieldSize: MAX_FIELD_BYTES },
      fileFilter: (_req, file, accept) => {
        if (file.fieldname === 'image') return accept(null, true);
        const err = new AppError('invalid_request', `unexpected file field "${file.fieldname}"; send images in fields named "image"`);
        void fail(err);
        accept(err);
      },
      streamHandler: (request, parser) => {
        // Heard here as well as by multer, which would answer only once the body is all read.
        parser.on('filesLimit', () => void fail(refusalOf(new multer.MulterError('LIMIT_FILE_COUNT'))));
        parser.on('fieldsLimit', () => void fail(refusalOf(new multer.MulterError('LIMIT_FIELD_COUNT'))));
        parser.on('field', (name: string, _value: string, info: { valueTruncated: boolean }) => {
          if (info.valueTruncated) void fail(refusalOf(new multer.MulterError('LIMIT_FIELD_VALUE', name)));
        });
        parser.on('error', (err: Error) => void fail(refusalOf(err)));
        // --max-upload-bytes caps the whole body too: many files each under the limit (or a body
        // with no Content-Length) cannot carry more than one file may.
        let bodyBytes = 0;
        const countBody = (chunk: Buffer) => {
          bodyBytes += chunk.length;
          if (bodyBytes <= maxBodyBytes(limits)) return;
          request.off('data', countBody);
          const err = tooLarge(limits.maxBytes);
          void fail(err);
          request.unpipe(parser);
          parser.destroy(err);
        };
        request.on('data', countBody);
        request.pipe(parser);
      },
    };

    multer(options).any()(req, res, (err?: unknown) => {
      if (err) return void fail(refusalOf(err, req));
      if (settled) return;
      const files = ((req.files as Express.Multer.File[] | undefined) ?? []).map((f) => staged.get(f.path)!);
      if (!files.length) return void fail(new AppError('invalid_request', 'no file in field "image"'));
      settled = true;
      resolve({ files, fields: textFields(req.body) });
    });
  });
}

/** The API's refusal for what multer or its parser reports. */
function refusalOf(err: unknown, req?: Request): unknown {
  if (err instanceof AppError) return err;
  if (err instanceof multer.MulterError) {
    switch (err.code) {
      case 'LIMIT_FILE_COUNT':
        return new AppError('invalid_request', `at most ${MAX_FILES_PER_REQUEST} files per request`);
      case 'LIMIT_FIELD_COUNT':
        return new AppError('invalid_request', `at most ${MAX_FIELDS_PER_REQUEST} form fields per request`);
      case 'LIMIT_FIELD_VALUE':
        return new AppError('invalid_request', `form field "${err.field}" is too long`);
      default:
        return new AppError('invalid_request', `bad multipart body: ${err.message}`);
    }
  }
  if (req && (req.destroyed || /^Request (aborted|closed)$/.test((err as Error)?.message))) {
    return new AppError('invalid_request', 'the client aborted the upload');
  }
  return new AppError('invalid_request', `bad multipart body: ${(err as Error)?.message ?? String(err)}`);
}

/** The form's text fields; a field sent twice keeps its last value, as a form would. */
function textFields(body: unknown): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const [name, value] of Object.entries((body ?? {}) as Record<string, unknown>)) {
    const last = Array.isArray(value) ? value.at(-1) : value;
    if (typeof last === 'string') fields[name] = last;
  }
  return fields;
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
