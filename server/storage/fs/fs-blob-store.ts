import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  BlobIntegrityError,
  BlobNotFoundError,
  blobKeys,
  parseBlobKey,
  parseBlobPrefix,
  type BlobStat,
  type LocalPrimaryStore,
  type DurableBatch,
  type LocalCopy,
  type OpenedBlob,
  type PutResult,
} from '../blob-store.js';
import { resolveInside } from '../safe-path.js';
import { createDurability } from './durability.js';
import { isMissing, openFileAsBlob } from './opened-file.js';

/**
 * The blob store as files under the data dir, the embedded default:
 *
 *   originals/ab/cd/<sha256>           key originals/<sha256>: identical uploads are stored once
 *   processed/xy/zw/<image id>/<variant>.<ext>    key processed/<image id>/<variant>.<ext>
 *   tmp/                               staged files (uploads, worker outputs); emptied at start
 *
 * Two levels of 256-way sharding keep every directory small (a few dozen entries at ten
 * million files), which keeps lookups fast on every filesystem. The sharding is this adapter's
 * business: keys do not carry it.
 *
 * Files placed are durable before the methods return (unless `fsync: false`): the caller seals
 * the staged file's bytes first (`sealStaged`, off the main thread), the move syncs the
 * directory entry, and only then does the caller commit the row that names the blob. A power
 * cut can then leave a file no row names (start-up removes those, recovery/reconcile.ts), never
 * a row naming a file that is missing or empty.
 *
 * Paths leave this module only as staged files and local copies (the port's two ways), and
 * through the few fs-only members below the port (`root`, `dirs`, `originalPath`,
 * `processedDir`) that the data-dir recovery scans use.
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
    blobKeys.original(sha256); // refuses anything but a sha256
    return path.join(dirs.originals, sha256.slice(0, 2), sha256.slice(2, 4), sha256);
  };

  const processedDir = (imageId: string) => {
    const shard = crypto.createHash('sha1').update(imageId).digest('hex');
    return resolveInside(dirs.processed, shard.slice(0, 2), shard.slice(2, 4), imageId);
  };

  /** The file a key names; the key is checked first, so nothing outside the store is named. */
  const pathOf = (key: string): string => {
    const { kind, rest } = parseBlobKey(key);
    if (kind === 'originals') return originalPath(rest[0]!);
    return resolveInside(processedDir(rest[0]!), rest[1]!);
  };

  /** Size and time of a blob; undefined only when it is missing (a disk error stays an error). */
  async function statOf(key: string): Promise<BlobStat | undefined> {
    const stats = await fs.promises.stat(pathOf(key)).catch((err: unknown) => {
      if (isMissing(err)) return undefined;
      throw err;
    });
    return stats?.isFile() ? { size: stats.size, modifiedMs: stats.mtimeMs } : undefined;
  }

  const stagingPath = (suffix = '') => path.join(dirs.tmp, `${crypto.randomUUID()}${suffix}`);

  /** Renames a sealed file into place and makes the entry durable (now, or with the batch). */
  const place = (from: string, to: string, batch?: DurableBatch) => {
    const folder = path.dirname(to);
    durability.mkdirSync(folder);
    fs.renameSync(from, to);
    if (batch) batch.add(folder);
    else durability.syncDirSync(folder);
  };

  const store = {
    async put(key: string, source: Readable | AsyncIterable<Uint8Array>, putOptions: { sha256?: string; signal?: AbortSignal } = {}): Promise<PutResult> {
      const target = pathOf(key);
      const staged = stagingPath();
      const hash = crypto.createHash('sha256');
      let bytes = 0;
      try {
        await pipeline(
          source instanceof Readable ? source : Readable.from(source),
          new Transform({
            transform(chunk: Buffer, _enc, done) {
              hash.update(chunk);
              bytes += chunk.length;
              done(null, chunk);
            },
          }),
          fs.createWriteStream(staged),
          { signal: putOptions.signal },
        );
        const sha256 = hash.digest('hex');
        if (putOptions.sha256 !== undefined && putOptions.sha256 !== sha256) throw new BlobIntegrityError(key, putOptions.sha256, sha256);
        await durability.syncFile(staged);
        place(staged, target);
        return { bytes, sha256 };
      } finally {
        await fs.promises.rm(staged, { force: true });
      }
    },

    async open(key: string): Promise<OpenedBlob> {
      return openFileAsBlob(key, pathOf(key));
    },

    stat: statOf,

    async delete(key: string): Promise<void> {
      await fs.promises.rm(pathOf(key), { force: true });
    },

    async *list(prefix: string, signal?: AbortSignal): AsyncIterable<string> {
      const { kind, rest } = parseBlobPrefix(prefix);
      if (kind === 'originals') {
        for await (const sha256 of walkShards(dirs.originals, signal)) {
          const key = `originals/${sha256}`;
          if (key.startsWith(prefix)) yield key;
        }
        return;
      }
      // One image's folder is found directly; anything wider walks the shards.
      const imageIds = rest.length >= 2 ? [rest[0]!] : walkShards(dirs.processed, signal);
      for await (const imageId of imageIds) {
        if (!`processed/${imageId}/`.startsWith(prefix) && !prefix.startsWith(`processed/${imageId}/`)) continue;
        for (const file of await readdirOrEmpty(processedDir(imageId))) {
          const key = `processed/${imageId}/${file}`;
          if (key.startsWith(prefix)) yield key;
        }
      }
    },

    async localCopy(key: string): Promise<LocalCopy> {
      // The file itself: blobs are never rewritten in place (a new version is a rename over
      // it, which leaves an open reader's file whole), so a reader may use the path directly.
      if (!(await statOf(key))) throw new BlobNotFoundError(key);
      return { path: pathOf(key), release: async () => {} };
    },

    placement: 'local' as const,
    durable: durability.enabled,
    stagingPath,
    sealStaged: (file: string) => durability.syncFile(file),

    /**
     * A file already at the target is trusted only if it has the staged file's size: a power
     * cut with `--fsync false` (or storage that lied about a flush) can leave an original empty
     * or cut short, and dropping the new bytes would then accept every later upload of them
     * onto a damaged file. Otherwise the staged file, whose sha256 was computed as it was
     * written, replaces it: the name promises exactly these bytes. One stat each, no reading;
     * damage that keeps the size is for `darkroom verify` to find.
     */
    adoptOriginalSync(stagedFile: string, sha256: string, batch?: DurableBatch): void {
      const target = originalPath(sha256);
      const existing = fs.statSync(target, { throwIfNoEntry: false });
      if (existing?.isFile() && existing.size === fs.statSync(stagedFile).size) {
        fs.rmSync(stagedFile, { force: true });
        return;
      }
      place(stagedFile, target, batch);
    },

    commitBatchSync(batch: DurableBatch): void {
      for (const dir of batch) durability.syncDirSync(dir);
    },

    replaceOriginalSync(stagedFile: string, sha256: string): void {
      place(stagedFile, originalPath(sha256));
    },

    placeStagedSync(moves: Array<{ from: string; key: string }>, { durable = true }: { durable?: boolean } = {}): void {
      const folders: DurableBatch = new Set();
      for (const { from, key } of moves) place(from, pathOf(key), folders);
      if (durable) for (const folder of folders) durability.syncDirSync(folder);
    },

    existsSync(key: string): boolean {
      return fs.statSync(pathOf(key), { throwIfNoEntry: false })?.isFile() ?? false;
    },

    deleteSync(key: string): void {
      fs.rmSync(pathOf(key), { force: true });
    },

    deletePrefixSync(prefix: string): void {
      const { kind, rest } = parseBlobPrefix(prefix);
      // Only what the use cases remove at once: one image's processed files.
      if (kind !== 'processed' || rest.length !== 2 || rest[1] !== '') throw new Error(`deletePrefixSync takes processed/<image id>/, not ${prefix}`);
      fs.rmSync(processedDir(rest[0]!), { recursive: true, force: true });
    },

    async freeBytes(): Promise<number> {
      const stats = await fs.promises.statfs(root);
      return stats.bavail * stats.bsize;
    },

    // --- below the port: the data dir itself, for start-up and the recovery scans ------------

    root,
    dirs,

    init() {
      for (const dir of Object.values(dirs)) fs.mkdirSync(dir, { recursive: true });
      // Nothing staged survives a restart: uploads in flight were never acknowledged, and
      // worker outputs are only placed by a job that then commits.
      for (const entry of fs.readdirSync(dirs.tmp)) fs.rmSync(path.join(dirs.tmp, entry), { recursive: true, force: true });
    },

    originalPath,
    processedDir,
    /** The file a key names (recovery reports and repairs files by their place in the data dir). */
    pathOf,
  };

  // The fs-only members ride along; everything else is the port, checked here.
  const port: LocalPrimaryStore = store;
  void port;
  return store;
}

export type FsBlobStore = ReturnType<typeof createFsBlobStore>;

async function readdirOrEmpty(dir: string): Promise<string[]> {
  return fs.promises.readdir(dir).catch((err: unknown) => {
    if (isMissing(err)) return [];
    throw err;
  });
}

/** The names two shard levels below `base` (`base/ab/cd/<name>`), one folder at a time. */
async function* walkShards(base: string, signal?: AbortSignal): AsyncIterable<string> {
  for (const a of (await readdirOrEmpty(base)).sort()) {
    signal?.throwIfAborted();
    for (const b of (await readdirOrEmpty(path.join(base, a))).sort()) {
      yield* (await readdirOrEmpty(path.join(base, a, b))).sort();
    }
  }
}
