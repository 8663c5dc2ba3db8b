import crypto from 'node:crypto';
import fs from 'node:fs';
import type { DatabasePort } from '../db/port.js';
import type { Repositories } from '../db/repositories.js';
import {
  BlobStoreUnavailableError,
  blobKeys,
  parseBlobKey,
  type DurableBatch,
  type LocalPrimaryStore,
  type PrimaryBlobStore,
  type RemotePrimaryStore,
} from '../storage/blob-store.js';
import type { Clock } from '../util/clock.js';
import { createBlobJanitor, type BlobJanitor } from './blob-janitor.js';

/** A staged file on its way to becoming the blob under `key`. */
export interface StagedBlob {
  file: string;
  key: string;
  /**
   * The hex sha256 of the file (an original's key names it; a worker reports its outputs'), which
   * a remote store verifies on upload.
   */
  sha256?: string;
}

/** Staged blobs made ready to be recorded (`prepare`), for `place` or `discard`. */
export interface PreparedBlobs {
  blobs: StagedBlob[];
  /**
   * False for a cache's files (stored renders): not flushed before they are recorded. A power
   * cut may then leave a row naming a file cut short or gone, which its reader checks (size) and
   * makes again; nobody's upload or variant is lost.
   */
  durable?: boolean;
  /** A remote store's intents (blob_deletes rows) that the recording commit removes. */
  intents: string[];
}

/**
 * How long an upload's intent keeps the janitor away from its key: longer than any upload
 * takes from its first byte sent to the commit that records it. An intent whose node died is
 * carried out (the object removed, if nothing uses it) this long after.
 */
const INTENT_MS = 6 * 60 * 60 * 1000;
/** How long an upload waits for a delete of the same key that another node is carrying out (its claim lasts 30 s). */
const CLAIM_WAIT_MS = 60 * 1000;

/**
 * Where the use cases turn staged files into blobs and decide that blobs go: the one place that
 * knows the two kinds of primary store (storage/blob-store.ts). Every call says where it belongs
 * relative to the unit of work that records the decision:
 *
 * - `prepare` before it (slow: flush to disk, or upload to the bucket),
 * - `place`, `remove`, `discard` inside it (bookkeeping, and on the data dir the renames and
 *   removals themselves, synchronous, as before),
 * - `afterCommit` after it (a remote store's decided deletes are carried out then).
 *
 * With a remote store (an S3 bucket shared by every node) deletes cannot be part of a unit of
 * work, so they are journalled in the database (blob_deletes) in the unit that decides them and
 * carried out after its commit by the janitor (blob-janitor.ts), which re-checks, under a
 * claim, that nothing uses the object and that no upload is writing it. An upload first records
 * an intent for its key (which keeps deletes of the key away until it commits, and becomes the
 * delete of an orphan when it never does), then writes. docs/architecture.md, "Deletes in a
 * remote store", argues why this holds across crashes and nodes.
 */
export function createBlobPlacement(deps: {
  store: PrimaryBlobStore;
  database: Pick<DatabasePort, 'unitOfWork' | 'repos'>;
  clock: Clock;
  /** Failures of the janitor's deletes (they are retried): for the log. */
  onJanitorError?: (err: unknown) => void;
}) {
  const { store, database, clock } = deps;

  if (store.placement === 'local') return localPlacement(store);
  const janitor = createBlobJanitor({ store, database, clock, onError: deps.onJanitorError });
  return remotePlacement(store, database, clock, janitor);
}

function localPlacement(store: LocalPrimaryStore) {
  return {
    store,
    janitor: undefined as BlobJanitor | undefined,

    /** A processed file's key: the same for every generation (each replaces the last by a rename). */
    processedKey: (imageId: string, variant: string, ext: string) => blobKeys.processed(imageId, variant, ext),

    /**
     * Flushes the staged files off the main thread (the 202 and `done` promise stable storage);
     * a cache's files (`durable: false`) are not flushed.
     */
    async prepare(blobs: StagedBlob[], _signal?: AbortSignal, { durable = true }: { durable?: boolean } = {}): Promise<PreparedBlobs> {
      if (durable) await Promise.all(blobs.map((b) => store.sealStaged(b.file)));
      return { blobs, intents: [], durable };
    },

    /**
     * Renames the staged files into place. Originals with `batch` have their folders made
     * durable later, once for many (`commitBatch`); processed files at once.
     */
    async place(prepared: PreparedBlobs, _repos: Repositories, batch?: DurableBatch): Promise<void> {
      const processed: Array<{ from: string; key: string }> = [];
      for (const blob of prepared.blobs) {
        if (parseBlobKey(blob.key).kind === 'originals') store.adoptOriginalSync(blob.file, blob.sha256!, batch);
        else processed.push({ from: blob.file, key: blob.key });
      }
      if (processed.length) store.placeStagedSync(processed, { durable: prepared.durable !== false });
    },

    commitBatch(batch: DurableBatch): void {
      store.commitBatchSync(batch);
    },

    /**
     * Undoes `prepare` and `place` for blobs that will not be recorded: staged files go, and an
     * original that nothing uses (checked in this unit of work) goes with them.
     */
    async discard(prepared: PreparedBlobs, repos: Pick<Repositories, 'images'>): Promise<void> {
      for (const blob of prepared.blobs) {
        fs.rmSync(blob.file, { force: true });
        const { kind, rest } = parseBlobKey(blob.key);
        if (kind === 'originals' && (await repos.images.countBySha256(rest[0]!)) === 0) store.deleteSync(blob.key);
      }
    },

    /** A blob this unit of work stops using goes now (the data dir can act inside the unit). */
    async remove(key: string, _repos: Repositories): Promise<void> {
      store.deleteSync(key);
    },

    /**
     * Inside the durable unit of work that deletes an image's rows: nothing yet. Its files go in
     * `afterImageDeleted`, once the commit is on stable storage (a file left by a crash in
     * between is an orphan for recovery/reconcile.ts).
     */
    async imageDeleted(_imageId: string, _sha256: string, _repos: Repositories): Promise<void> {},

    /** After the image's rows are gone: its processed files, and its original if nothing else uses it. */
    async afterImageDeleted(imageId: string, sha256: string, db: Pick<DatabasePort, 'unitOfWork'>): Promise<void> {
      // "Is this original still used" is answered and acted on in one unit of work, which no
      // upload's group commit (adopt and record, in a unit of its own) can come in between.
      await db.unitOfWork(async (repos) => {
        store.deletePrefixSync(blobKeys.processedPrefix(imageId));
        if ((await repos.images.countBySha256(sha256)) === 0) store.deleteSync(blobKeys.original(sha256));
      });
    },

    afterCommit(): void {},
  };
}

function remotePlacement(store: RemotePrimaryStore, database: Pick<DatabasePort, 'unitOfWork'>, clock: Clock, janitor: BlobJanitor) {
  /**
   * Records an intent for `key` once no node is deleting it: from then on the janitor leaves the
   * key alone until the intent is removed (by the commit that records the blob) or falls due.
   */
  async function recordIntent(key: string, signal?: AbortSignal): Promise<string> {
    const id = crypto.randomUUID();
    const giveUpAt = clock.now() + CLAIM_WAIT_MS;
    for (;;) {
      const recorded = await database.unitOfWork(async (repos) => {
        const now = clock.now();
        if (await repos.blobDeletes.isBeingDeleted(key, now)) return false;
        await repos.blobDeletes.schedule({ id, key, dueAt: now + INTENT_MS });
        return true;
      });
      if (recorded) return id;
      if (clock.now() > giveUpAt) throw new BlobStoreUnavailableError(`${key} is still being deleted by another node`);
      await new Promise((resolve) => setTimeout(resolve, 250));
      signal?.throwIfAborted();
    }
  }

  async function turnIntoDeletes(prepared: PreparedBlobs, repos: Pick<Repositories, 'blobDeletes'>) {
    const now = clock.now();
    for (const [i, id] of prepared.intents.entries()) {
      await repos.blobDeletes.remove(id);
      await repos.blobDeletes.schedule({ id: crypto.randomUUID(), key: prepared.blobs[i]!.key, dueAt: now });
    }
  }

  async function scheduleNow(key: string, repos: Repositories) {
    await repos.blobDeletes.schedule({ id: crypto.randomUUID(), key, dueAt: clock.now() });
  }

  return {
    store,
    janitor,

    /**
     * A processed file's key: a fresh one for every write, so a new generation never lands on a
     * key an old delete may still be removing, and the old file goes by its own key.
     */
    processedKey: (imageId: string, variant: string, ext: string) =>
      blobKeys.processed(imageId, `${variant}.${crypto.randomBytes(6).toString('hex')}`, ext),

    /**
     * Records an intent for each key, then uploads the staged file under it (originals whose
     * bytes are already there are not sent again), then drops the staged file.
     */
    async prepare(blobs: StagedBlob[], signal?: AbortSignal, _options: { durable?: boolean } = {}): Promise<PreparedBlobs> {
      const intents: string[] = [];
      try {
        for (const blob of blobs) {
          intents.push(await recordIntent(blob.key, signal));
          const reuse = parseBlobKey(blob.key).kind === 'originals';
          await store.upload(blob.file, blob.key, { sha256: blob.sha256, reuse, signal });
        }
      } catch (err) {
        // What was sent will not be recorded: the intents become deletes due now (should the
        // database fail too, they fall due on their own).
        await database
          .unitOfWork((repos) => turnIntoDeletes({ blobs, intents }, repos))
          .then(() => janitor.kick())
          .catch(() => {});
        throw err;
      } finally {
        await Promise.all(blobs.map((b) => fs.promises.rm(b.file, { force: true })));
      }
      return { blobs, intents };
    },

    /** The blobs are recorded by this unit of work: their intents go with its commit. */
    async place(prepared: PreparedBlobs, repos: Repositories, _batch?: DurableBatch): Promise<void> {
      for (const id of prepared.intents) await repos.blobDeletes.remove(id);
    },

    commitBatch(_batch: DurableBatch): void {},

    /** The blobs will not be recorded: their intents become deletes due now. */
    async discard(prepared: PreparedBlobs, repos: Pick<Repositories, 'blobDeletes'>): Promise<void> {
      await turnIntoDeletes(prepared, repos);
      for (const blob of prepared.blobs) fs.rmSync(blob.file, { force: true });
    },

    /** Journalled in this unit of work; carried out after the commit, if nothing uses it then. */
    remove: scheduleNow,

    /** Both deletes journalled in the unit of work that removes the rows, so a crash after its commit loses neither. */
    async imageDeleted(imageId: string, sha256: string, repos: Repositories): Promise<void> {
      await scheduleNow(blobKeys.processedPrefix(imageId), repos);
      await scheduleNow(blobKeys.original(sha256), repos);
    },

    async afterImageDeleted(_imageId: string, _sha256: string, _db: Pick<DatabasePort, 'unitOfWork'>): Promise<void> {
      janitor.kick();
    },

    afterCommit(): void {
      janitor.kick();
    },
  };
}

export type BlobPlacement = ReturnType<typeof createBlobPlacement>;
