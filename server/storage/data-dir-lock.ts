import fs from 'node:fs';
import path from 'node:path';
import { createDurability } from './durability.js';

export const LOCK_FILE = 'darkroom.pid';

export interface DataDirLock {
  /**
   * A lock was left behind by a process that is gone: the previous run did not stop cleanly
   * (kill -9, a crash, a power cut), so files and rows may disagree (recovery/reconcile.ts).
   */
  previousRunCrashed: boolean;
  /**
   * Unlocks. `uncleanUntilReconciled`: leaves the file behind, so the next start reconciles as
   * after a crash (this run stopped before it finished doing so).
   */
  release(options?: { uncleanUntilReconciled?: boolean }): void;
}

/**
 * One process per data dir: two servers would both run the same jobs, and a repair must not
 * move files under a running server. The lock is a file holding the owner's pid; a lock whose
 * process is gone is taken over at once, so a crash never blocks the restart, and says so
 * (`previousRunCrashed`): a clean stop removes the file. Written here rather than with a lock
 * library because those detect staleness by age, which would make every restart after a crash
 * wait.
 *
 * With `fsync`, the file and its directory entry are flushed: a power cut soon after start
 * must still leave the lock behind, or the next start would not know to reconcile.
 */
export function acquireDataDirLock(dataDir: string, options: { fsync?: boolean } = {}): DataDirLock {
  const file = path.join(dataDir, LOCK_FILE);
  const ours = String(process.pid);
  let previousRunCrashed = false;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, ours, { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(fs.readFileSync(file, 'utf8').trim());
      if (owner && owner !== process.pid && isAlive(owner)) {
        throw new Error(`data dir ${dataDir} is in use by another Darkroom process (pid ${owner})`);
      }
      previousRunCrashed = true;
      fs.rmSync(file, { force: true });
    }
  }
  if (options.fsync ?? true) {
    // Best effort: a filesystem that cannot sync still gets its lock.
    try {
      const fd = fs.openSync(file, 'r+');
      try {
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      createDurability(true).syncDirSync(dataDir);
    } catch {
      // the lock holds all the same; only a power cut could forget it
    }
  }
  return {
    previousRunCrashed,
    release(releaseOptions = {}) {
      if (releaseOptions.uncleanUntilReconciled) return;
      try {
        if (fs.readFileSync(file, 'utf8').trim() === ours) fs.rmSync(file, { force: true });
      } catch {
        // already gone
      }
    },
  };
}

/** The pid of the live process holding the data dir's lock, if any. */
export function lockHolder(dataDir: string): number | undefined {
  try {
    const owner = Number(fs.readFileSync(path.join(dataDir, LOCK_FILE), 'utf8').trim());
    return owner && isAlive(owner) ? owner : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
