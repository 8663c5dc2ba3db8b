import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { DatabasePort } from '../db/port.js';
import type { FsBlobStore as BlobStore } from '../storage/fs/fs-blob-store.js';
import { belongsInShard, createRecordLookup, folderContents, keptInBucket, originalShards, processedFolders } from './data-dir-scan.js';

export interface ReconcileReport {
  /** Originals no record names, removed (a kill between moving a file in and committing). */
  orphanOriginals: number;
  /** Processed folders and files no record names, removed (a delete that committed before its files went). */
  orphanProcessed: number;
  /** Records whose original is gone, with no copy in the bucket to fall back on: logged. */
  missingOriginals: number;
  /** Gone from local disk, but a verified copy is in the bucket, which serves it from now on. */
  missingLocally: number;
  /** Entries that are not part of the data dir's layout: logged, left alone. */
  unexpected: number;
  seconds: number;
}

/** Missing originals named one by one in the log; beyond this, counted. */
const LOGGED_ONE_BY_ONE = 100;

/**
 * Start-up reconciliation after an unclean stop: makes files and rows agree again.
 *
 * It runs in the background while the server serves, and races nothing: the server's own
 * changes to which files exist (ingest: move in + commit; delete: remove + "still used?"; a job:
 * move in + commit) each happen inside a unit of work, and so does every decision here that
 * acts: a file is removed in the unit of work whose read found no record naming it, and a
 * record is called missing in the one whose look found no file. Nothing else runs on the
 * database while a unit of work is open, so none of those changes can fall between a read here
 * and what it decides. A file that appeared after the listing is simply not seen; one recorded
 * meanwhile is kept. Only differences take a unit of work: a data dir that agrees with its
 * records is walked with plain reads.
 *
 * What it does with records whose original is gone: logs them (warn, with their images). Their
 * processing, if still to come, fails at once with `original_missing` (storage/original-source.ts);
 * `darkroom verify --repair` restores them from the S3 bucket if they were synced. With S3 sync
 * on, one whose verified copy is in the bucket is marked as kept there instead, and is brought
 * back or streamed from the bucket on demand, like an evicted one.
 *
 * Temporary files need nothing here: `tmp/` is emptied at every start (fs-blob-store init).
 * Processed files: the folders of images no record names are removed; files inside the folder
 * of an image that is not `done` are compared with its variants (see below).
 */
export async function reconcileDataDir(deps: {
  database: Pick<DatabasePort, 'repos' | 'unitOfWork'>;
  store: BlobStore;
  logger: Logger;
  /** S3 sync is on: a missing original with a verified bucket copy is served from there. */
  syncEnabled: boolean;
  signal?: AbortSignal;
}): Promise<ReconcileReport> {
  const { database, store, signal } = deps;
  const logger = deps.logger.child({ part: 'reconcile' });
  const lookup = createRecordLookup(database.repos.integrity);
  const started = performance.now();
  logger.warn('the previous run did not stop cleanly: checking the data dir in the background');
  const report: ReconcileReport = { orphanOriginals: 0, orphanProcessed: 0, missingOriginals: 0, missingLocally: 0, unexpected: 0, seconds: 0 };
  const relative = (p: string) => path.relative(store.root, p);
  const unexpected = (stray: string) => {
    report.unexpected++;
    logger.warn({ path: relative(stray) }, 'not part of the data dir layout; left alone');
  };

  for await (const shard of originalShards(store.dirs.originals, signal)) {
    if ('stray' in shard) {
      unexpected(shard.stray);
      continue;
    }
    // Possibly read before this listing: a difference is looked at again before acting on it.
    const recorded = await lookup.originalsInShard(shard.prefix);
    const listed = new Set(shard.names);
    for (const name of shard.names) {
      if (recorded.has(name)) continue;
      // Again now, in the unit of work of the removal. Recorded means recorded here: a sha256
      // in the wrong shard is not where any reader looks.
      const removed = await database.unitOfWork(async (repos) => {
        if (belongsInShard(name, shard.prefix) && (await repos.integrity.original(name))) return false;
        fs.rmSync(path.join(shard.dir, name), { force: true });
        return true;
      });
      if (!removed) continue;
      report.orphanOriginals++;
      logger.debug({ path: relative(path.join(shard.dir, name)) }, 'removed an original no record names');
    }
    for (const [sha256, listedRecord] of recorded) {
      if (listed.has(sha256) || keptInBucket(listedRecord)) continue;
      // Again now, in one unit of work: uploaded since the listing (then on disk: moved in
      // before its commit), deleted or evicted since the records were read?
      const original = await database.unitOfWork(async (repos) => {
        const now = await repos.integrity.original(sha256);
        if (!now || keptInBucket(now) || fs.existsSync(store.originalPath(sha256))) return undefined;
        if (now.synced && deps.syncEnabled) await repos.sync.originalGoneLocally(sha256);
        return now;
      });
      if (!original) continue;
      if (original.synced && deps.syncEnabled) {
        report.missingLocally++;
        logger.warn({ sha256 }, 'original missing from local disk; its verified copy in the S3 bucket is used from now on');
        continue;
      }
      report.missingOriginals++;
      if (report.missingOriginals <= LOGGED_ONE_BY_ONE) {
        logger.warn(
          { sha256, images: await lookup.imagesUsing(sha256), inBucket: original.synced },
          'original missing: its images cannot be processed again or downloaded as originals (darkroom verify --repair restores synced ones from the bucket)',
        );
      }
    }
  }

  for await (const folder of processedFolders(store.dirs.processed, signal)) {
    if ('stray' in folder) {
      unexpected(folder.stray);
      continue;
    }
    const status = folder.placed ? await lookup.imageStatus(folder.imageId) : undefined;
    if (status === undefined) {
      const removed = await database.unitOfWork(async (repos) => {
        if (folder.placed && (await repos.integrity.imageStatus(folder.imageId)) !== undefined) return false;
        fs.rmSync(folder.dir, { recursive: true, force: true });
        return true;
      });
      if (!removed) continue;
      report.orphanProcessed++;
      logger.debug({ path: relative(folder.dir) }, 'removed processed files of an image no record names');
      continue;
    }
    // A file no variant names is left by a job killed between moving its files in and
    // committing, and such an image was not `done` then. Listing only those keeps the walk to
    // one listing per shard folder, not one per image (verify looks into every folder).
    if (status === 'done') continue;
    const contents = await folderContents(folder.dir);
    for (const stray of contents.strays) unexpected(stray.stray);
    // Read after the listing; the files no record names read again, and removed, in one unit of work.
    const named = await lookup.filesNamedBy(folder.imageId);
    if (contents.names.every((name) => named.has(name))) continue;
    const removed = await database.unitOfWork(async (repos) => {
      const namedNow = new Set((await repos.integrity.pathsNamedBy(folder.imageId)).map((p) => path.basename(p)));
      const unnamed = contents.names.filter((name) => !namedNow.has(name));
      for (const name of unnamed) fs.rmSync(path.join(folder.dir, name), { force: true });
      return unnamed;
    });
    for (const name of removed) {
      report.orphanProcessed++;
      logger.debug({ path: relative(path.join(folder.dir, name)) }, 'removed a processed file no record names');
    }
  }

  report.seconds = Math.round((performance.now() - started) / 10) / 100;
  const found = report.orphanOriginals + report.orphanProcessed + report.missingOriginals + report.missingLocally + report.unexpected;
  (found ? logger.warn.bind(logger) : logger.info.bind(logger))(report, 'data dir reconciled after an unclean stop');
  return report;
}
