import fs from 'node:fs';
import path from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import type { ImagesRepo } from '../../db/images.repo.js';
import type { JobsRepo } from '../../db/jobs.repo.js';
import type { DatabasePort } from '../../db/port.js';
import type { Repositories } from '../../db/repositories.js';
import { blobKeys, type PrimaryBlobStore } from '../../storage/blob-store.js';
import type { BlobPlacement, PreparedBlobs } from '../blob-placement.js';
import type { Clock } from '../../util/clock.js';
import type { VariantSpec } from '../../../workers/types.js';
import { AppError } from '../../errors.js';
import { assertQueueHasRoom } from '../../jobs/admission.js';
import { probeImage, type ProbedImage } from '../../media/probe.js';
import { statsFormat } from '../../../workers/raw-formats.js';
import type { Principal } from '../keys.service.js';
import { checkPixelLimit, type ReceivedFile } from '../receive.js';
import { toImageRecord, type ImageRecord } from '../image-record.js';
import { createGroupCommit } from './group-commit.js';

/** Where an upload came from; recorded on the image (`source`). */
export type UploadSource = 'upload' | 'tus' | 'import' | 'watch';

export interface AcceptHooks {
  /**
   * Runs inside the unit of work that records the images, so a caller's own bookkeeping (the
   * watch folder's ledger) commits or rolls back together with them; it writes with the unit of
   * work's repositories (`repos`), and is awaited.
   */
  inTransaction?: (images: Array<{ id: string; sha256: string }>, repos: Repositories) => unknown;
}

export interface AcceptDeps {
  database: Pick<DatabasePort, 'repos' | 'unitOfWork'>;
  images: ImagesRepo;
  jobs: JobsRepo;
  store: PrimaryBlobStore;
  /** How staged files become originals, and originals go (blob-placement.ts). */
  placement: BlobPlacement;
  clock: Clock;
  limits: { maxInputPixels: number; maxQueuedJobs: number; minFreeBytes: number };
  /** Called after new work was committed (dispatch the outbox, wake the runner). */
  onAccepted: () => void;
  /** Counts one recorded image with the unit of work's repositories, inside the unit that records it. */
  onRecorded: (image: { customer: string; format: string; bytes: number }, at: number, repos: Repositories) => Promise<void>;
}

/** "../../x/ holiday.JPG\u0000" → "holiday.JPG": a display name, never used as a path. */
export function cleanFilename(raw: string | undefined): string {
  const base = path.basename(String(raw ?? '').replace(/\\/g, '/'));
  // eslint-disable-next-line no-control-regex
  const cleaned = base.replace(/[\u0000-\u001f\u007f]/g, '').trim().slice(0, 255);
  return cleaned || 'upload';
}

/**
 * The admit and accept steps of the ingest pipeline (pipeline.ts, which counts their outcomes).
 *
 * accept turns received temp files into images: confirms each is a readable image within the pixel
 * limit (header only), then moves the bytes into the store and records the image, its pending
 * variants and its `image.uploaded` event in one transaction. Several files are accepted or
 * refused together, so a request never half-succeeds.
 */
export function createAcceptStep(deps: AcceptDeps) {
  const { database, images, jobs, store, placement, clock, limits } = deps;
  const commits = createGroupCommit({ database, placement });

  /** Checks that cost nothing and should refuse a request before its body is read. */
  async function admit(expectedBytes?: number) {
    await assertQueueHasRoom(jobs, limits.maxQueuedJobs);
    const free = await store.freeBytes();
    if (free - (expectedBytes ?? 0) < limits.minFreeBytes) {
      throw new AppError('insufficient_storage', 'not enough free disk space to accept this upload');
    }
  }

  async function accept(
    files: ReceivedFile[],
    principal: Principal,
    variants: VariantSpec[],
    source: UploadSource,
    hooks: AcceptHooks = {},
  ): Promise<ImageRecord[]> {
    let probed: ProbedImage[];
    try {
      probed = [];
      for (const file of files) {
        const info = await probeImage(file.tmpPath).catch((err: unknown) => {
          if (err instanceof AppError) err.context.format ??= file.sniffedFormat;
          throw err;
        });
        checkPixelLimit(info.width, info.height, limits.maxInputPixels, statsFormat(info.format, info.rawFormat));
        probed.push(info);
      }
    } catch (err) {
      await Promise.all(files.map((f) => fs.promises.rm(f.tmpPath, { force: true })));
      throw err;
    }

    // A 202 promises the bytes are on stable storage: they are flushed before they are moved
    // into place and recorded (off the main thread: seconds for a big upload; not with
    // --fsync false), or, with a bucket as the store, uploaded to it.
    let originals: PreparedBlobs;
    try {
      originals = await placement.prepare(files.map((file) => ({ file: file.tmpPath, key: blobKeys.original(file.sha256), sha256: file.sha256 })));
    } catch (err) {
      await Promise.all(files.map((f) => fs.promises.rm(f.tmpPath, { force: true })));
      throw flushFailure(err);
    }

    const now = clock.now();
    const rows = files.map((file, i) => ({
      id: uuidv7(),
      customer: principal.customer,
      filename: cleanFilename(file.filename),
      bytes: file.bytes,
      sha256: file.sha256,
      format: probed[i]!.format,
      width: probed[i]!.width,
      height: probed[i]!.height,
      pages: probed[i]!.pages,
      raw_format: probed[i]!.rawFormat ?? null,
      source,
      created_at: now,
    }));

    // Moved into originals/ and recorded in one unit of work (so a delete deciding whether
    // the same bytes are still in use cannot come in between), together with the other uploads
    // ready now: the folders' entries flushed, then one commit with its log synced, then the
    // answer. On failure nothing of this request stays behind.
    await commits.submit({
      originals,
      record: async (repos) => {
        for (const row of rows) {
          await repos.images.insert(row, variants);
          await repos.jobs.appendEvent('image.uploaded', row.id, { customer: row.customer, sha256: row.sha256 }, now);
          await deps.onRecorded({ customer: row.customer, format: statsFormat(row.format, row.raw_format), bytes: row.bytes }, now, repos);
        }
        await hooks.inTransaction?.(rows, repos);
      },
    });
    deps.onAccepted();
    const records = [];
    for (const row of rows) records.push(toImageRecord((await images.findById(row.id))!, await images.variantsOf(row.id), now));
    return records;
  }

  return { admit, accept };
}

/** A full disk while flushing is the client's 507 like any other; anything else is the server's fault. */
function flushFailure(err: unknown): unknown {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new AppError('insufficient_storage', 'the server ran out of disk space while storing the upload');
  }
  return err;
}

export type AcceptStep = ReturnType<typeof createAcceptStep>;
