import type { DatabasePort } from '../db/port.js';
import type { Repositories } from '../db/repositories.js';
import type { BlobDeleteRow } from '../db/blob-deletes.repo.js';
import { blobKeys, parseBlobKey, type RemotePrimaryStore } from '../storage/blob-store.js';
import type { Clock } from '../util/clock.js';

/**
 * How long a claim keeps other nodes (and uploads of the key) off a key: three times as long as
 * a DELETE may take (DELETE_TIMEOUT_MS), so a request of a node that died holding the claim has
 * reached the bucket or failed by the time the claim expires. It is also how long after a crash
 * the deletes it interrupted wait.
 */
const CLAIM_MS = 30 * 1000;
const DELETE_TIMEOUT_MS = 10 * 1000;
const BATCH = 100;
/** Even with nothing kicking it, the janitor looks this often (intents of dead nodes fall due, other nodes' failed deletes). */
const POLL_MS = 30 * 1000;

/**
 * Carries out the journalled deletes of a remote primary store (blob_deletes, see
 * blob-placement.ts): after each commit that decided one (`kick`), at start, and every
 * POLL_MS. Each row is claimed in a unit of work that first re-checks, in the database every
 * node shares, that nothing uses the object (no image names the original, no variant the
 * processed file, the image of a processed prefix is gone) and that no upload of the key is in
 * progress (a live intent); such a row is dropped, or left for later. Then the object is
 * deleted, and the row removed. A node that dies holding a claim leaves a row whose claim
 * expires; another node (or this one, after its restart) carries it out.
 */
export function createBlobJanitor(deps: {
  store: RemotePrimaryStore;
  database: Pick<DatabasePort, 'unitOfWork' | 'repos'>;
  clock: Clock;
  onError?: (err: unknown) => void;
}) {
  const { store, database, clock } = deps;
  let running: Promise<void> | undefined;
  let again = false;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  /** Whether a row's object is still in use, read inside the claiming unit of work. */
  async function inUse(key: string, repos: Repositories): Promise<boolean> {
    if (key.endsWith('/')) {
      const imageId = key.split('/')[1]!;
      blobKeys.processedPrefix(imageId); // refuses anything but an image's prefix
      return (await repos.images.findById(imageId)) !== undefined;
    }
    const { kind, rest } = parseBlobKey(key);
    if (kind === 'originals') return (await repos.images.countBySha256(rest[0]!)) > 0;
    // A processed key is a variant's file or a stored render's.
    return (await repos.images.variantsOf(rest[0]!)).some((v) => v.path === key) || (await repos.renders.names(key));
  }

  /**
   * Claims a row: `claimed` when this node is to delete the object now, `settled` when there is
   * nothing to do (gone, in use again: the row is dropped), `left` when it must wait.
   */
  function claim(row: BlobDeleteRow): Promise<'claimed' | 'settled' | 'left'> {
    return database.unitOfWork(async (repos) => {
      const now = clock.now();
      const current = await repos.blobDeletes.find(row.id);
      if (!current) return 'settled';
      if (current.due_at > now) return 'left';
      if (await inUse(current.key, repos)) {
        await repos.blobDeletes.remove(current.id);
        return 'settled';
      }
      // An upload of the same key is on its way: its commit decides (it either records the
      // object, or its intent falls due and comes back here).
      if (await repos.blobDeletes.isBeingWritten(current.key, now)) return 'left';
      return (await repos.blobDeletes.claim(current.id, now + CLAIM_MS, now)) ? 'claimed' : 'left';
    });
  }

  /** Carries out one row; false when it is left for later. */
  async function carryOut(row: BlobDeleteRow): Promise<boolean> {
    const claimed = await claim(row);
    if (claimed !== 'claimed') return claimed === 'settled';
    const signal = AbortSignal.timeout(DELETE_TIMEOUT_MS);
    try {
      if (row.key.endsWith('/')) await store.deletePrefix(row.key, signal);
      else await store.delete(row.key, signal);
    } catch (err) {
      // A request that is over (answered with an error, or never connected) can no longer
      // remove anything: the claim is given up at once, so an upload of the key waiting for it
      // goes on (it looks at the key only after its intent is recorded). One cut short by the
      // timeout may still reach the bucket: its claim is left to expire.
      if (!signal.aborted) await database.unitOfWork((repos) => repos.blobDeletes.release(row.id)).catch(() => {});
      throw err;
    }
    await database.unitOfWork((repos) => repos.blobDeletes.remove(row.id));
    return true;
  }

  async function runOnce(): Promise<void> {
    for (;;) {
      const due = await database.repos.blobDeletes.due(clock.now(), BATCH);
      let failed = 0;
      let settled = 0;
      for (const row of due) {
        if (stopped) return;
        try {
          if (await carryOut(row)) settled++;
        } catch (err) {
          // The bucket or the database is out: the row stays, and is tried again later.
          failed++;
          deps.onError?.(err);
        }
      }
      // A full batch of rows that all had to wait would come back the same: try again later.
      if (due.length < BATCH || failed > 0 || settled === 0) return;
    }
  }

  function schedule() {
    clearTimeout(timer);
    if (stopped) return;
    timer = setTimeout(kick, POLL_MS).unref();
  }

  /** Carries out what is due now; a kick while running makes it look once more after. */
  function kick(): void {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = (async () => {
      do {
        again = false;
        await runOnce().catch((err: unknown) => deps.onError?.(err));
      } while (again && !stopped);
    })().finally(() => {
      running = undefined;
      schedule();
    });
  }

  return {
    kick,
    /** Resolves once nothing is being carried out (tests, shutdown). */
    async idle(): Promise<void> {
      while (running) await running;
    },
    async stop(): Promise<void> {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}

export type BlobJanitor = ReturnType<typeof createBlobJanitor>;
