import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { createDurability } from './fs/durability.js';

/** The lock itself: a small SQLite file this process holds an exclusive lock on. */
export const LOCK_FILE = 'darkroom.lock';
/**
 * The unclean-stop marker: written (with the owner's pid, for messages) and flushed once the lock
 * is held, removed by a clean stop. Found at start, it says the previous run did not stop
 * cleanly. Older versions used this file as the lock itself, so their crashes are recognised too.
 */
export const UNCLEAN_STOP_MARKER = 'darkroom.pid';

/**
 * How long taking the lock waits for another process's brief hold: `darkroom verify` looks
 * whether a server runs by reading the lock file, which holds it for a moment.
 */
const ACQUIRE_WAIT_MS = 250;

/**
 * The connections holding locks, kept reachable here until released: a connection that is
 * garbage-collected is closed, and would let its lock go while its owner still counts on it.
 */
const heldLocks = new Set<Database.Database>();
/** For a synchronous pause between tries (start-up, where nothing else waits on this thread). */
const PAUSE = new Int32Array(new SharedArrayBuffer(4));

export interface DataDirLock {
  /**
   * The previous run did not stop cleanly (kill -9, a crash, a power cut): it left its marker
   * behind, so files and rows may disagree (recovery/reconcile.ts).
   */
  previousRunCrashed: boolean;
  /**
   * Unlocks. `uncleanUntilReconciled`: leaves the marker behind, so the next start reconciles as
   * after a crash (this run stopped before it finished doing so).
   */
  release(options?: { uncleanUntilReconciled?: boolean }): void;
}

/**
 * One process per data dir: two servers would both run the same jobs, and a repair must not
 * move files under a running server.
 *
 * The lock is one the kernel lets go of when its process ends, however it ends: SQLite's
 * exclusive lock on `darkroom.lock` (`locking_mode = EXCLUSIVE`: POSIX advisory locks on Linux
 * and macOS, LockFileEx on Windows), held from here until `release`. Taking it is one atomic
 * step in the kernel, so of two processes starting at once exactly one gets it, and a crash never
 * leaves a lock for the next start to judge: no pid to check for liveness (pids are reused), no
 * age to wait out. better-sqlite3 is already the database driver, so this needs no native module
 * of its own on any platform.
 *
 * Whether the previous run stopped cleanly is a separate question, answered by the marker file
 * (UNCLEAN_STOP_MARKER). It is flushed to disk at every start, also with `--fsync false` (one
 * flush per start): a power cut soon after must still leave it behind, or the next start would
 * not know to reconcile.
 *
 * Older versions locked with the marker alone (their pid in it): a marker in that form naming a
 * live process is a server of such a version running, and is refused like a held lock.
 *
 * One rule comes with POSIX locks: closing any descriptor of the lock file releases every lock
 * this process holds on it. Nothing but this module opens `darkroom.lock`; SQLite keeps its own
 * descriptors to it open for as long as the lock is held.
 */
export function acquireDataDirLock(dataDir: string, options: { waitMs?: number } = {}): DataDirLock {
  const lockFile = path.join(dataDir, LOCK_FILE);
  const marker = path.join(dataDir, UNCLEAN_STOP_MARKER);
  const db = new Database(lockFile, { timeout: 0 });
  const giveUpAt = performance.now() + (options.waitMs ?? ACQUIRE_WAIT_MS);
  for (;;) {
    try {
      // BEGIN EXCLUSIVE takes the lock without writing anything; exclusive locking mode then
      // keeps it past the commit, until the connection closes. The mode is switched on only once
      // the lock is ours: in it, a BEGIN that lost the race would keep the shared lock it took on
      // the way, and the winner would wait for it in vain.
      db.exec('BEGIN EXCLUSIVE');
      db.pragma('locking_mode = EXCLUSIVE');
      db.exec('COMMIT');
      break;
    } catch (err) {
      const busy = (err as { code?: string }).code === 'SQLITE_BUSY';
      if (busy && performance.now() < giveUpAt) {
        // Tried again rather than left to SQLite's busy handler, which gives up at once where
        // waiting could deadlock (two processes starting together); by the time this one gives
        // up, the winner has written its pid for the message. The pause is random so that two
        // processes that collided do not collide again in step, each backing off the other.
        Atomics.wait(PAUSE, 0, 0, 2 + Math.random() * 8);
        continue;
      }
      db.close();
      if (busy) throw inUse(dataDir, readMarker(marker)?.pid);
      throw err;
    }
  }
  const legacyOwner = liveLegacyOwner(readMarker(marker));
  if (legacyOwner) {
    db.close();
    throw inUse(dataDir, legacyOwner);
  }
  heldLocks.add(db);
  const previousRunCrashed = fs.existsSync(marker);
  writeMarker(marker, dataDir);

  let released = false;
  return {
    previousRunCrashed,
    release(releaseOptions = {}) {
      if (released) return;
      released = true;
      // The marker goes first: once the lock is free, the next owner's marker is not ours to remove.
      try {
        if (!releaseOptions.uncleanUntilReconciled) fs.rmSync(marker, { force: true });
      } finally {
        db.close();
        heldLocks.delete(db);
      }
    },
  };
}

/**
 * The live process using the data dir, if any: whether the lock is held (looked at by reading the
 * lock file, which fails while another process holds it), and the pid its marker names.
 */
export function lockHolder(dataDir: string): { pid: number | undefined } | undefined {
  const lockFile = path.join(dataDir, LOCK_FILE);
  const found = readMarker(path.join(dataDir, UNCLEAN_STOP_MARKER));
  if (fs.existsSync(lockFile) && isHeldElsewhere(lockFile)) return { pid: found?.pid };
  const legacyOwner = liveLegacyOwner(found);
  return legacyOwner ? { pid: legacyOwner } : undefined;
}

/**
 * Whether another connection holds the lock: reading the file needs a shared lock, which the
 * holder's exclusive one refuses. Anything else that fails (no access) says nothing either way,
 * and is taken as not held: the caller only looks more carefully when it is.
 */
function isHeldElsewhere(lockFile: string): boolean {
  let db: Database.Database | undefined;
  try {
    db = new Database(lockFile, { fileMustExist: true, timeout: 0 });
    db.prepare('SELECT count(*) FROM sqlite_master').get();
    return false;
  } catch (err) {
    return (err as { code?: string }).code === 'SQLITE_BUSY';
  } finally {
    db?.close();
  }
}

function inUse(dataDir: string, pid: number | undefined): Error {
  return new Error(`data dir ${dataDir} is in use by another Darkroom process${pid ? ` (pid ${pid})` : ''}`);
}

/**
 * The marker: our pid, then a line saying the pid is for messages only. A marker of an older
 * version is the pid alone, and was its lock: a live process it names is a server of that version,
 * which holds no kernel lock, and is not to be run beside. (Its pid may also have been reused
 * since a crash; the older version refused then too, and once this version has started the marker
 * is rewritten in this form.)
 */
function writeMarker(marker: string, dataDir: string) {
  // Written beside and renamed over: whoever reads it (a start refused, verify) sees a whole pid.
  const next = `${marker}.new`;
  fs.writeFileSync(next, `${process.pid}\n${MARKER_NOTE}\n`);
  try {
    const fd = fs.openSync(next, 'r+');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // A filesystem that cannot flush still gets its marker; only a power cut could lose it.
  }
  fs.renameSync(next, marker);
  try {
    createDurability(true).syncDirSync(dataDir);
  } catch {
    // as above
  }
}

const MARKER_NOTE = `unclean-stop marker; the lock is ${LOCK_FILE}`;

function readMarker(marker: string): { pid: number | undefined; legacy: boolean } | undefined {
  let text: string;
  try {
    text = fs.readFileSync(marker, 'utf8');
  } catch {
    return undefined;
  }
  const [first = '', ...rest] = text.trim().split('\n');
  const pid = Number(first.trim());
  return { pid: Number.isSafeInteger(pid) && pid > 0 ? pid : undefined, legacy: rest.length === 0 };
}

function liveLegacyOwner(found: ReturnType<typeof readMarker>): number | undefined {
  const pid = found?.legacy ? found.pid : undefined;
  return pid && pid !== process.pid && isAlive(pid) ? pid : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
