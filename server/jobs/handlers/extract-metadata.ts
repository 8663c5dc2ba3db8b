import type { ImagesRepo } from '../../db/images.repo.js';
import type { BlobStore } from '../../storage/blob-store.js';
import { localOriginals, type OriginalSource } from '../../storage/original-source.js';
import type { Clock } from '../../util/clock.js';
import type { Lifecycle } from '../../services/lifecycle.js';
import type { ImagePool } from '../pool.js';
import type { ImageJobRow } from '../../db/jobs.repo.js';
import { JobError, type JobHandler } from '../runner.js';

export function createExtractMetadataHandler(deps: {
  images: ImagesRepo;
  store: BlobStore;
  pool: ImagePool;
  clock: Clock;
  lifecycle: Lifecycle;
  /** Where originals are read from (the S3 capacity tier brings evicted ones back). */
  originals?: OriginalSource;
}): JobHandler<ImageJobRow> {
  const { images, lifecycle } = deps;
  const originals = deps.originals ?? localOriginals(deps.store);
  return {
    async run(ctx) {
      const image = await images.findById(ctx.job.image_id);
      if (!image) return void (await ctx.complete(() => {}));
      await lifecycle.markProcessing(image.id);
      const original = await originals.acquire(image.sha256, ctx.signal);
      const result = await deps.pool
        .extractMetadata({ input: original.path, format: image.format, deadline: ctx.deadline }, ctx.signal)
        .finally(() => original.release());
      if (!result.ok) throw new JobError(result.message, result.code, result.retryable);
      await ctx.complete(async (repos) => {
        await repos.images.saveMetadata(image.id, result.metadata, deps.clock.now());
        await lifecycle.settle(ctx.job, repos);
      });
    },
    // Missing metadata does not fail the image; its processing decides that.
    giveUp(job, _error, repos) {
      return lifecycle.settle(job, repos);
    },
  };
}
