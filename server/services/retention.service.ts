import type { ImagesRepo, VariantRow } from '../db/images.repo.js';
import type { DatabasePort } from '../db/port.js';
import type { RenderRow, RendersRepo } from '../db/renders.repo.js';
import { blobKeys } from '../storage/blob-store.js';
import type { BlobPlacement } from './blob-placement.js';
import type { Clock } from '../util/clock.js';
import type { WebhookMessages } from './webhooks/messages.js';

const BATCH = 500;

/**
 * Processed files (variants and stored renders) live `--processed-ttl` after they were written; originals stay. The file is
 * removed before the row is marked: a crash in between leaves a row whose expiry has passed
 * (answered 410 and marked at the next purge or download), never an orphan file.
 */
export function createRetentionService(deps: {
  database: Pick<DatabasePort, 'unitOfWork'>;
  images: ImagesRepo;
  renders: RendersRepo;
  placement: BlobPlacement;
  clock: Clock;
  webhooks?: WebhookMessages;
}) {
  const { database, images, placement, clock } = deps;

  async function expire(variant: VariantRow, now: number): Promise<boolean> {
    const marked = await database.unitOfWork(async (repos) => {
      // Read again inside the unit, which no job's commit can interleave with: a reprocess
      // committed since the batch was read has placed a new file under the same key (and a new
      // expiry), and that file must stay.
      const current = await repos.images.findVariant(variant.image_id, variant.name);
      if (current?.status !== 'done' || current.path !== variant.path || current.expires_at !== variant.expires_at) return false;
      // On the data dir the file goes now; from a bucket after the commit (journalled here).
      if (variant.path) await placement.remove(blobKeys.recordedVariant(variant.image_id, variant.path), repos);
      const marked = await repos.images.markExpired(variant.image_id, variant.name, now);
      if (marked) await repos.jobs.appendEvent('variant.expired', variant.image_id, { name: variant.name, path: variant.path }, now);
      // `image.expired` once per image: when this was its last processed file still there.
      if (marked && deps.webhooks && !(await repos.images.variantsOf(variant.image_id)).some((v) => v.status === 'done')) {
        await deps.webhooks.recordImage(repos, 'image.expired', variant.image_id, now);
      }
      return marked;
    });
    placement.afterCommit();
    return marked;
  }

  /**
   * A stored render past its TTL: its file goes (on the data dir now, from a bucket after the
   * commit) and its row with it, in one unit of work that reads the row again first: a render
   * that took the row over since (a new claim) is left alone. The next request renders again.
   */
  async function expireRender(render: RenderRow, now: number): Promise<boolean> {
    const removed = await database.unitOfWork(async (repos) => {
      if (!render.path || !(await repos.renders.removeExpired(render.key, render.path, now))) return false;
      await placement.remove(render.path, repos);
      return true;
    });
    placement.afterCommit();
    return removed;
  }

  return {
    /** Expires everything due (variants, then stored renders); returns how many processed files were removed. */
    async purge(): Promise<number> {
      let removed = 0;
      for (;;) {
        const now = clock.now();
        const due = await images.expiredVariants(now, BATCH);
        for (const variant of due) if (await expire(variant, now)) removed++;
        if (due.length < BATCH) break;
      }
      for (;;) {
        const now = clock.now();
        const due = await deps.renders.expired(now, BATCH);
        for (const render of due) if (await expireRender(render, now)) removed++;
        if (due.length < BATCH) return removed;
      }
    },

    async expireVariant(imageId: string, name: string): Promise<void> {
      const variant = await images.findVariant(imageId, name);
      if (variant?.status === 'done') await expire(variant, clock.now());
    },
  };
}

export type RetentionService = ReturnType<typeof createRetentionService>;
