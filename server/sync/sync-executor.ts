import type { Logger } from 'pino';
import type { ImagesRepo } from '../db/images.repo.js';
import type { Repositories } from '../db/repositories.js';
import type { SyncRepo } from '../db/sync.repo.js';
import type { JobContext } from '../jobs/runner.js';
import { MIME_TYPES } from '../media/formats.js';
import type { BufferPool } from '../storage/buffer-pool.js';
import { blobKeys, isBlobNotFound, type LocalPrimaryStore, type OpenedBlob } from '../storage/blob-store.js';
import type { S3BlobStore } from '../storage/s3/s3-blob-store.js';
import type { Clock } from '../util/clock.js';
import { processedKey } from './bucket-keys.js';
import type { SyncJobRow } from './sync-job.js';

export interface SyncContext {
  job: SyncJobRow;
  signal: AbortSignal;
  /** Bytes of the object stored so far, and how many of them a previous attempt had stored. */
  progress(bytesDone: number, resumedBytes?: number): void;
  /** Runs `fn` in a unit of work only while this attempt still holds the job; false when it lost it. */
  whileOwned: JobContext['whileOwned'];
}

/** What an attempt achieved: `apply` runs in the unit of work that takes the job off the queue, with its repositories. */
export interface SyncOutcome {
  apply(repos: Pick<Repositories, 'sync'>): Promise<void>;
  /** Why nothing had to be sent, for the log. */
  skipped?: string;
  originalSynced?: boolean;
}

const mimeOf = (format: string | undefined) => (format ? MIME_TYPES[format as keyof typeof MIME_TYPES] : undefined);

const noop: SyncOutcome['apply'] = async () => {};

/**
 * Carries out one queued replication operation: a key copied from the primary store to the
 * replica (the bucket), or removed from the replica. Whether there is still something to do is
 * decided here, at run time, from the database and the primary store as they are now: the
 * queue only says which key to look at.
 */
export function createSyncExecutor(deps: {
  /** For the reads outside a unit of work (the database port's `repos.sync`). */
  sync: SyncRepo;
  images: ImagesRepo;
  store: LocalPrimaryStore;
  replica: S3BlobStore;
  buffers: BufferPool;
  clock: Clock;
  logger: Logger;
  minPartSize: number;
  partConcurrency: number;
}) {
  const { sync, images, store, replica, clock } = deps;

  async function openOrNull(key: string): Promise<OpenedBlob | null> {
    try {
      return await store.open(key);
    } catch (err) {
      if (isBlobNotFound(err)) return null;
      throw err;
    }
  }

  async function upload(ctx: SyncContext, file: OpenedBlob, sha256: string, contentType: string | undefined): Promise<number> {
    const { job } = ctx;
    const size = file.size;
    const resume = job.upload_id && job.part_size ? { uploadId: job.upload_id, partSize: job.part_size, parts: await sync.parts(job.id, job.upload_id) } : undefined;
    if (resume) {
      const stored = resume.parts.reduce((n, p) => n + p.bytes, 0);
      deps.logger.info({ key: job.key, parts: resume.parts.length, resumedBytes: stored, bytes: size }, 'resuming multipart upload');
    }
    let uploadId = resume?.uploadId;
    let resumed = 0;
    await replica.replicate(file, {
      key: job.key,
      sha256,
      info: { contentType },
      buffers: deps.buffers,
      minPartSize: deps.minPartSize,
      partConcurrency: deps.partConcurrency,
      resume,
      onMultipartStarted: async (started, partSize) => {
        uploadId = started;
        if (!(await ctx.whileOwned((repos) => repos.sync.setUpload(job.id, started, partSize)))) throw new Error('lost the job while uploading');
      },
      onPartDone: async (part) => {
        await ctx.whileOwned((repos) => repos.sync.addPart({ jobId: job.id, uploadId: uploadId!, partNumber: part.partNumber, etag: part.etag, crc32: part.crc32, bytes: part.bytes }));
      },
      onProgress: (bytesDone) => {
        if (resume && resumed === 0) resumed = resume.parts.reduce((n, p) => n + p.bytes, 0);
        ctx.progress(bytesDone, resumed);
      },
      signal: ctx.signal,
    });
    return size;
  }

  const operations: Record<SyncJobRow['op'], (ctx: SyncContext) => Promise<SyncOutcome>> = {
    async put_original(ctx) {
      const sha256 = ctx.job.sha256!;
      // Content-addressed: bytes already verified in the bucket are never sent twice.
      if ((await sync.original(sha256))?.synced_at) return { apply: noop, skipped: 'already in the bucket' };
      const file = await openOrNull(blobKeys.original(sha256));
      if (!file) {
        if ((await sync.imagesUsing(sha256)) === 0) return { apply: noop, skipped: 'deleted before it was synced' };
        throw new Error(`original ${sha256} is missing from local disk and was never synced`);
      }
      try {
        const bytes = await upload(ctx, file, sha256, mimeOf(await sync.formatOf(sha256)));
        return {
          originalSynced: true,
          apply: async (repos) => {
            await repos.sync.originalSynced(sha256, bytes, store.existsSync(blobKeys.original(sha256)), clock.now());
            await repos.sync.addSynced(bytes);
          },
        };
      } finally {
        await file.close();
      }
    },

    async put_processed(ctx) {
      const { job } = ctx;
      // The row and the file must describe the same bytes: a reprocess may replace the file
      // between reading one and opening the other, so look again after opening.
      for (let tries = 0; tries < 3; tries++) {
        const before = await images.findVariant(job.image_id!, job.variant!);
        if (before?.status !== 'done' || !before.path || !before.etag) return { apply: noop, skipped: 'no longer in place' };
        if (processedKey(job.image_id!, before.path) !== job.key) return { apply: noop, skipped: 'replaced by another file' };
        const file = await openOrNull(blobKeys.recordedVariant(job.image_id!, before.path));
        if (!file) return { apply: noop, skipped: 'expired or deleted before it was synced' };
        try {
          if ((await images.findVariant(job.image_id!, job.variant!))?.etag !== before.etag) continue;
          const bytes = await upload(ctx, file, before.etag, mimeOf(before.format));
          return { apply: (repos) => repos.sync.addSynced(bytes) };
        } finally {
          await file.close();
        }
      }
      throw new Error('the processed file kept changing while it was being read');
    },

    async delete_processed(ctx) {
      await replica.delete(ctx.job.key, ctx.signal);
      return { apply: (repos) => repos.sync.addDeleted(1) };
    },

    async delete_image(ctx) {
      // Listing rather than remembering: whatever any earlier run stored under the image goes.
      let deleted = 0;
      for await (const key of replica.list(ctx.job.key, ctx.signal)) {
        await replica.delete(key, ctx.signal);
        deleted++;
      }
      return { apply: (repos) => repos.sync.addDeleted(deleted) };
    },

    async delete_original(ctx) {
      const sha256 = ctx.job.sha256!;
      if ((await sync.imagesUsing(sha256)) > 0) return { apply: noop, skipped: 'used again by another image' };
      await replica.delete(ctx.job.key, ctx.signal);
      return {
        apply: async (repos) => {
          await repos.sync.originalDeletedRemotely(sha256);
          await repos.sync.addDeleted(1);
        },
      };
    },
  };

  return {
    run: (ctx: SyncContext) => operations[ctx.job.op](ctx),
  };
}

export type SyncExecutor = ReturnType<typeof createSyncExecutor>;
