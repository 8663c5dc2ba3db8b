import type { ImagesRepo } from '../db/images.repo.js';
import type { Repositories } from '../db/repositories.js';
import type { OutboxRow } from '../db/jobs.repo.js';
import type { SyncRepo } from '../db/sync.repo.js';
import { blobKeys, type LocalPrimaryStore } from '../storage/blob-store.js';
import type { Clock } from '../util/clock.js';
import { originalKey, processedKey, processedLane } from './bucket-keys.js';

const BATCH = 500;

/**
 * Reads the outbox after the sync's own cursor and turns each event into object operations:
 *
 *   image.uploaded            → upload the original (once per distinct sha256)
 *   image.processed / failed  → upload the image's processed files that are in place
 *   image.deleted             → delete the image's processed objects, and its original when no
 *                               other image uses those bytes
 *   variant.expired           → delete that processed object
 *
 * Each batch is one transaction that also moves the cursor, so a crash neither skips nor repeats
 * an event. What exists at that moment is decided again when the operation runs (an upload of a
 * file deleted meanwhile does nothing), so feeding late is always safe.
 */
export function createSyncFeeder(deps: {
  store: LocalPrimaryStore;
  clock: Clock;
  /** The database port's unit of work (db/port.ts): each batch is fed in one, read with its repositories. */
  unitOfWork: <T>(work: (repos: Pick<Repositories, 'images' | 'sync'>) => Promise<T>) => Promise<T>;
  /** The sync repository outside a unit of work: a plain read says whether there is anything to feed. */
  sync: Pick<SyncRepo, 'state' | 'eventsAfter'>;
  /** Attempts of each operation queued (--job-max-attempts). */
  maxAttempts: number;
}) {
  const { store, maxAttempts } = deps;

  async function apply(event: OutboxRow, now: number, images: ImagesRepo, repo: SyncRepo): Promise<{ originalsAdded: boolean }> {
    const imageId = event.image_id;
    if (!imageId) return { originalsAdded: false };
    const payload = JSON.parse(event.payload) as { sha256?: string; name?: string; path?: string | null };
    switch (event.type) {
      case 'image.uploaded': {
        const image = await images.findById(imageId);
        if (!image) return { originalsAdded: false }; // deleted before it was fed: nothing to upload
        if (store.existsSync(blobKeys.original(image.sha256))) await repo.originalIsLocal(image.sha256, image.bytes, now);
        const key = originalKey(image.sha256);
        await repo.enqueue({ op: 'put_original', lane: key, key, imageId, sha256: image.sha256, bytes: image.bytes, maxAttempts }, now);
        return { originalsAdded: true };
      }
      case 'image.processed':
      case 'image.failed': {
        for (const v of await images.variantsOf(imageId)) {
          if (v.status !== 'done' || !v.path) continue;
          await repo.enqueue(
            { op: 'put_processed', lane: processedLane(imageId), key: processedKey(imageId, v.path), imageId, variant: v.name, bytes: v.bytes ?? 0, maxAttempts },
            now,
          );
        }
        return { originalsAdded: false };
      }
      case 'image.deleted': {
        await repo.enqueue({ op: 'delete_image', lane: processedLane(imageId), key: `processed/${imageId}/`, imageId, maxAttempts }, now);
        const sha256 = payload.sha256;
        if (sha256) {
          if (!store.existsSync(blobKeys.original(sha256))) await repo.originalGoneLocally(sha256);
          // Still used by another image: nothing to delete. (Checked again when the delete runs.)
          if ((await repo.imagesUsing(sha256)) === 0) {
            const key = originalKey(sha256);
            await repo.enqueue({ op: 'delete_original', lane: key, key, imageId, sha256, maxAttempts }, now);
          }
        }
        return { originalsAdded: false };
      }
      case 'variant.expired': {
        if (payload.path) {
          await repo.enqueue(
            {
              op: 'delete_processed',
              lane: processedLane(imageId),
              key: processedKey(imageId, payload.path),
              imageId,
              variant: payload.name ?? null,
              maxAttempts,
            },
            now,
          );
        }
        return { originalsAdded: false };
      }
      default:
        return { originalsAdded: false };
    }
  }

  return {
    /**
     * Feeds pending events, at most `maxBatches` batches in one go so that a long outbox (the
     * first start after a long time) never holds the event loop for long; `more` says whether
     * events are left. Also says whether local originals grew.
     */
    async feed(maxBatches = 20): Promise<{ events: number; originalsAdded: boolean; more: boolean }> {
      let events = 0;
      let originalsAdded = false;
      for (let n = 0; n < maxBatches; n++) {
        // Nothing new (the usual answer of the poll twice a second): a plain read says so without
        // taking the write lock, which another process may hold (a backup, a CLI command).
        if (!(await deps.sync.eventsAfter((await deps.sync.state()).outbox_cursor, 1)).length) return { events, originalsAdded, more: false };
        // Read, applied and the cursor moved in one unit of work: two feeds never take the same batch.
        const fed = await deps.unitOfWork(async (repos) => {
          const batch = await repos.sync.eventsAfter((await repos.sync.state()).outbox_cursor, BATCH);
          const now = deps.clock.now();
          for (const event of batch) if ((await apply(event, now, repos.images, repos.sync)).originalsAdded) originalsAdded = true;
          if (batch.length) await repos.sync.setCursor(batch[batch.length - 1]!.id);
          return batch.length;
        });
        if (!fed) return { events, originalsAdded, more: false };
        events += fed;
      }
      return { events, originalsAdded, more: true };
    },
  };
}

export type SyncFeeder = ReturnType<typeof createSyncFeeder>;
