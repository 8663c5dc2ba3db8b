import type { WatchFolder } from '../api/index.js';
import crypto from 'node:crypto';
import fs from 'node:fs';
import type { Logger } from 'pino';
import type { JobRow, JobsRepo } from '../db/jobs.repo.js';
import type { Repositories } from '../db/repositories.js';
import type { WatchRepo } from '../db/watch.repo.js';
import { JobError, type JobContext, type JobHandler, type QueueSetup } from '../jobs/runner.js';
import { AppError } from '../errors.js';
import { StillBeingWrittenError, type ImportService } from '../services/import.service.js';
import type { IngestPipeline } from '../services/ingest/pipeline.js';
import { LOCAL_CUSTOMER, type Principal } from '../services/keys.service.js';
import type { ReceivedFile } from '../services/receive.js';
import { DEFAULT_VARIANTS } from '../services/variants.js';
import { realPathOr } from '../storage/safe-path.js';
import { checkWatchFolder, watchPathProblem } from './folder-rules.js';
import type { OpenedLocalFile } from '../storage/local-file.js';
import { isoOrNull, type Clock } from '../util/clock.js';
import { DEFAULT_WATCH_TIMING, createFolderWatcher, type FolderWatcher, type WatchTiming } from './folder-watcher.js';

export interface WatchDeps {
  repo: WatchRepo;
  /** Each file found is a `watch_ingest` job: claimed, retried and kept across restarts by the job engine. */
  jobs: JobsRepo;
  /** New jobs were queued: wake the engine. */
  wake: () => void;
  /** The time limit of one file's ingest (--job-timeout). */
  jobTimeoutMs: number;
  importer: ImportService;
  ingest: IngestPipeline;
  clock: Clock;
  logger: Logger;
  dataDir: string;
  /** Folders from --watch: configuration, shown but not removable through the API. */
  flagFolders: string[];
  /**
   * False while the job queue is too full for more watch-folder work. A folder of 100 000
   * photos then waits its turn instead of filling the queue and refusing interactive uploads.
   */
  queueHasRoom: () => Promise<boolean>;
  timing?: Partial<WatchTiming>;
}

/** Watch-folder images belong to the bootstrap admin's customer (CONTRACT §6). */
export const WATCH_PRINCIPAL: Principal = { keyId: 'watch-folder', customer: LOCAL_CUSTOMER, role: 'admin' };

/** Errors that say "not now" rather than "never": the file is tried again later. */
const RETRY_LATER = new Set(['too_many_requests', 'insufficient_storage', 'unavailable']);
/** Attempts at a file that fails unexpectedly before it is recorded as refused (`internal_error`). */
const MAX_ATTEMPTS = 5;
/**
 * Files ingested at once: one file being read from a slow share does not hold up the next, and
 * more would only compete with interactive uploads for the disk.
 */
const CONCURRENCY = 2;
/** How often a full image queue is looked at again. */
const ROOM_POLL_MS = 500;

interface Folder {
  id: string;
  path: string;
  source: 'flag' | 'settings';
  poll: boolean;
  /** The folder after following symlinks: files must really be inside it. */
  realRoot: string;
  watcher: FolderWatcher;
  /** Settles once the watcher looked at the folder (exists? network filesystem?). */
  started: Promise<void>;
}

/** A folder as GET /v1/watch shows it (the API's schema). */
export type WatchFolderStatus = WatchFolder;

export const folderId = (folder: string) => crypto.createHash('sha256').update(folder).digest('hex').slice(0, 16);

/**
 * Watch folders (CONTRACT §6): files that appear in them (recursively, once their size stops
 * changing) are ingested as the local admin's customer, once each, also across restarts; the
 * originals stay where they are. Each file goes through the same checks as an upload. A ledger
 * in SQLite remembers what was taken, written in the same transaction as the image itself.
 */
export function createWatchService(deps: WatchDeps) {
  const { repo, importer, ingest, clock, logger, dataDir } = deps;
  const timing: WatchTiming = { ...DEFAULT_WATCH_TIMING, ...deps.timing };
  const folders = new Map<string, Folder>();
  /** Size and modification time when a file was last looked at, for files not yet known to be complete. */
  const observed = new Map<string, { size: number; mtimeMs: number; at: number }>();
  let closed = false;

  /** Queues the file's ingest, unless it already waits for its turn (lane: the file). */
  function enqueue(folder: Folder, file: string) {
    if (closed || !folders.has(folder.path)) return;
    deps.jobs.enqueue({ kind: 'watch_ingest', lane: file, payload: { folder: folder.path }, maxAttempts: MAX_ATTEMPTS }, clock.now()).then(
      (queued) => queued && deps.wake(),
      // The database is busy: the folder's next scan (at the latest, the next start) reports the file again.
      (err: unknown) => logger.warn({ err, file }, 'watch folder: could not queue a file; it is taken at the next scan'),
    );
  }

  /** Runs one `watch_ingest` job: the file named by its lane, found in the folder its payload names. */
  const handler: JobHandler = {
    async run(ctx) {
      const file = ctx.job.lane!;
      const folder = folders.get(folderOf(ctx.job));
      // No longer watched: what it took stays, the rest is not taken.
      if (!folder) return void (await ctx.complete(() => {}));
      await ingestFile(folder, file, ctx);
    },
    giveUp(job, error, repos) {
      logger.error({ err: error.message, file: job.lane }, 'watch folder: giving up on a file');
      return record(repos, folderOf(job), job.lane!, { outcome: 'rejected', error_code: 'internal_error' });
    },
  };

  type Outcome = { outcome: 'ingested'; image_id: string; sha256: string } | { outcome: 'rejected'; error_code: string; sha256?: string };
  /** Writes the file's ledger row with the repositories of the unit of work that ends its job. */
  function record(repos: Repositories, folder: string, file: string, outcome: Outcome, seen?: { size: number; mtimeMs: number }) {
    const stats = seen ?? statOrZero(file);
    return repos.watch.recordFile({
      path: file,
      folder,
      size: stats.size,
      mtime_ms: stats.mtimeMs,
      sha256: outcome.sha256 ?? null,
      outcome: outcome.outcome,
      image_id: outcome.outcome === 'ingested' ? outcome.image_id : null,
      error_code: outcome.outcome === 'rejected' ? outcome.error_code : null,
      seen_at: clock.now(),
    });
  }

  /** The file is recorded as refused in the transaction that ends its job. */
  async function refuse(ctx: JobContext, folder: Folder, file: string, err: AppError, seen?: { size: number; mtimeMs: number }, sha256?: string) {
    logger.info({ file, code: err.code, reason: err.message }, 'watch folder: file refused');
    await ctx.complete((repos) => record(repos, folder.path, file, { outcome: 'rejected', error_code: err.code, sha256 }, seen));
  }

  const nothingToDo = async (ctx: JobContext) => void (await ctx.complete(() => {}));

  /**
   * Takes one file: each way it can end completes the job (ingested, refused, nothing to do) or
   * throws: `JobError.later` for "not now" (still being written, the queue or the disk full),
   * which the engine tries again without counting it, anything else as a failed attempt.
   */
  async function ingestFile(folder: Folder, file: string, ctx: JobContext) {
    const stats = await fs.promises.stat(file).catch(() => undefined);
    if (!stats) {
      observed.delete(file);
      return nothingToDo(ctx); // gone again (a temp file renamed away, a deleted file)
    }
    if (stats.isDirectory()) return nothingToDo(ctx); // a symlink to a folder: symlinks are not followed into folders
    const known = await repo.findFile(file);
    // Unchanged since it was taken (or refused): a restart, or an event for a file already done.
    if (known && known.size === stats.size && known.mtime_ms === stats.mtimeMs) return nothingToDo(ctx);
    if (!isComplete(file, stats)) throw JobError.later(timing.stabilityMs, 'the file is still being written');
    observed.delete(file);

    let opened: OpenedLocalFile;
    try {
      opened = await importer.open(file, { boundary: folder.realRoot });
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      if (RETRY_LATER.has(err.code)) throw JobError.later(timing.retryMs, err.message);
      ingest.refused(WATCH_PRINCIPAL, err);
      return refuse(ctx, folder, file, err, stats);
    }
    const seen = { size: opened.size, mtimeMs: opened.mtimeMs };

    let received: ReceivedFile;
    // Stopped (shutdown, time limit): the copy is abandoned, its temp file removed; the job is
    // given back or retried and takes the file again.
    const abandon = () => void opened.handle.close().catch(() => {});
    ctx.signal.addEventListener('abort', abandon, { once: true });
    try {
      received = await importer.receive(opened);
    } catch (err) {
      await opened.handle.close().catch(() => {});
      // Written to again while it was read: its next change event (or this retry) takes it.
      if (err instanceof StillBeingWrittenError) throw JobError.later(timing.stabilityMs, 'the file changed while it was read');
      if (!(err instanceof AppError) || ctx.signal.aborted) throw err;
      ingest.refused(WATCH_PRINCIPAL, err);
      return refuse(ctx, folder, file, err, seen);
    } finally {
      ctx.signal.removeEventListener('abort', abandon);
    }

    // The same bytes this folder already took, under another name (renamed, moved, copied) or
    // the same file touched: remember the path, make no second image.
    const twin = await repo.findIngestedBySha256(folder.path, received.sha256);
    if (twin?.image_id) {
      await fs.promises.rm(received.tmpPath, { force: true });
      return void (await ctx.complete((repos) => record(repos, folder.path, file, { outcome: 'ingested', image_id: twin.image_id!, sha256: received.sha256 }, seen)));
    }

    try {
      // The image and its ledger row commit together (a crash can never leave one without the
      // other); the job is marked done after, and a run again after a crash in between finds
      // the ledger row and does nothing.
      await ingest.accept(WATCH_PRINCIPAL, [received], { source: 'watch', variants: DEFAULT_VARIANTS, retriedOn: RETRY_LATER }, {
        inTransaction: ([image], repos) => record(repos, folder.path, file, { outcome: 'ingested', image_id: image!.id, sha256: received.sha256 }, seen),
      });
      logger.info({ file }, 'watch folder: file ingested');
      await nothingToDo(ctx);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      if (RETRY_LATER.has(err.code)) throw JobError.later(timing.retryMs, err.message);
      // accept() counted the refusal already.
      return refuse(ctx, folder, file, err, seen, received.sha256);
    }
  }

  /**
   * chokidar waits for the size to settle only for files that appear while it watches; files
   * its first scan finds (a copy still running when Darkroom starts) arrive at once. So every
   * file must also look finished here: untouched for the stability window, judged from its
   * modification time, or, where that clock cannot be trusted (a share whose clock runs
   * ahead), from two looks a window apart that saw the same size and time.
   */
  function isComplete(file: string, stats: { size: number; mtimeMs: number }): boolean {
    const now = Date.now();
    const age = now - stats.mtimeMs;
    if (age >= timing.stabilityMs) return true;
    const before = observed.get(file);
    if (before && before.size === stats.size && before.mtimeMs === stats.mtimeMs) return now - before.at >= timing.stabilityMs;
    observed.set(file, { size: stats.size, mtimeMs: stats.mtimeMs, at: now });
    return false;
  }

  /**
   * Registers a folder and starts watching it without waiting: a share that hangs (an NFS
   * server gone away) must not hold up the server's start.
   */
  function startFolder(folderPath: string, source: Folder['source'], poll: boolean): Folder {
    const folder: Folder = {
      id: folderId(folderPath),
      path: folderPath,
      source,
      poll,
      realRoot: realPathOr(folderPath),
      watcher: undefined as unknown as FolderWatcher,
      started: Promise.resolve(),
    };
    folder.watcher = createFolderWatcher({
      root: folderPath,
      poll,
      dataDir,
      timing,
      logger,
      onFile: (file) => {
        // The real path may only be known once the folder exists (a share mounted late).
        folder.realRoot = realPathOr(folderPath);
        enqueue(folder, file);
      },
    });
    folders.set(folderPath, folder);
    folder.started = folder.watcher.start().catch((err: unknown) => logger.error({ err, folder: folderPath }, 'watch folder could not start'));
    return folder;
  }

  async function status(folder: Folder): Promise<WatchFolderStatus> {
    const counts = await repo.counts(folder.path);
    const pending = await repo.pendingFiles(folder.path);
    const watcher = folder.watcher.status();
    return {
      id: folder.id,
      path: folder.path,
      source: folder.source,
      poll: folder.poll,
      mode: watcher.mode,
      pollingReason: watcher.pollingReason,
      state: watcher.state,
      error: watcher.error,
      counts: { ingested: counts.ingested, rejected: counts.rejected, pending },
      lastIngestedAt: isoOrNull(counts.lastIngestedAt),
    };
  }

  /** The rules for a folder added in settings (watch/folder-rules.ts); every refusal is a 400. */
  function checkNewFolder(requested: string): string {
    const checked = checkWatchFolder(requested, dataDir);
    if ('problem' in checked) throw new AppError('invalid_request', `${JSON.stringify(requested)} ${checked.problem}`);
    return checked.folder;
  }

  return {
    /** The `watch` queue of the job engine: its handler and how it runs. */
    jobs: {
      handlers: { watch_ingest: handler },
      queue: {
        concurrency: CONCURRENCY,
        timeoutMs: deps.jobTimeoutMs,
        // Waits while the image queue is more than half full (WatchDeps.queueHasRoom).
        hasRoom: deps.queueHasRoom,
        pollMs: ROOM_POLL_MS,
        maxBackoffMs: 60_000,
        lanes: true,
      } satisfies QueueSetup,
    },

    /** Starts the folders of --watch and of settings; resolves once settings were read (the watchers start on their own). */
    async start() {
      for (const folder of deps.flagFolders) {
        // The path itself was checked with the options; where it leads may only be known now.
        const problem = watchPathProblem(realPathOr(folder), realPathOr(dataDir));
        if (problem) {
          logger.error({ folder, problem }, 'watch folder ignored');
          continue;
        }
        if (!folders.has(folder)) startFolder(folder, 'flag', false);
      }
      for (const row of await repo.listFolders()) if (!folders.has(row.path)) startFolder(row.path, 'settings', row.poll === 1);
    },

    list: (): Promise<WatchFolderStatus[]> => Promise.all([...folders.values()].map(status)),

    async get(id: string): Promise<WatchFolderStatus> {
      const folder = [...folders.values()].find((f) => f.id === id);
      if (!folder) throw new AppError('not_found', `no watch folder ${id}`);
      return status(folder);
    },

    /** Adds a folder from settings (persisted); adding one already watched changes nothing. */
    async add(requested: string, poll = false): Promise<{ created: boolean; folder: WatchFolderStatus }> {
      const folderPath = checkNewFolder(requested);
      const existing = folders.get(folderPath);
      if (existing) return { created: false, folder: await status(existing) };
      await repo.addFolder(folderPath, poll, clock.now());
      const folder = startFolder(folderPath, 'settings', poll);
      await folder.started;
      return { created: true, folder: await status(folder) };
    },

    /** Stops watching a folder added in settings. What it ingested stays, and is not taken again if re-added. */
    async remove(id: string) {
      const folder = [...folders.values()].find((f) => f.id === id);
      if (!folder) throw new AppError('not_found', `no watch folder ${id}`);
      if (folder.source === 'flag') throw new AppError('invalid_request', 'this folder is watched because of --watch; remove the option instead');
      folders.delete(folder.path);
      await repo.removeFolder(folder.path);
      await repo.dropQueuedFiles(folder.path);
      await folder.watcher.stop();
    },

    /** Stops watching. A file being copied is the job engine's to stop: it gives the job back for the next start. */
    async close() {
      closed = true;
      await Promise.all([...folders.values()].map((f) => f.watcher.stop()));
    },
  };
}

export type WatchService = ReturnType<typeof createWatchService>;

const folderOf = (job: JobRow) => (JSON.parse(job.payload) as { folder: string }).folder;

function statOrZero(file: string): { size: number; mtimeMs: number } {
  const stats = fs.statSync(file, { throwIfNoEntry: false });
  return { size: stats?.size ?? 0, mtimeMs: stats?.mtimeMs ?? 0 };
}
