import { Piscina } from 'piscina';
import { compiledWorkerPath } from '../../workers/worker-path.js';
import type { MetadataResult, MetadataTask, ProcessResult, ProcessTask } from '../../workers/types.js';

/**
 * How long a task may take to stop after its job was aborted before its thread is terminated.
 * A task stops itself at its next step (workers/stopper.ts); terminating the thread instead
 * would leave sharp's work running on libuv's threads, so it is only the last resort for a
 * task that never reaches a next step (a decoder stuck in a loop).
 */
export const TERMINATE_AFTER_MS = 60_000;

export function createImagePool(options: { threads: number; terminateAfterMs?: number }) {
  const pool = new Piscina({
    filename: compiledWorkerPath('workers/image.worker.js'),
    // Threads start with the first job and end after half a minute without one: an idle
    // server (or desktop app) does not hold ~25 MB per thread, and a busy one keeps them.
    minThreads: 0,
    maxThreads: options.threads,
    idleTimeout: 30_000,
    // Workers hold pixels in Buffers, outside the JS heap; a small young generation is plenty.
    resourceLimits: { maxYoungGenerationSizeMb: 4 },
    // Jobs are handed out by the runner only when a thread is free, so the pool's own queue
    // stays empty; a bound still guards against a bug flooding it.
    maxQueue: options.threads * 4,
  });
  const terminateAfterMs = options.terminateAfterMs ?? TERMINATE_AFTER_MS;
  let destroyed = false;

  /**
   * Runs a task that stops when `signal` aborts: the task sees the shared cancel flag at its
   * next step and returns (`cancelled`); the promise settles when the thread is really free.
   */
  function run<T>(name: string, task: Omit<ProcessTask | MetadataTask, 'cancel'>, signal?: AbortSignal): Promise<T> {
    const cancel = new Int32Array(new SharedArrayBuffer(4));
    const terminate = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      Atomics.store(cancel, 0, 1);
      timer = setTimeout(() => terminate.abort(signal?.reason), terminateAfterMs);
      timer.unref();
    };
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    return (pool.run({ ...task, cancel }, { name, signal: terminate.signal }) as Promise<T>).finally(() => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    });
  }

  return {
    threads: options.threads,
    processImage: (task: Omit<ProcessTask, 'cancel'>, signal?: AbortSignal) => run<ProcessResult>('processImage', task, signal),
    extractMetadata: (task: Omit<MetadataTask, 'cancel'>, signal?: AbortSignal) => run<MetadataResult>('extractMetadata', task, signal),
    isAlive: () => !destroyed,
    destroy: () => {
      destroyed = true;
      return pool.destroy();
    },
  };
}

export type ImagePool = ReturnType<typeof createImagePool>;
