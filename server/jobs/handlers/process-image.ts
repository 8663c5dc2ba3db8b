import fs from 'node:fs';
import type { Logger } from 'pino';
import type { ImagesRepo } from '../../db/images.repo.js';
import { blobKeys, type PrimaryBlobStore } from '../../storage/blob-store.js';
import type { BlobPlacement, PreparedBlobs } from '../../services/blob-placement.js';
import { localOriginals, type OriginalSource } from '../../storage/original-source.js';
import type { Clock } from '../../util/clock.js';
import type { Lifecycle } from '../../services/lifecycle.js';
import type { ImagePool } from '../pool.js';
import type { VariantSpec } from '../../../workers/types.js';
import { EXTENSIONS, keepsAnimation } from '../../media/formats.js';
import type { ImageJobRow } from '../../db/jobs.repo.js';
import { JobError, type JobHandler } from '../runner.js';

export function createProcessImageHandler(deps: {
  images: ImagesRepo;
  store: PrimaryBlobStore;
  /** How the outputs become processed files, and replaced ones go (services/blob-placement.ts). */
  placement: BlobPlacement;
  pool: ImagePool;
  clock: Clock;
  lifecycle: Lifecycle;
  processedTtlMs: number;
  maxInputPixels: number;
  /** The output cap (--max-output-pixels); the worker also keeps every side within 8192. */
  maxOutputPixels: number;
  /** Where originals are read from (the S3 capacity tier brings evicted ones back). */
  originals?: OriginalSource;
  /** Says how each SVG was rendered: its size, and whether a limit made it smaller. */
  logger?: Pick<Logger, 'info'>;
}): JobHandler<ImageJobRow> {
  const { images, store, placement, clock, lifecycle } = deps;
  const originals = deps.originals ?? localOriginals(store);

  return {
    async run(ctx) {
      const image = await images.findById(ctx.job.image_id);
      if (!image) return void (await ctx.complete(() => {}));
      await lifecycle.markProcessing(image.id);

      const outputs = (await images.variantsOf(image.id)).map((v) => {
        const spec = JSON.parse(v.spec) as VariantSpec;
        return { spec, output: store.stagingPath(`.${EXTENSIONS[spec.format]}`) };
      });
      // Animations stay animated unless all their frames together pass the pixel limit.
      const animated = keepsAnimation(image, deps.maxInputPixels);
      const scratch = store.stagingPath('.tif');
      const cleanup = () => Promise.all([scratch, `${scratch}.source`, ...outputs.map((o) => o.output)].map((file) => fs.promises.rm(file, { force: true })));

      const original = await originals.acquire(image.sha256, ctx.signal);
      try {
        const result = await deps.pool.processImage(
          {
            input: original.path,
            format: image.format,
            animated,
            maxInputPixels: deps.maxInputPixels,
            maxOutputPixels: deps.maxOutputPixels,
            scratch,
            variants: outputs,
            deadline: ctx.deadline,
          },
          ctx.signal,
        );
        if (!result.ok) throw new JobError(result.message, result.code, result.retryable);
        if (result.render) deps.logger?.info({ imageId: image.id, ...result.render }, 'svg rendered');
        // A row saying `done` must never name a file a power cut can leave empty (or that is not
        // in the bucket yet): the outputs are flushed (or uploaded) here, before the commit.
        // Each variant's key is chosen here: a bucket gets a fresh key per write.
        const targets = result.variants.map((v) => placement.processedKey(image.id, v.name, EXTENSIONS[v.format]));
        const prepared: PreparedBlobs = await placement.prepare(
          result.variants.map((v, i) => ({ file: outputs[i]!.output, key: targets[i]!, sha256: v.sha256 })),
          ctx.signal,
        );

        const now = clock.now();
        await ctx.complete(async (repos) => {
          const current = await repos.images.findById(image.id);
          // A reprocess started meanwhile: its own job will write the variants.
          if (!current || current.generation !== ctx.job.generation) return void (await placement.discard(prepared, repos));
          // One read for every variant's recorded file: the unit holds the write lock meanwhile.
          const recorded = new Map((await repos.images.variantsOf(image.id)).map((row) => [row.name, row.path]));
          const previous = result.variants.map((v) => {
            const path = recorded.get(v.name);
            return path ? blobKeys.recordedVariant(image.id, path) : undefined;
          });
          await placement.place(prepared, repos);
          for (const [i, v] of result.variants.entries()) {
            const target = targets[i]!;
            if (previous[i] && previous[i] !== target) await placement.remove(previous[i]!, repos);
            await repos.images.completeVariant(image.id, v.name, {
              width: v.width,
              height: v.height,
              bytes: v.bytes,
              path: target,
              etag: v.sha256,
              writtenAt: now,
              expiresAt: now + deps.processedTtlMs,
            });
          }
          await repos.images.saveSummary(image.id, result.thumbhash, result.dominantColor);
          if (result.preview) await repos.images.savePreview(image.id, result.preview);
          await lifecycle.settle(ctx.job, repos);
        });
        placement.afterCommit();
      } finally {
        original.release();
        await cleanup(); // whatever was not moved into place
      }
    },

    async giveUp(job, error, repos) {
      await repos.images.setError(job.image_id, error.code, error.message);
      await repos.images.failVariants(job.image_id);
      await lifecycle.settle(job, repos);
    },
  };
}
