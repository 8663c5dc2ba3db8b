import fs from 'node:fs';
import type { Readable } from 'node:stream';
import type { StorageEngine } from 'multer';
import type { ReceivedFile } from '../../services/receive.js';

/** What a multipart request's files are handed to, and told about, while its body arrives. */
export interface StagingHooks {
  /** The ingest pipeline's receiver: streams one file into staging (sniffed, hashed, sized). */
  receive(stream: Readable, filename: string): Promise<ReceivedFile>;
  /** One file's bytes are arriving; `stream` can be destroyed to abandon it. */
  started(stream: Readable): void;
  /** One file is staged. False: the request failed meanwhile, and the file is removed. */
  staged(file: ReceivedFile, stream: Readable): boolean;
  /** One file was refused (or abandoned); nothing of it is left. */
  failed(err: unknown, stream: Readable): void;
}

/**
 * A multer storage engine that hands each file's stream to the ingest pipeline's receiver, so a
 * multipart file is judged, counted against the limits and hashed exactly like a raw body, and
 * streamed to the staging area with flat memory. `_removeFile` is what multer calls for the
 * files already staged when a later part of the request fails.
 */
export function stagingStorage(hooks: StagingHooks): StorageEngine {
  return {
    _handleFile(_req, file, callback) {
      const stream = file.stream;
      hooks.started(stream);
      hooks.receive(stream, file.originalname ?? '').then(
        (received) => {
          if (!hooks.staged(received, stream)) {
            fs.promises.rm(received.tmpPath, { force: true }).then(() => callback(new Error('upload abandoned')), callback);
            return;
          }
          callback(null, { path: received.tmpPath, size: received.bytes });
        },
        (err: unknown) => {
          // The rest of this part is read and thrown away, so the parser can move on (or finish).
          stream.resume();
          hooks.failed(err, stream);
          callback(err);
        },
      );
    },
    _removeFile(_req, file, callback) {
      fs.promises.rm(file.path, { force: true }).then(() => callback(null), callback);
    },
  };
}
