import crypto from 'node:crypto';
import fs from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import type { Repositories } from '../db/repositories.js';
import type { SyncRepo } from '../db/sync.repo.js';
import { JobError } from '../jobs/runner.js';
import { blobKeys, type BlobStore, type LocalPrimaryStore } from '../storage/blob-store.js';
import type { OriginalSource } from '../storage/original-source.js';
import { describeS3Error } from '../storage/s3/errors.js';
import type { Clock } from '../util/clock.js';
import { originalKey } from './bucket-keys.js';

/**
 * The capacity tier: local disk as a cache of originals in front of the bucket.
 *
 * With `--local-originals-max-bytes`, once the originals on disk pass the limit, those least
 * recently used leave the disk, but only when their bucket copy is verified and settled (see
 * `SyncRepo.evictable`) and nothing in this process is reading them (`pins`). Each batch is
 * chosen and evicted in one unit of work, so no upload, feed or delete changes what made an
 * original evictable between the choice and the removal. An evicted original
 * comes back on demand: processing brings it back to disk (checked against its sha256), downloads
 * stream it from the bucket without touching the disk (sync/bucket-download.ts).
 */
export function createOriginalsTier(deps: {
  /** For the reads and writes outside a unit of work (the database port's `repos.sync`). */
  sync: SyncRepo;
  unitOfWork: <T>(work: (repos: Pick<Repositories, 'sync'>) => Promise<T>) => Promise<T>;
  store: LocalPrimaryStore;
  replica: BlobStore;
  clock: Clock;
  logger: Logger;
  maxLocalBytes?: number;
}) {
  const { sync, store, replica, clock, logger } = deps;
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
    const row = await sync.original(sha256);
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
      // The file appears, then the row says so: until then the row says it is not local, so
      // eviction leaves it alone.
      store.adoptOriginalSync(tmp, sha256);
      await sync.originalIsLocal(sha256, bytes, clock.now());
      logger.info({ sha256, bytes }, 'original brought back from the bucket');
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }

  /**
   * One original out, in one unit of work: chosen, removed and recorded together, so a crash or
   * a failed commit leaves at most one row claiming a local copy that is gone (acquire() and
   * downloads check for the file anyway). A unit of work per original rather than per batch:
   * a rolled-back batch would leave many such rows, and start-up's guards, which run before the
   * reconciliation that would notice them, count only rows that say "not local".
   */
  function evictOne(max: number) {
    return deps.unitOfWork(async ({ sync }) => {
      const local = (await sync.state()).local_bytes;
      if (local <= max) return { evicted: 0, local, done: true };
      // Looked at right before the removal, in the same tick: acquire() pins before it looks
      // for the file, so a pinned original is never removed under its reader.
      const original = (await sync.evictable(1 + pins.size)).find((candidate) => !pins.has(candidate.sha256));
      if (!original) return { evicted: 0, local, done: true };
      // The file goes before the row says so (see above).
      store.deleteSync(blobKeys.original(original.sha256));
      await sync.originalEvicted(original.sha256, original.bytes);
      const left = local - original.bytes;
      return { evicted: 1, local: left, done: left <= max };
    });
  }

  async function evictNow(max: number): Promise<number> {
    let evicted = 0;
    let local = 0;
    for (;;) {
      const one = await evictOne(max);
      evicted += one.evicted;
      local = one.local;
      if (one.done) break;
    }
    if (evicted) logger.info({ evicted, localBytes: local, maxBytes: max }, 'evicted originals kept in the bucket');
    return evicted;
  }

  let evicting: Promise<number> | undefined;
  let evictAgain = false;
  /**
   * Makes room when the originals on disk pass the limit; resolves to how many left. One eviction
   * at a time: asked for during one, it runs once more after it (what changed meanwhile may
   * need room too).
   */
  function evict(): Promise<number> {
    const max = deps.maxLocalBytes;
    if (max === undefined) return Promise.resolve(0);
    if (evicting) {
      evictAgain = true;
      return evicting;
    }
    const run = async () => {
      let evicted = 0;
      do {
        evictAgain = false;
        evicted += await evictNow(max);
      } while (evictAgain);
      return evicted;
    };
    evicting = run().finally(() => (evicting = undefined));
    return evicting;
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
          await evict();
        }
        await sync.touchOriginal(sha256, clock.now());
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
    touch: async (sha256: string): Promise<void> => {
      if (deps.maxLocalBytes !== undefined) await sync.touchOriginal(sha256, clock.now());
    },
  };
}

export type OriginalsTier = ReturnType<typeof createOriginalsTier>;
