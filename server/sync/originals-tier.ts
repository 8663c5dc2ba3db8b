import crypto from 'node:crypto';
import fs from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import { originalKey, type SyncRepo } from '../db/sync.repo.js';
import { JobError } from '../jobs/runner.js';
import { blobKeys, type BlobStore, type PrimaryBlobStore } from '../storage/blob-store.js';
import type { OriginalSource } from '../storage/original-source.js';
import { describeS3Error } from '../storage/s3/errors.js';
import type { Clock } from '../util/clock.js';

const EVICTION_BATCH = 100;

/**
 * The capacity tier: local disk as a cache of originals in front of the bucket.
 *
 * With `--local-originals-max-bytes`, once the originals on disk pass the limit, those least
 * recently used leave the disk, but only when their bucket copy is verified and settled (see
 * `SyncRepo.evictable`) and nothing in this process is reading them (`pins`). An evicted original
 * comes back on demand: processing brings it back to disk (checked against its sha256), downloads
 * stream it from the bucket without touching the disk (sync/bucket-download.ts).
 */
export function createOriginalsTier(deps: {
  repo: SyncRepo;
  store: PrimaryBlobStore;
  replica: BlobStore;
  clock: Clock;
  logger: Logger;
  maxLocalBytes?: number;
}) {
  const { repo, store, replica, clock, logger } = deps;
  const pins = new Map<string, number>();
  const restoring = new Map<string, Promise<void>>();

  const pin = (sha256: string) => pins.set(sha256, (pins.get(sha256) ?? 0) + 1);
  const unpin = (sha256: string) => {
    const n = (pins.get(sha256) ?? 1) - 1;
    if (n > 0) pins.set(sha256, n);
    else pins.delete(sha256);
  };

  /** Brings an evicted original back to disk, verified against its sha256. */
  async function restore(sha256: string, signal?: AbortSignal): Promise<void> {
    const row = repo.original(sha256);
    if (!row?.synced_at) {
      throw new JobError(`original ${sha256} is neither on local disk nor in the bucket`, 'original_missing', false);
    }
    const tmp = store.stagingPath();
    const hash = crypto.createHash('sha256');
    let bytes = 0;
    try {
      const body = await replica
        .open(originalKey(sha256))
        .then((blob) => blob.stream(undefined, signal))
        .catch((err: unknown) => {
          throw new JobError(`could not fetch original ${sha256} from the bucket: ${describeS3Error(err)}`, 'processing_failed', true);
        });
      await pipeline(
        body,
        new Transform({
          transform(chunk: Buffer, _enc, done) {
            hash.update(chunk);
            bytes += chunk.length;
            done(null, chunk);
          },
        }),
        fs.createWriteStream(tmp),
        { signal },
      );
      const digest = hash.digest('hex');
      if (digest !== sha256) {
        throw new JobError(`the bucket's copy of original ${sha256} is corrupt (its sha256 is ${digest})`, 'original_missing', false);
      }
      // On stable storage before the row says it is local again (not with --fsync false).
      await store.sealStaged(tmp);
      // Synchronous from here: the file appears and is recorded in one stretch.
      store.adoptOriginalSync(tmp, sha256);
      repo.originalIsLocal(sha256, bytes, clock.now());
      logger.info({ sha256, bytes }, 'original brought back from the bucket');
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }

  function evict(): number {
    const max = deps.maxLocalBytes;
    if (max === undefined) return 0;
    let local = repo.state().local_bytes;
    let evicted = 0;
    while (local > max) {
      const candidates = repo.evictable(EVICTION_BATCH + pins.size).filter((o) => !pins.has(o.sha256));
      if (!candidates.length) break;
      for (const original of candidates) {
        // The file goes before the row says so: a crash in between leaves a row that claims a
        // local copy, which acquire() and downloads check for anyway.
        store.deleteSync(blobKeys.original(original.sha256));
        repo.originalEvicted(original.sha256, original.bytes);
        local -= original.bytes;
        evicted++;
        if (local <= max) break;
      }
    }
    if (evicted) logger.info({ evicted, localBytes: local, maxBytes: max }, 'evicted originals kept in the bucket');
    return evicted;
  }

  const source: OriginalSource = {
    async acquire(sha256, signal) {
      pin(sha256);
      try {
        if (!store.existsSync(blobKeys.original(sha256))) {
          let pending = restoring.get(sha256);
          if (!pending) {
            pending = restore(sha256, signal).finally(() => restoring.delete(sha256));
            restoring.set(sha256, pending);
          }
          await pending;
          // Bringing one back may push the disk over the limit: make room among the others.
          evict();
        }
        repo.touchOriginal(sha256, clock.now());
        // Pinned: eviction leaves it alone until released, so the local copy stays valid.
        const copy = await store.localCopy(blobKeys.original(sha256), signal);
        return {
          path: copy.path,
          release: () => {
            void copy.release();
            unpin(sha256);
          },
        };
      } catch (err) {
        unpin(sha256);
        throw err;
      }
    },
  };

  return {
    source,
    evict,
    /**
     * A download read the local copy: it counts as use. Only with a limit, where the order of
     * use decides what leaves first; otherwise a download would write to the database for nothing.
     */
    touch: (sha256: string) => {
      if (deps.maxLocalBytes !== undefined) repo.touchOriginal(sha256, clock.now());
    },
  };
}

export type OriginalsTier = ReturnType<typeof createOriginalsTier>;
