import { Piscina } from 'piscina';
import { compiledWorkerPath } from '../util/worker-path.js';
import type { MetadataResult, MetadataTask, ProcessResult, ProcessTask } from '../../workers/types.js';

export function createImagePool(options: { threads: number }) {
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
  let destroyed = false;
  return {
    threads: options.threads,
    processImage: (task: ProcessTask, signal?: AbortSignal) =>
      pool.run(task, { name: 'processImage', signal }) as Promise<ProcessResult>,
    extractMetadata: (task: MetadataTask, signal?: AbortSignal) =>
      pool.run(task, { name: 'extractMetadata', signal }) as Promise<MetadataResult>,
    isAlive: () => !destroyed,
    destroy: () => {
      destroyed = true;
      return pool.destroy();
    },
  };
}

export type ImagePool = ReturnType<typeof createImagePool>;
