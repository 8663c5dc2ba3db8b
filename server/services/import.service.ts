import fs from 'node:fs';
import type { VariantSpec } from '../../workers/types.js';
import { AppError } from '../errors.js';
import { changedSinceOpened, openLocalFile, readLocalFile, type OpenedLocalFile } from '../storage/local-file.js';
import type { LocalPathRules } from '../storage/safe-path.js';
import type { ImageRecord } from './image-record.js';
import type { AcceptHooks, IngestPipeline, UploadSource } from './ingest/pipeline.js';
import type { Principal } from './keys.service.js';
import { tooLarge, type ReceiveLimits, type ReceivedFile } from './receive.js';

export interface ImportDeps {
  ingest: IngestPipeline;
  limits: ReceiveLimits;
  /** Darkroom's own data dir: nothing is ever imported from it. */
  dataDir: string;
}

/** The file grew or was rewritten while it was being read: a 400 for an import, "later" for a watch folder. */
export class StillBeingWrittenError extends AppError {
  constructor(requested: string) {
    super('invalid_request', `${JSON.stringify(requested)} changed while it was read; try again when it is complete`);
  }
}

/**
 * Ingests files that are already on this machine, by path (desktop drag-and-drop, scripts,
 * watch folders). The bytes go through the same receiving step as an upload (sniffed,
 * hashed, size and pixel limits), read straight from the disk instead of from a socket, and
 * are copied into the store: the original stays where it is.
 */
export function createImportService(deps: ImportDeps) {
  const { ingest, limits } = deps;
  const forbidden = [deps.dataDir];

  async function open(requested: string, rules: LocalPathRules = {}): Promise<OpenedLocalFile> {
    const file = await openLocalFile(requested, { ...rules, forbidden });
    if (file.size > limits.maxBytes) {
      await file.handle.close();
      throw tooLarge(limits.maxBytes);
    }
    return file;
  }

  /**
   * Copies an opened file into a temp file of the store, with every check an upload gets.
   * Refuses a file that changed while it was read (still being written): what was hashed
   * must be what is stored.
   */
  async function receive(file: OpenedLocalFile): Promise<ReceivedFile> {
    const received = await ingest.receive(readLocalFile(file), file.name, { limits, ownsChunks: true });
    if (await changedSinceOpened(file)) {
      await fs.promises.rm(received.tmpPath, { force: true });
      throw new StillBeingWrittenError(file.requested);
    }
    return received;
  }

  /**
   * POST /v1/image/import: several paths (1 to 100, checked by the route) are accepted or
   * refused together, like several files in one multipart upload. Each path is opened (and
   * checked) before any byte is copied.
   */
  async function importPaths(
    paths: string[],
    principal: Principal,
    variants: VariantSpec[],
    source: UploadSource = 'import',
    hooks?: AcceptHooks,
  ): Promise<ImageRecord[]> {
    const opened: OpenedLocalFile[] = [];
    const received: ReceivedFile[] = [];
    const step = async <T>(fn: () => Promise<T>): Promise<T> => {
      try {
        return await fn();
      } catch (err) {
        await Promise.all(opened.map((f) => f.handle.close().catch(() => {})));
        await Promise.all(received.map((f) => fs.promises.rm(f.tmpPath, { force: true })));
        throw ingest.refused(principal, err);
      }
    };
    await step(async () => {
      for (const requested of paths) opened.push(await open(requested));
    });
    await step(() => ingest.admit(principal, opened.reduce((sum, f) => sum + f.size, 0)));
    await step(async () => {
      // One after the other: reading several large files at once only makes the disk seek.
      for (const file of opened) received.push(await receive(file));
    });
    return ingest.accept(principal, received, { source, variants }, hooks);
  }

  return { open, receive, importPaths };
}

export type ImportService = ReturnType<typeof createImportService>;
