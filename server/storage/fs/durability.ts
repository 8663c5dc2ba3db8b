import fs from 'node:fs';
import path from 'node:path';

/**
 * What makes a file survive a power cut, in the order it has to happen before the database
 * commit that names it: the file's bytes (fsync of the file), then its name (fsync of the
 * directory that got the entry, and of the parent of every directory created on the way). A
 * rename alone is atomic against a crash of the process but not against one of the machine:
 * until its directory is synced, the kernel may forget the entry, or keep it and forget the
 * bytes (ext4 with delayed allocation leaves a zero-length file).
 *
 * With `enabled: false` (`--fsync false`) every method does nothing: the kernel writes back in
 * its own time (within about 30 s on Linux), which a process crash never loses but a power cut
 * can.
 */
export interface Durability {
  readonly enabled: boolean;
  /**
   * Flushes a file's bytes to stable storage. Asynchronous, on libuv's pool: flushing a
   * multi-gigabyte upload takes seconds, which must not stall the main thread, nor the upload
   * writer's thread that every other upload in progress shares. At most
   * MAX_CONCURRENT_FILE_FLUSHES run at once, process-wide; the others wait their turn.
   */
  syncFile(file: string): Promise<void>;
  /**
   * Flushes a directory's entries. Synchronous: it runs in the stretch that moves files into
   * place and commits their rows (see fs-blob-store.ts), where nothing may interleave; a
   * directory holds a few dozen entries, so this is one journal commit, not a data flush.
   */
  syncDirSync(dir: string): void;
  /** `mkdir -p`, with the entry of every directory it creates made durable in its parent. */
  mkdirSync(dir: string): void;
}

/**
 * File flushes running at once, in the whole process. libuv's pool has 4 threads, shared by every
 * `fs.promises` call (download opens, tus writes, `statfs` for the disk check), sharp's work on
 * the main thread, and the pipelines the image workers run: a flush of a large upload holds its
 * thread for seconds, and four of them held up an unrelated `stat` for 628 ms. One at a time
 * leaves the other three to everyone else; uploads finishing together then wait for each
 * other's flush, which on one disk mostly queue in the kernel anyway (measurements in
 * docs/security.md, "Durability and recovery").
 */
const MAX_CONCURRENT_FILE_FLUSHES = 1;
const flushSlots = createSlots(MAX_CONCURRENT_FILE_FLUSHES);

/**
 * Windows cannot open a directory as a file, and NTFS journals its directory changes itself;
 * there the directory step is skipped (file flushes still happen).
 */
const DIRECTORY_SYNC_SUPPORTED = process.platform !== 'win32';

export function createDurability(enabled: boolean): Durability {
  if (!enabled) {
    return {
      enabled,
      syncFile: async () => {},
      syncDirSync: () => {},
      mkdirSync: (dir) => void fs.mkdirSync(dir, { recursive: true }),
    };
  }

  const syncDirSync = (dir: string) => {
    if (!DIRECTORY_SYNC_SUPPORTED) return;
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  };

  return {
    enabled,
    syncFile: (file) =>
      flushSlots.run(
        () =>
          // The callback API rather than FileHandle.sync(): the same libuv pool, and it goes
          // through the `fs` module object, where a test can observe it.
          new Promise<void>((resolve, reject) => {
            // r+: Windows flushes only handles opened for writing.
            fs.open(file, 'r+', (openErr, fd) => {
              if (openErr) return reject(openErr);
              fs.fsync(fd, (syncErr) => {
                fs.close(fd, (closeErr) => {
                  const err = syncErr ?? closeErr;
                  if (err) reject(err);
                  else resolve();
                });
              });
            });
          }),
      ),
    syncDirSync,
    mkdirSync(dir) {
      const first = fs.mkdirSync(dir, { recursive: true });
      if (first === undefined) return;
      // Every directory from `first` down to `dir` is new: each one's entry is in its parent.
      const created: string[] = [];
      for (let d = path.resolve(dir); ; d = path.dirname(d)) {
        created.push(d);
        if (d === path.resolve(first) || d === path.dirname(d)) break;
      }
      for (const d of created.reverse()) syncDirSync(path.dirname(d));
    },
  };
}

/**
 * A counting semaphore: `run` starts `task` when fewer than `limit` run, else when one ends, in
 * the order they came. Written here because it is a dozen lines and the project has no
 * dependency that provides one.
 */
export function createSlots(limit: number) {
  let running = 0;
  const waiting: Array<() => void> = [];
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else running--;
  };
  return {
    async run<T>(task: () => Promise<T>): Promise<T> {
      if (running < limit) running++;
      else await new Promise<void>((resolve) => waiting.push(resolve));
      try {
        return await task();
      } finally {
        release();
      }
    },
    /** Tasks started and not finished; for tests. */
    get running() {
      return running;
    },
    get waiting() {
      return waiting.length;
    },
  };
}
