import { randomUUID } from 'node:crypto';
import { MemoryLocker, type Lock, type Locker, type RequestRelease } from '@tus/server';
import { AppError } from '../../errors.js';
import type { Clock } from '../../util/clock.js';

/** The database's side of the leases (db/upload-locks.repo.ts, composed by main.ts). */
export interface UploadLeaseStore {
  take(uploadId: string, token: string, until: number, now: number): Promise<boolean>;
  renew(uploadId: string, token: string, until: number): Promise<boolean>;
  release(uploadId: string, token: string): Promise<void>;
}

/** A lease runs out this long after its last renewal: a node that died holding one blocks its upload no longer. */
const LEASE_MS = 30_000;
const RENEW_MS = 10_000;
/** A waiter gives up after a whole lease (and a little): by then a dead holder's lease was taken over. */
const WAIT_MS = LEASE_MS + 5_000;
const POLL_MS = 100;

export interface HeldLease {
  release(): Promise<void>;
}

/**
 * The lock of one resumable upload across every node sharing the database: a lease row per
 * upload (take, renew while held, release), so that two nodes never append to one upload at
 * once nor ingest it twice — a client that retries a part on another node behind a load
 * balancer, or asks (HEAD) on one node while another finishes it. Waiting is polling: holds
 * last one request, and a NOTIFY channel for this would be more moving parts than it saves.
 */
export function createUploadLeases(store: UploadLeaseStore, clock: Clock) {
  /** Waits for the upload's lease and holds it (renewed) until released; 503 after WAIT_MS. */
  async function hold(uploadId: string, signal?: AbortSignal): Promise<HeldLease> {
    const token = randomUUID();
    const deadline = clock.now() + WAIT_MS;
    for (;;) {
      const now = clock.now();
      if (await store.take(uploadId, token, now + LEASE_MS, now)) break;
      if (signal?.aborted || now > deadline) {
        throw new AppError('unavailable', 'another request is writing to this upload; try again shortly', { 'Retry-After': '5' });
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    const timer = setInterval(() => {
      store.renew(uploadId, token, clock.now() + LEASE_MS).catch(() => undefined);
    }, RENEW_MS);
    timer.unref();
    return {
      async release() {
        clearInterval(timer);
        // A release that fails (the database just went away) must not turn a request that
        // succeeded into an error: the lease lapses on its own within LEASE_MS.
        await store.release(uploadId, token).catch(() => undefined);
      },
    };
  }

  /**
   * tus's locker: first the in-process lock (@tus/server's own MemoryLocker, which also asks an
   * older request of this process holding it to let go), then the lease, across nodes.
   */
  function locker(): Locker {
    const local = new MemoryLocker();
    return {
      newLock(id: string): Lock {
        const inProcess = local.newLock(id);
        let held: HeldLease | undefined;
        return {
          async lock(signal: AbortSignal, requestRelease: RequestRelease) {
            await inProcess.lock(signal, requestRelease);
            try {
              held = await hold(id, signal);
            } catch (err) {
              await inProcess.unlock();
              throw err;
            }
          },
          async unlock() {
            try {
              await held?.release();
            } finally {
              held = undefined;
              await inProcess.unlock();
            }
          },
        };
      },
    };
  }

  return { hold, locker };
}

export type UploadLeases = ReturnType<typeof createUploadLeases>;
