import fs from 'node:fs';
import path from 'node:path';
import { isMainThread } from 'node:worker_threads';

/**
 * Darkroom holds other people's images: its data folder is for the account running it only
 * (CONTRACT §14: folders 0700, files 0600).
 *
 * The umask does most of it: every file the process creates from then on (SQLite's database,
 * WAL and shared-memory files, uploads, tus records, what libvips writes for sharp, the lock
 * file) gets 0600 and every folder 0700, whichever library creates it. Setting modes at each
 * call site would miss the files libraries create themselves.
 */
const PRIVATE_UMASK = 0o077;

/** Entries of a data folder made by an older version with the default 0755/0644, fixed at start. */
const KNOWN_ENTRIES = ['darkroom.db', 'darkroom.db-wal', 'darkroom.db-shm', 'darkroom.pid', 'originals', 'processed', 'tmp', 'uploads'];

export function usePrivateFileModes(): void {
  // Worker threads may not change the umask; they share the main thread's.
  if (isMainThread) process.umask(PRIVATE_UMASK);
}

/**
 * Creates the data folder 0700, or makes an existing one so (and the entries Darkroom itself
 * keeps at its top). Returns what could not be changed (a folder owned by another account), so
 * the caller can say so; the deeper files of an older install are unreachable once their
 * top folder is 0700.
 */
export function ensurePrivateDataDir(dataDir: string): string[] {
  usePrivateFileModes();
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const failed: string[] = [];
  const restrict = (target: string, mode: number) => {
    try {
      const stats = fs.statSync(target, { throwIfNoEntry: false });
      if (stats && (stats.mode & 0o777) !== mode) fs.chmodSync(target, mode);
    } catch {
      failed.push(target);
    }
  };
  restrict(dataDir, 0o700);
  for (const name of KNOWN_ENTRIES) {
    const target = path.join(dataDir, name);
    const isDir = fs.statSync(target, { throwIfNoEntry: false })?.isDirectory();
    restrict(target, isDir ? 0o700 : 0o600);
  }
  return failed;
}
