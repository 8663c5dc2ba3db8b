import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { compiledWorkerPath } from '../../workers/worker-path.js';
import { createBufferPool } from './buffer-pool.js';

/**
 * Writes uploads to disk and hashes them on a thread of their own (workers/file-writer.worker.ts).
 *
 * Why not fs.createWriteStream + crypto on the main thread: SHA-256 of a multi-gigabyte body
 * costs the main thread about as much as receiving it, which held uploads to ~0.6× the speed of
 * a bare pipe-to-file server; and a write stream keeps every 64 KB socket chunk alive until it
 * is written, so the garbage collector has to copy them. Here the main thread only copies
 * chunks into a few reused 1 MiB buffers and transfers full ones to the thread, which hashes
 * and writes them and hands them back. Memory per upload: BUFFERS_PER_FILE × BUFFER_BYTES.
 */
const BUFFER_BYTES = 1024 * 1024;
const BUFFERS_PER_FILE = 4;

type Reply =
  | { type: 'opened'; id: number }
  | { type: 'buffer'; id: number; buffer: ArrayBuffer }
  | { type: 'finished'; id: number; sha256: string }
  | { type: 'aborted'; id: number }
  | { type: 'error'; id: number; code: string; message: string };

interface Pending {
  onReply(reply: Reply): void;
  onThreadLost(err: Error): void;
}

let thread: Worker | undefined;
let nextId = 1;
const pending = new Map<number, Pending>();

/**
 * One thread for the whole process, started with the first upload. It keeps the process alive
 * only while a file is open (see track/untrack), as a write stream would.
 */
function writerThread(): Worker {
  if (thread) return thread;
  const worker = new Worker(compiledWorkerPath('workers/file-writer.worker.js'), {
    // It holds no data of its own (buffers are transferred in and out): a minimal heap.
    resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 16 },
  });
  worker.on('message', (reply: Reply) => pending.get(reply.id)?.onReply(reply));
  const lost = (err: Error) => {
    if (thread === worker) thread = undefined;
    for (const p of [...pending.values()]) p.onThreadLost(err);
  };
  worker.on('error', lost);
  worker.on('exit', (code) => lost(new Error(`upload writer thread exited (${code})`)));
  // After the listeners: adding a 'message' listener refs the worker's port again (Node 20).
  worker.unref();
  thread = worker;
  return worker;
}

/** Registers an open file; the first one refs the thread, so a pending finish() is awaited. */
function track(worker: Worker, id: number, entry: Pending) {
  if (pending.size === 0) worker.ref();
  pending.set(id, entry);
}

/** Forgets a file; with none left open, the thread no longer keeps the process alive. */
function untrack(worker: Worker, id: number) {
  if (pending.delete(id) && pending.size === 0) worker.unref();
}

export class FileWriteError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

export interface HashedFileWriter {
  /** Takes a chunk (copied: the caller may reuse it); resolves when more may be written. */
  write(chunk: Uint8Array): Promise<void>;
  /** Flushes, closes and returns the sha256 of everything written. */
  finish(): Promise<string>;
  /** Closes and removes the file. */
  abort(): Promise<void>;
}

/** Creates (or truncates) `path` and returns a writer for it. */
export async function openHashedFile(path: string): Promise<HashedFileWriter> {
  const worker = writerThread();
  const id = nextId++;
  // BUFFERS_PER_FILE slots: a buffer is taken to fill, handed to the thread, and released when
  // it comes back; with every slot out, write() waits (backpressure).
  const buffers = createBufferPool({ slots: BUFFERS_PER_FILE, slabSize: BUFFER_BYTES });
  const failed = new AbortController();
  let current: Buffer | undefined;
  let filled = 0;
  let settle: { resolve(value: unknown): void; reject(err: Error): void } | undefined;

  const wait = <T>() =>
    new Promise<T>((resolve, reject) => {
      settle = { resolve: resolve as (v: unknown) => void, reject };
    });
  const fail = (err: Error) => {
    if (!failed.signal.aborted) failed.abort(err);
    settle?.reject(failed.signal.reason as Error);
    settle = undefined;
  };

  track(worker, id, {
    onReply(reply) {
      switch (reply.type) {
        case 'buffer':
          buffers.release(Buffer.from(reply.buffer));
          return;
        case 'error':
          fail(new FileWriteError(reply.message, reply.code));
          return;
        case 'opened':
        case 'aborted':
          settle?.resolve(undefined);
          settle = undefined;
          return;
        case 'finished':
          settle?.resolve(reply.sha256);
          settle = undefined;
      }
    },
    onThreadLost: fail,
  });

  const send = () => {
    const buffer = current!;
    current = undefined;
    const length = filled;
    filled = 0;
    worker.postMessage({ type: 'data', id, buffer: buffer.buffer, length }, [buffer.buffer as ArrayBuffer]);
  };

  const opened = wait<void>();
  worker.postMessage({ type: 'open', id, path });
  try {
    await opened;
  } catch (err) {
    untrack(worker, id);
    throw err;
  }

  return {
    async write(chunk) {
      let offset = 0;
      while (offset < chunk.length) {
        failed.signal.throwIfAborted();
        current ??= await buffers.acquire(BUFFER_BYTES, failed.signal);
        const n = Math.min(chunk.length - offset, BUFFER_BYTES - filled);
        current.set(chunk.subarray(offset, offset + n), filled);
        filled += n;
        offset += n;
        if (filled === BUFFER_BYTES) send();
      }
    },

    async finish() {
      failed.signal.throwIfAborted();
      if (current && filled) send();
      const done = wait<string>();
      worker.postMessage({ type: 'finish', id });
      try {
        return await done;
      } finally {
        untrack(worker, id);
      }
    },

    async abort() {
      if (thread === worker) {
        const done = wait<void>();
        worker.postMessage({ type: 'abort', id });
        await done.catch(() => {}); // the thread failed meanwhile: nothing more to close there
      }
      untrack(worker, id);
      await fs.promises.rm(path, { force: true });
    },
  };
}
