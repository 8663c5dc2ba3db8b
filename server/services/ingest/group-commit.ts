import fs from 'node:fs';
import type { DatabasePort } from '../../db/port.js';
import type { Repositories } from '../../db/repositories.js';
import { createDurableBatch } from '../../storage/blob-store.js';
import type { BlobPlacement, PreparedBlobs } from '../blob-placement.js';

/** What one accepted request puts in place and records. */
export interface AcceptWork {
  /** Staged files, prepared (flushed, or uploaded) to become `originals/<sha256>`. */
  originals: PreparedBlobs;
  /**
   * Writes the request's records with the repositories it is given: inside the batch's unit of
   * work, in a savepoint of its own.
   */
  record: (repos: Repositories) => Promise<void>;
}

interface Waiting extends AcceptWork {
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Group commit for accepted uploads: the requests whose bytes became ready in the same turn of
 * the event loop are moved into place and recorded together, in one unit of work with one
 * synced commit.
 *
 * Why: with --fsync, each acceptance waits for two flushes on the main thread (the folders that
 * got new entries, then SQLite's log), and each flush is a commit of the filesystem's journal,
 * milliseconds on a good disk and tens of them on a busy one. Uploads whose files finish
 * flushing while the main thread is blocked in one such stretch are all waiting when it ends;
 * taking them together costs one journal commit for all their folders (the first flush commits
 * the changes of every folder) and one for the log, instead of two each. A lone upload waits for
 * nothing: its batch is just itself, one `setImmediate` later.
 *
 * Each request keeps its own outcome: its records go in a savepoint, so one that fails (a
 * constraint, a hook) is rolled back alone and its original removed if nothing else uses it.
 * A failure of the commit itself fails the whole batch, and leaves nothing behind.
 */
export function createGroupCommit(deps: { database: Pick<DatabasePort, 'unitOfWork'>; placement: BlobPlacement }) {
  const { database, placement } = deps;
  let queue: Waiting[] = [];

  /**
   * Removes what a request left behind: its temp files, and originals no record uses. "Is this
   * original still used" is answered and acted on inside a unit of work (`repos` are its
   * repositories), like a delete's, so no upload can record the same bytes in between.
   */
  async function undo(work: AcceptWork, repos: Repositories) {
    await placement.discard(work.originals, repos);
  }

  async function flush() {
    const batch = queue;
    queue = [];
    const failed = new Map<Waiting, unknown>();
    try {
      // One unit of work from moving the bytes in to the commit: nothing else runs on the
      // database meanwhile, so a delete deciding whether the same bytes are still in use cannot
      // come in between (its check and removal are a unit of work of their own).
      await database.unitOfWork(
        async (repos, unit) => {
          const moved: Waiting[] = [];
          const folders = createDurableBatch();
          for (const work of batch) {
            try {
              await placement.place(work.originals, repos, folders);
              moved.push(work);
            } catch (err) {
              failed.set(work, err);
            }
          }
          placement.commitBatch(folders);
          for (const work of moved) {
            try {
              await unit.savepoint(() => work.record(repos));
            } catch (err) {
              failed.set(work, err);
            }
          }
          // The requests that failed alone are undone in the same unit of work: the batch keeps
          // its one commit.
          for (const work of failed.keys()) await undo(work, repos);
        },
        { durable: true },
      );
    } catch (err) {
      // The commit failed: nothing of the batch was recorded, so every request is undone.
      for (const work of batch) if (!failed.has(work)) failed.set(work, err);
      for (const work of batch) for (const blob of work.originals.blobs) fs.rmSync(blob.file, { force: true });
      try {
        await database.unitOfWork(async (repos) => {
          for (const work of batch) await undo(work, repos);
        });
      } catch {
        // The database failed again: an original left unused is an orphan for reconcile.
      }
    }
    placement.afterCommit();
    for (const work of batch) if (failed.has(work)) work.reject(failed.get(work));
    for (const work of batch) if (!failed.has(work)) work.resolve();
  }

  return {
    /** Moves the files into place and records them, with the other requests ready now. */
    submit(work: AcceptWork): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        // flush() settles every request of its batch itself and never rejects.
        if (queue.length === 0) setImmediate(() => void flush());
        queue.push({ ...work, resolve, reject });
      });
    },
  };
}

export type GroupCommit = ReturnType<typeof createGroupCommit>;
