import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import bytes from 'bytes-iec';
import type { DatabasePort } from '../db/port.js';
import { blobKeys, isBlobNotFound } from '../storage/blob-store.js';
import type { FsBlobStore as BlobStore } from '../storage/fs/fs-blob-store.js';
import type { S3Bucket } from '../storage/s3/bucket.js';
import { describeS3Error } from '../storage/s3/errors.js';
import { createS3BlobStore } from '../storage/s3/s3-blob-store.js';
import type { Clock } from '../util/clock.js';
import {
  createRecordLookup,
  keptInBucket,
  originalShards,
  folderContents,
  processedFolders,
  createFileHasher,
  type DoneVariant,
  type RecordLookup,
} from './data-dir-scan.js';

export type Problem =
  | { kind: 'orphan'; what: 'original' | 'processed' | 'temporary'; path: string; isDir: boolean }
  | { kind: 'unexpected'; path: string; isDir: boolean }
  | { kind: 'missing' | 'corrupt'; what: 'original'; sha256: string; detail: string }
  | { kind: 'missing' | 'corrupt'; what: 'processed'; imageId: string; variant: string; path: string; detail: string }
  | { kind: 'corrupt'; what: 'database'; detail: string };

export interface VerifyOptions {
  /** The database port: the records, their repair, and the engine's own check. */
  database: Pick<DatabasePort, 'repos' | 'unitOfWork' | 'checkIntegrity'>;
  store: BlobStore;
  clock: Clock;
  /** Remove orphans, restore originals from the bucket, queue images whose processed files are damaged. */
  repair: boolean;
  /**
   * A server is using the data dir now (only without `repair`, which holds the lock): its
   * temporary files are work in progress, and anything that looks wrong is looked at again a
   * moment later, so uploads, deletes and jobs in flight are not reported.
   */
  live: boolean;
  /** Where originals were synced (`--s3-bucket` …): the source of restores. */
  bucket?: S3Bucket;
  /** One line per problem and per repair, then the summary. */
  print: (line: string) => void;
  /** Progress now and then, for long runs. */
  progress?: (line: string) => void;
  signal?: AbortSignal;
}

export interface VerifyReport {
  originals: number;
  originalBytes: number;
  /** Originals kept only in the S3 bucket (evicted by the capacity tier): not read. */
  inBucket: number;
  processed: number;
  missing: number;
  corrupt: number;
  orphans: number;
  unexpected: number;
  repaired: number;
  notRepaired: number;
  /** The one-line summary (also printed). */
  summary: string;
}

/** Files hashed at once: reading one while hashing another keeps both the disk and a core busy. */
const HASH_CONCURRENCY = 2;
/** How long a server in flight gets before a suspect is looked at again (live runs). */
const RECHECK_AFTER_MS = 1_000;
/** Suspects held for a second look at most (live runs); then they are looked at and printed. */
const RECHECK_BATCH = 10_000;
const PROGRESS_EVERY_MS = 10_000;

/**
 * `darkroom verify`: every original re-hashed against its recorded sha256, every processed file
 * marked done against its recorded sha256 (its ETag), and both trees walked for files no record
 * names. Streaming throughout: one shard's listing and records, and HASH_CONCURRENCY read
 * buffers, are all it holds, so memory does not grow with the size of the data dir.
 */
export async function verifyDataDir(options: VerifyOptions): Promise<VerifyReport> {
  const { store, signal } = options;
  // One reading buffer per lane; a second look (rare) gets one of its own.
  const hashers = Array.from({ length: HASH_CONCURRENCY }, () => createFileHasher());
  const lookAgain = (file: string) => createFileHasher(64 * 1024)(file, signal).catch(() => undefined);
  const lookup = createRecordLookup(options.database.repos.integrity);
  const report: VerifyReport = {
    originals: 0,
    originalBytes: 0,
    inBucket: 0,
    processed: 0,
    missing: 0,
    corrupt: 0,
    orphans: 0,
    unexpected: 0,
    repaired: 0,
    notRepaired: 0,
    summary: '',
  };
  const relative = (p: string) => path.relative(store.root, p);
  const total = await lookup.originalsTotal();
  let lastProgress = performance.now();
  const progress = (phase: string) => {
    if (!options.progress || performance.now() - lastProgress < PROGRESS_EVERY_MS) return;
    lastProgress = performance.now();
    options.progress(
      `verify: ${phase}: ${report.originals} of ${total.originals} originals (${bytes.format(report.originalBytes)} of ${bytes.format(total.bytes)}), ${report.processed} processed files`,
    );
  };

  // Originals whose restore failed: their images' processed files cannot be made again either.
  const lostOriginals = new Set<string>();
  // Images already queued for processing again by this repair.
  const requeued = new Set<string>();

  // ---- what a problem looks like, and what a repair does about it

  const describe = (p: Problem): string => {
    switch (p.kind) {
      case 'orphan':
        return `orphan ${p.what} ${p.path}${p.isDir ? '/' : ''}`;
      case 'unexpected':
        return `unexpected ${p.path}${p.isDir ? '/' : ''} (not part of Darkroom's layout; left alone)`;
      default:
        if (p.what === 'database') return `corrupt database darkroom.db: ${p.detail}`;
        if (p.what === 'original') return `${p.kind} original ${relative(store.originalPath(p.sha256))} (${p.detail})`;
        return `${p.kind} processed ${p.path} (${p.detail})`;
    }
  };

  const count = (p: Problem) => {
    if (p.kind === 'orphan') report.orphans++;
    else if (p.kind === 'unexpected') report.unexpected++;
    else if (p.kind === 'missing') report.missing++;
    else report.corrupt++;
  };

  async function repair(p: Problem): Promise<void> {
    const done = (line: string) => {
      report.repaired++;
      options.print(`  repaired: ${line}`);
    };
    const notDone = (line: string) => {
      report.notRepaired++;
      options.print(`  not repaired: ${line}`);
    };
    switch (p.kind) {
      case 'orphan':
        fs.rmSync(path.join(store.root, p.path), { recursive: true, force: true });
        return done(`removed ${p.path}${p.isDir ? '/' : ''}`);
      case 'unexpected':
        return notDone(`${p.path} is not Darkroom's; move or remove it yourself`);
      default: {
        if (p.what === 'database') return notDone('restore darkroom.db from a backup');
        if (p.what === 'original') {
          const failure = await restoreOriginal(p.sha256);
          if (failure) {
            lostOriginals.add(p.sha256);
            return notDone(`original ${p.sha256}: ${failure}`);
          }
          return done(`restored original ${p.sha256} from ${options.bucket!.url}${blobKeys.original(p.sha256)}`);
        }
        const image = await options.database.repos.images.findById(p.imageId);
        if (!image) return done(`image ${p.imageId} is gone`);
        if (lostOriginals.has(image.sha256)) return notDone(`image ${p.imageId}: its original is missing too, so its variants cannot be made again`);
        if (p.kind === 'corrupt') fs.rmSync(path.join(store.root, p.path), { force: true });
        if (requeued.has(p.imageId)) return done(`image ${p.imageId} is queued for processing again`);
        requeued.add(p.imageId);
        await options.database.unitOfWork(async (repos) => {
          const now = options.clock.now();
          const generation = await repos.images.startGeneration(p.imageId, now);
          await repos.jobs.appendEvent('image.reprocess_requested', p.imageId, { generation }, now);
        });
        return done(`queued image ${p.imageId} for processing again; the server makes its variants at its next start`);
      }
    }
  }

  /** The bucket as the replica store the originals were copied to. */
  const replica = options.bucket ? createS3BlobStore(options.bucket, { stagingDir: store.dirs.tmp }) : undefined;

  /** Brings an original back from the replica store, verified; a reason when it cannot. */
  async function restoreOriginal(sha256: string): Promise<string | undefined> {
    if (!replica) return 'no S3 bucket to restore from (give the --s3-* options the server runs with)';
    const { url } = replica.bucket;
    fs.mkdirSync(store.dirs.tmp, { recursive: true });
    const tmp = store.stagingPath();
    try {
      let body;
      try {
        body = await (await replica.open(blobKeys.original(sha256))).stream(undefined, signal);
      } catch (err) {
        return isBlobNotFound(err) ? `not in ${url}` : `could not read it from ${url}: ${describeS3Error(err)}`;
      }
      const hash = crypto.createHash('sha256');
      try {
        await pipeline(
          body,
          new Transform({
            transform(chunk: Buffer, _enc, callback) {
              hash.update(chunk);
              callback(null, chunk);
            },
          }),
          fs.createWriteStream(tmp),
          { signal },
        );
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOSPC') return 'no room on the disk for it';
        return `could not read it from ${url}: ${describeS3Error(err)}`;
      }
      const digest = hash.digest('hex');
      if (digest !== sha256) return `the bucket's copy is damaged too (its sha256 is ${digest})`;
      await store.sealStaged(tmp);
      store.replaceOriginalSync(tmp, sha256);
      return undefined;
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }

  // ---- reporting: at once, or after a second look while a server is live

  let suspects: Array<{ problem: Problem; stillSo: () => Promise<boolean> | boolean }> = [];

  async function confirm(problem: Problem) {
    count(problem);
    options.print(describe(problem));
    if (options.repair) await repair(problem);
  }

  async function flushSuspects() {
    if (!suspects.length) return;
    const batch = suspects;
    suspects = [];
    await new Promise((resolve) => setTimeout(resolve, RECHECK_AFTER_MS));
    for (const s of batch) if (await s.stillSo()) await confirm(s.problem);
  }

  /** A problem as seen now; `stillSo` looks again (only while a server is live). */
  async function found(problem: Problem, stillSo: () => Promise<boolean> | boolean) {
    if (!options.live) return confirm(problem);
    suspects.push({ problem, stillSo });
    if (suspects.length >= RECHECK_BATCH) await flushSuspects();
  }

  // ---- the database itself

  const damage = await options.database.checkIntegrity();
  if (damage.length) await confirm({ kind: 'corrupt', what: 'database', detail: damage.slice(0, 3).join('; ') });

  // ---- originals, shard by shard

  for await (const shard of originalShards(store.dirs.originals, signal)) {
    if ('stray' in shard) {
      await found({ kind: 'unexpected', path: relative(shard.stray), isDir: shard.isDir }, () => fs.existsSync(shard.stray));
      continue;
    }
    const recorded = await lookup.originalsInShard(shard.prefix);
    const listed = new Set(shard.names);
    for (const name of shard.names) {
      if (recorded.has(name)) continue;
      const file = path.join(shard.dir, name);
      await found({ kind: 'orphan', what: 'original', path: relative(file), isDir: false }, async () => fs.existsSync(file) && !(await isRecordedHere(lookup, name, shard.prefix)));
    }
    const present: string[] = [];
    for (const [sha256, original] of recorded) {
      if (listed.has(sha256)) present.push(sha256);
      else if (keptInBucket(original)) report.inBucket++;
      else {
        const detail = `${await imagesText(lookup, sha256)}${original.synced ? '; a verified copy is in the S3 bucket' : ''}`;
        await found({ kind: 'missing', what: 'original', sha256, detail }, async () => {
          const now = await lookup.original(sha256);
          return now !== undefined && !keptInBucket(now) && !fs.existsSync(store.originalPath(sha256));
        });
      }
    }
    await eachLimited(present, HASH_CONCURRENCY, async (sha256, lane) => {
      const file = store.originalPath(sha256);
      const actual = await hashers[lane]!(file, signal).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined; // deleted since the listing
        throw err;
      });
      if (!actual) return;
      report.originals++;
      report.originalBytes += actual.bytes;
      if (actual.sha256 !== sha256) {
        const detail = `its bytes hash to ${actual.sha256}; ${await imagesText(lookup, sha256)}`;
        await found({ kind: 'corrupt', what: 'original', sha256, detail }, async () => {
          if (!(await lookup.original(sha256))) return false;
          const again = await lookAgain(file);
          return again !== undefined && again.sha256 !== sha256;
        });
      }
      progress('originals');
    });
  }

  // ---- processed files marked done, against their recorded sha256

  let after = { imageId: '', name: '' };
  for (;;) {
    signal?.throwIfAborted();
    const page = await lookup.doneVariantsAfter(after.imageId, after.name, 500);
    if (!page.length) break;
    after = { imageId: page.at(-1)!.image_id, name: page.at(-1)!.name };
    const now = options.clock.now();
    // Past its expiry, a file may be gone already: the purge removes the file before the row.
    const current = page.filter((v) => v.expires_at === null || v.expires_at > now);
    await eachLimited(current, HASH_CONCURRENCY, async (variant, lane) => {
      const file = processedFile(store, variant);
      const where = relative(file);
      const actual = await hashers[lane]!(file, signal).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined;
        throw err;
      });
      const stillSo = (kind: 'missing' | 'corrupt') => async () => {
        const row = await lookup.doneVariant(variant.image_id, variant.name);
        if (!row || row.etag !== variant.etag || (row.expires_at !== null && row.expires_at <= options.clock.now())) return false;
        const again = await lookAgain(file);
        return kind === 'missing' ? again === undefined : again !== undefined && again.sha256 !== row.etag;
      };
      const base = { what: 'processed' as const, imageId: variant.image_id, variant: variant.name, path: where };
      if (!actual) {
        await found({ ...base, kind: 'missing', detail: `image ${variant.image_id}, variant ${variant.name}` }, stillSo('missing'));
        return;
      }
      report.processed++;
      if (actual.sha256 !== variant.etag) {
        await found(
          { ...base, kind: 'corrupt', detail: `image ${variant.image_id}, variant ${variant.name}; its bytes hash to ${actual.sha256}` },
          stillSo('corrupt'),
        );
      }
      progress('processed files');
    });
  }

  // ---- processed folders and files no record names

  for await (const folder of processedFolders(store.dirs.processed, signal)) {
    if ('stray' in folder) {
      await found({ kind: 'unexpected', path: relative(folder.stray), isDir: folder.isDir }, () => fs.existsSync(folder.stray));
      continue;
    }
    if (!folder.placed || !(await lookup.imageExists(folder.imageId))) {
      await found(
        { kind: 'orphan', what: 'processed', path: relative(folder.dir), isDir: true },
        async () => fs.existsSync(folder.dir) && !(folder.placed && (await lookup.imageExists(folder.imageId))),
      );
      continue;
    }
    const contents = await folderContents(folder.dir);
    for (const stray of contents.strays) {
      await found({ kind: 'unexpected', path: relative(stray.stray), isDir: stray.isDir }, () => fs.existsSync(stray.stray));
    }
    const named = await lookup.filesNamedBy(folder.imageId);
    for (const name of contents.names) {
      if (named.has(name)) continue;
      const file = path.join(folder.dir, name);
      await found({ kind: 'orphan', what: 'processed', path: relative(file), isDir: false }, async () => fs.existsSync(file) && !(await lookup.filesNamedBy(folder.imageId)).has(name));
    }
  }

  // ---- temporary files: with no server running, whatever is left is from one that crashed

  if (!options.live) {
    for (const entry of fs.existsSync(store.dirs.tmp) ? fs.readdirSync(store.dirs.tmp, { withFileTypes: true }) : []) {
      await found({ kind: 'orphan', what: 'temporary', path: relative(path.join(store.dirs.tmp, entry.name)), isDir: entry.isDirectory() }, () => true);
    }
  }

  await flushSuspects();

  const checked = `${report.originals} originals (${bytes.format(report.originalBytes)})${report.inBucket ? `, ${report.inBucket} kept in the S3 bucket only (not read)` : ''} and ${report.processed} processed files`;
  const problems = report.missing + report.corrupt + report.orphans + report.unexpected;
  if (!problems) report.summary = `verify: checked ${checked}: nothing missing, corrupt or orphaned`;
  else {
    const parts = [`${report.missing} missing`, `${report.corrupt} corrupt`, `${report.orphans} orphaned`];
    if (report.unexpected) parts.push(`${report.unexpected} unexpected`);
    report.summary = `verify: checked ${checked}: ${parts.join(', ')}`;
    if (options.repair) report.summary += `; ${report.repaired} repaired, ${report.notRepaired} not repaired`;
  }
  options.print(report.summary);
  return report;
}

/** Where the layout keeps a processed file: its image's folder here, whatever the data dir was called when it was recorded. */
function processedFile(store: BlobStore, variant: DoneVariant): string {
  return path.join(store.processedDir(variant.image_id), path.basename(variant.path!));
}

async function isRecordedHere(lookup: RecordLookup, name: string, prefix: string): Promise<boolean> {
  return name.startsWith(prefix) && (await lookup.original(name)) !== undefined;
}

async function imagesText(lookup: RecordLookup, sha256: string): Promise<string> {
  const ids = await lookup.imagesUsing(sha256, 4);
  const shown = ids.slice(0, 3).join(', ');
  return `${ids.length === 1 ? 'image' : 'images'} ${shown}${ids.length > 3 ? ', …' : ''}`;
}

/** Runs `work` over `items`, at most `limit` at a time; each call is told its lane (0 … limit-1). */
async function eachLimited<T>(items: T[], limit: number, work: (item: T, lane: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async (_, lane) => {
    while (next < items.length) await work(items[next++]!, lane);
  });
  await Promise.all(lanes);
}
