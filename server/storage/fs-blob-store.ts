import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createDurability } from './durability.js';
import { resolveInside } from './safe-path.js';

/**
 * Files under the data dir:
 *
 *   originals/ab/cd/<sha256>           content-addressed: identical uploads are stored once
 *   processed/xy/zw/<image id>/<variant>.<ext>
 *   tmp/                               uploads and worker outputs in progress; emptied at start
 *
 * Two levels of 256-way sharding keep every directory small (a few dozen entries at ten
 * million files), which keeps lookups fast on every filesystem.
 *
 * The methods that change which files exist are synchronous on purpose: ingest and delete
 * check "is this original still used?" and act on the answer in the same tick, so the check and
 * the act cannot interleave with another request (see services/images.service.ts).
 *
 * Files moved into place are durable before the methods return (unless `fsync: false`): the
 * caller flushes the file's bytes first (`syncFile`, off the main thread), the move syncs the
 * directory entry, and only then does the caller commit the row that names the file. A power
 * cut can then leave a file no row names (start-up removes those, recovery/reconcile.ts), never
 * a row naming a file that is missing or empty.
 */
export function createFsBlobStore(dataDir: string, options: { fsync?: boolean } = {}) {
  const root = path.resolve(dataDir);
  const durability = createDurability(options.fsync ?? true);
  const dirs = {
    originals: path.join(root, 'originals'),
    processed: path.join(root, 'processed'),
    tmp: path.join(root, 'tmp'),
  };

  const originalPath = (sha256: string) => {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`not a sha256: ${sha256}`);
    return path.join(dirs.originals, sha256.slice(0, 2), sha256.slice(2, 4), sha256);
  };

  const processedDir = (imageId: string) => {
    const shard = crypto.createHash('sha1').update(imageId).digest('hex');
    return resolveInside(dirs.processed, shard.slice(0, 2), shard.slice(2, 4), imageId);
  };

  return {
    root,
    dirs,

    init() {
      for (const dir of Object.values(dirs)) fs.mkdirSync(dir, { recursive: true });
      // Nothing in tmp survives a restart: uploads in flight were never acknowledged, and
      // worker outputs are only renamed into place by a job that then commits.
      for (const entry of fs.readdirSync(dirs.tmp)) fs.rmSync(path.join(dirs.tmp, entry), { recursive: true, force: true });
    },

    /** A fresh path in tmp/ (same filesystem as the store, so the final rename is atomic). */
    tmpPath(suffix = '') {
      return path.join(dirs.tmp, `${crypto.randomUUID()}${suffix}`);
    },

    /** Whether files are flushed to stable storage before they are recorded (`--fsync`). */
    durable: durability.enabled,
    /** Flushes a finished temp file's bytes, before it is moved into place and recorded. */
    syncFile: (file: string) => durability.syncFile(file),

    originalPath,
    hasOriginal: (sha256: string) => fs.existsSync(originalPath(sha256)),

    /**
     * Moves an uploaded temp file (already flushed: `syncFile`) into place; a second copy of the
     * same bytes is just dropped. Returns with the directory entry durable, or, given
     * `foldersToSync`, adds the folder to it for the caller to flush (`syncDirsSync`) before its
     * commit, once for many files.
     *
     * A file already at the target is trusted only if it has the upload's size: a power cut with
     * `--fsync false` (or storage that lied about a flush) can leave an original empty or cut
     * short, and dropping the new bytes would then accept every later upload of them onto a
     * damaged file. Otherwise the upload, whose sha256 was computed as it was written, replaces
     * it: the name promises exactly these bytes. One stat each, no reading; damage that keeps
     * the size is for `darkroom verify` to find.
     */
    adoptOriginalSync(tmpFile: string, sha256: string, foldersToSync?: Set<string>) {
      const target = originalPath(sha256);
      const existing = fs.statSync(target, { throwIfNoEntry: false });
      if (existing?.isFile() && existing.size === fs.statSync(tmpFile).size) {
        fs.rmSync(tmpFile, { force: true });
        return target;
      }
      durability.mkdirSync(path.dirname(target));
      fs.renameSync(tmpFile, target);
      if (foldersToSync) foldersToSync.add(path.dirname(target));
      else durability.syncDirSync(path.dirname(target));
      return target;
    },

    /** Flushes the entries of folders files were moved into (see adoptOriginalSync). */
    syncDirsSync(folders: Iterable<string>) {
      for (const dir of folders) durability.syncDirSync(dir);
    },

    /** Puts a verified copy (already flushed) in place of a missing or damaged original. */
    replaceOriginalSync(tmpFile: string, sha256: string) {
      const target = originalPath(sha256);
      durability.mkdirSync(path.dirname(target));
      fs.renameSync(tmpFile, target);
      durability.syncDirSync(path.dirname(target));
      return target;
    },

    removeOriginalSync(sha256: string) {
      fs.rmSync(originalPath(sha256), { force: true });
    },

    processedDir,
    processedPath: (imageId: string, variant: string, ext: string) =>
      resolveInside(processedDir(imageId), `${variant}.${ext}`),

    /**
     * Atomically replaces processed files with finished temp files (already flushed:
     * `syncFile`), then makes their directory entries durable, once per directory.
     */
    commitProcessedSync(moves: Array<{ from: string; to: string }>) {
      const folders = new Set<string>();
      for (const { from, to } of moves) {
        const folder = path.dirname(to);
        if (!folders.has(folder)) durability.mkdirSync(folder);
        folders.add(folder);
        fs.renameSync(from, to);
      }
      for (const folder of folders) durability.syncDirSync(folder);
    },

    removeFileSync(file: string) {
      fs.rmSync(file, { force: true });
    },

    removeProcessedSync(imageId: string) {
      fs.rmSync(processedDir(imageId), { recursive: true, force: true });
    },

    /** Free bytes on the data dir's filesystem, for the 507 check. */
    async freeBytes() {
      const stats = await fs.promises.statfs(root);
      return stats.bavail * stats.bsize;
    },
  };
}

export type BlobStore = ReturnType<typeof createFsBlobStore>;
