import fs from 'node:fs';
import path from 'node:path';
import chokidar, { type FSWatcher } from 'chokidar';
import type { Logger } from 'pino';
import { isInside } from '../storage/safe-path.js';
import { OUT_OF_WATCHERS, isIgnoredInWatchFolder, pollingReason } from './rules.js';

export interface WatchTiming {
  /** A file is taken once its size has not changed for this long (write-finish detection). */
  stabilityMs: number;
  /** How often a polled folder is scanned. */
  pollIntervalMs: number;
  /** How soon a folder that is missing or failed is tried again (a share not mounted yet). */
  retryMs: number;
}

export const DEFAULT_WATCH_TIMING: WatchTiming = { stabilityMs: 2_000, pollIntervalMs: 3_000, retryMs: 15_000 };

export type WatcherState = 'starting' | 'watching' | 'unavailable' | 'stopped';

export interface FolderWatcherOptions {
  root: string;
  /** Poll even where OS events would work (asked for in settings). */
  poll: boolean;
  /** Never looked into, even when it lies inside the watch folder. */
  dataDir: string;
  timing: WatchTiming;
  logger: Logger;
  /** A file appeared or changed, and its size stopped changing. */
  onFile: (file: string) => void;
}

/**
 * Watches one folder, recursively, with chokidar: OS events where they work, polling on
 * network and user-space filesystems (and whenever the OS runs out of event watchers). Reports
 * files once their writing has finished; hidden and temp files never. Symlinks are not
 * followed: a watch folder is what is inside it. A folder that is missing or fails is tried
 * again later rather than given up.
 */
export function createFolderWatcher(options: FolderWatcherOptions) {
  const { root, dataDir, timing, logger } = options;
  let watcher: FSWatcher | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let state: WatcherState = 'starting';
  let error: string | null = null;
  let mode: 'events' | 'polling' = 'events';
  let reason: string | null = null;
  let forcedPolling: string | undefined;
  let stopped = false;

  const ignored = (file: string) => {
    if (isInside(dataDir, file)) return true;
    const relative = path.relative(root, file);
    if (relative.startsWith('..') || path.isAbsolute(relative)) return false;
    return isIgnoredInWatchFolder(relative);
  };

  function unavailable(message: string) {
    state = 'unavailable';
    error = message;
    void closeWatcher();
    if (stopped) return;
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => void start(), timing.retryMs);
    retryTimer.unref();
  }

  async function closeWatcher() {
    const current = watcher;
    watcher = undefined;
    await current?.close().catch(() => {});
  }

  async function start(): Promise<void> {
    if (stopped) return;
    state = 'starting';
    const stats = await fs.promises.stat(root).catch((err: NodeJS.ErrnoException) => err);
    if (stats instanceof Error) return unavailable(stats.code === 'ENOENT' ? 'the folder does not exist' : `the folder cannot be read (${stats.code})`);
    if (!stats.isDirectory()) return unavailable('not a folder');
    const fsType = await fs.promises.statfs(root).then((s) => s.type, () => undefined);
    reason = forcedPolling ?? (options.poll ? 'asked for in settings' : pollingReason(root, process.platform, fsType)) ?? null;
    mode = reason ? 'polling' : 'events';
    error = null;
    if (stopped) return;

    const current = chokidar.watch(root, {
      persistent: true,
      ignoreInitial: false,
      followSymlinks: false,
      ignorePermissionErrors: true,
      ignored,
      usePolling: mode === 'polling',
      interval: timing.pollIntervalMs,
      binaryInterval: timing.pollIntervalMs,
      awaitWriteFinish: { stabilityThreshold: timing.stabilityMs, pollInterval: Math.max(20, Math.min(250, timing.stabilityMs / 4)) },
    });
    watcher = current;
    current.on('add', (file) => options.onFile(file));
    current.on('change', (file) => options.onFile(file));
    current.on('ready', () => {
      if (watcher === current) state = 'watching';
    });
    current.on('unlinkDir', (dir) => {
      if (path.resolve(dir) === path.resolve(root)) unavailable('the folder went away');
    });
    current.on('error', (err) => {
      if (watcher !== current) return;
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (mode === 'events' && OUT_OF_WATCHERS.has(code)) {
        logger.warn({ folder: root, code }, 'out of file watchers; polling this folder instead');
        forcedPolling = 'the system ran out of file watchers';
        void closeWatcher().then(start);
        return;
      }
      logger.warn({ folder: root, err }, 'watch folder failed; trying again later');
      unavailable((err as Error).message);
    });
  }

  return {
    root,
    start,
    status: () => ({ state, error, mode, pollingReason: reason }),
    async stop() {
      stopped = true;
      state = 'stopped';
      clearTimeout(retryTimer);
      await closeWatcher();
    },
  };
}

export type FolderWatcher = ReturnType<typeof createFolderWatcher>;
