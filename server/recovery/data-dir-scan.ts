import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { IntegrityRepo, RecordedOriginal } from '../db/integrity.repo.js';

export type { DoneVariant, RecordedOriginal } from '../db/integrity.repo.js';

/**
 * Walking the data dir against the database, for start-up reconciliation and `darkroom verify`,
 * with memory bounded by one shard at a time however many files there are.
 *
 * Originals are compared shard by shard (`originals/ab/cd/` against the records whose sha256
 * starts with `abcd`): one directory listing per shard, never a stat per file, and one index
 * range query per 256 shards (`ab`), so finding what is missing costs 65,536 listings and 256
 * queries at any size, holding a 256th of the records at a time (40,000 at ten million).
 * Processed folders are compared against the images (one listing per shard folder, one lookup
 * per image), and their files against the image's variants where that is wanted
 * (`folderContents`: one more listing per image).
 */

const HEX2 = /^[0-9a-f]{2}$/;
const SHA256 = /^[0-9a-f]{64}$/;
const SHARDS = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** An entry where the layout has none: a stray file or folder, never something a record names. */
export interface Stray {
  stray: string;
  isDir: boolean;
}

export interface OriginalShard {
  /** The first four hex digits of the sha256 of everything that belongs here. */
  prefix: string;
  dir: string;
  /** Names of the files in it (empty when the folder does not exist). */
  names: string[];
}

export interface ProcessedFolder {
  dir: string;
  imageId: string;
  /** Whether the folder is where the layout puts this id (`xy/zw` from sha1 of the id). */
  placed: boolean;
}

/** Whether a recorded original's absence from local disk is expected: evicted to the bucket. */
export const keptInBucket = (o: Pick<RecordedOriginal, 'local' | 'synced'>) => o.local === 0 && o.synced;

async function entries(dir: string): Promise<fs.Dirent[]> {
  try {
    return await fs.promises.readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
    throw err;
  }
}

/** The two-hex-digit subfolders of `dir`; anything else in it is yielded as a stray. */
async function* shardLevel(dir: string): AsyncGenerator<Stray | { shard: string }> {
  const found = new Set<string>();
  for (const entry of await entries(dir)) {
    if (entry.isDirectory() && HEX2.test(entry.name)) found.add(entry.name);
    else yield { stray: path.join(dir, entry.name), isDir: entry.isDirectory() };
  }
  for (const shard of SHARDS) if (found.has(shard)) yield { shard };
}

/**
 * Every shard of `originals/`, all 65,536 of them in order (a missing folder is a shard with no
 * files, whose records are then missing), and every stray entry on the way.
 */
export async function* originalShards(originalsDir: string, signal?: AbortSignal): AsyncGenerator<OriginalShard | Stray> {
  const present = new Set<string>();
  for await (const top of shardLevel(originalsDir)) {
    if ('stray' in top) yield top;
    else present.add(top.shard);
  }
  for (const ab of SHARDS) {
    const inner = new Set<string>();
    if (present.has(ab)) {
      for await (const sub of shardLevel(path.join(originalsDir, ab))) {
        if ('stray' in sub) yield sub;
        else inner.add(sub.shard);
      }
    }
    for (const cd of SHARDS) {
      signal?.throwIfAborted();
      const dir = path.join(originalsDir, ab, cd);
      const names: string[] = [];
      if (inner.has(cd)) {
        for (const entry of await entries(dir)) {
          if (entry.isFile()) names.push(entry.name);
          else yield { stray: path.join(dir, entry.name), isDir: entry.isDirectory() };
        }
      }
      yield { prefix: ab + cd, dir, names };
    }
    // Shards without a folder take no I/O: let requests in between the 256 queries of each group.
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Whether `name` is a sha256 that belongs in the shard `prefix`. */
export const belongsInShard = (name: string, prefix: string) => SHA256.test(name) && name.startsWith(prefix);

/** Where the layout puts an image's processed folder: `xy/zw` from the sha1 of its id. */
export function processedShard(imageId: string): [string, string] {
  const shard = crypto.createHash('sha1').update(imageId).digest('hex');
  return [shard.slice(0, 2), shard.slice(2, 4)];
}

/** Every image folder under `processed/` (not listed: see folderContents), and every stray entry on the way. */
export async function* processedFolders(processedDir: string, signal?: AbortSignal): AsyncGenerator<ProcessedFolder | Stray> {
  for await (const top of shardLevel(processedDir)) {
    if ('stray' in top) {
      yield top;
      continue;
    }
    for await (const sub of shardLevel(path.join(processedDir, top.shard))) {
      if ('stray' in sub) {
        yield sub;
        continue;
      }
      const shardDir = path.join(processedDir, top.shard, sub.shard);
      for (const folder of await entries(shardDir)) {
        signal?.throwIfAborted();
        const dir = path.join(shardDir, folder.name);
        if (!folder.isDirectory()) {
          yield { stray: dir, isDir: false };
          continue;
        }
        const [xy, zw] = processedShard(folder.name);
        yield { dir, imageId: folder.name, placed: xy === top.shard && zw === sub.shard };
      }
    }
  }
}

/** The files in an image's processed folder, and anything else in it as strays. */
export async function folderContents(dir: string): Promise<{ names: string[]; strays: Stray[] }> {
  const names: string[] = [];
  const strays: Stray[] = [];
  for (const entry of await entries(dir)) {
    if (entry.isFile()) names.push(entry.name);
    else strays.push({ stray: path.join(dir, entry.name), isDir: entry.isDirectory() });
  }
  return { names, strays };
}

/**
 * The records the walk compares against (db/integrity.repo.ts), with each group of 256 shards'
 * originals read in one query.
 */
export function createRecordLookup(integrity: IntegrityRepo) {
  let cached: { top: string; shards: Map<string, Map<string, RecordedOriginal>> } | undefined;

  return {
    /**
     * The originals recorded in a shard, by sha256, as read with the first shard of its group
     * of 256: possibly older than the shard's listing. Whoever acts on a difference looks again
     * with `original()` before acting.
     */
    async originalsInShard(prefix: string): Promise<Map<string, RecordedOriginal>> {
      const top = prefix.slice(0, 2);
      if (cached?.top !== top) {
        const shards = new Map<string, Map<string, RecordedOriginal>>();
        // Upper bound: 'g' sorts after every hex digit.
        for (const o of await integrity.originalsBetween(top, `${top}g`)) {
          const shard = o.sha256.slice(0, 4);
          if (!shards.has(shard)) shards.set(shard, new Map());
          shards.get(shard)!.set(o.sha256, o);
        }
        cached = { top, shards };
      }
      return cached.shards.get(prefix) ?? new Map();
    },
    original: (sha256: string) => integrity.original(sha256),
    /** Up to `limit` ids of the images using an original, oldest first. */
    imagesUsing: (sha256: string, limit = 3) => integrity.imagesUsing(sha256, limit),
    imageExists: async (id: string) => (await integrity.imageStatus(id)) !== undefined,
    /** An image's status, undefined when there is no such image. */
    imageStatus: (id: string) => integrity.imageStatus(id),
    /** The file names an image's variant rows name, in any status. */
    filesNamedBy: async (imageId: string) => new Set((await integrity.pathsNamedBy(imageId)).map((p) => path.basename(p))),
    /** Variants marked done, in (image, name) order, `limit` after the given one. */
    doneVariantsAfter: (imageId: string, name: string, limit: number) => integrity.doneVariantsAfter(imageId, name, limit),
    doneVariant: (imageId: string, name: string) => integrity.doneVariant(imageId, name),
    originalsTotal: () => integrity.originalsTotal(),
  };
}

export type RecordLookup = ReturnType<typeof createRecordLookup>;

/**
 * A hasher of whole files through one reused buffer: memory stays at that buffer however large
 * or many the files, and no allocation per file (a read stream allocates its high-water mark
 * for every file, which for millions of small files is most of the work).
 */
export function createFileHasher(bufferBytes = 1024 * 1024) {
  const buffer = Buffer.allocUnsafe(bufferBytes);
  return async function sha256OfFile(file: string, signal?: AbortSignal): Promise<{ sha256: string; bytes: number }> {
    const hash = crypto.createHash('sha256');
    let bytes = 0;
    const handle = await fs.promises.open(file, 'r');
    try {
      for (;;) {
        signal?.throwIfAborted();
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
        if (bytesRead === 0) break;
        hash.update(buffer.subarray(0, bytesRead));
        bytes += bytesRead;
      }
    } finally {
      await handle.close();
    }
    return { sha256: hash.digest('hex'), bytes };
  };
}

export type FileHasher = ReturnType<typeof createFileHasher>;
