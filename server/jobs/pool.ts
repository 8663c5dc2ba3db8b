import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { MetadataResult, MetadataTask, ProcessResult, ProcessTask } from '../../workers/types.js';

/**
 * The worker file is always the compiled one: worker threads run plain JavaScript. When this
 * module itself runs from TypeScript source (under the test runner), point at the build output.
 */
function workerFile(): string {
  const here = import.meta.url;
  const relative = here.endsWith('.ts') ? '../../dist/workers/image.worker.js' : '../../workers/image.worker.js';
  return fileURLToPath(new URL(relative, here));
}

export function createImagePool(options: { threads: number }) {
  const pool = new Piscina({
    filename: workerFile(),
    minThreads: options.threads,
    maxThreads: options.threads,
    // Jobs are handed out by the runner only when a thread is free, so the pool's own queue
    // stays empty; a bound still guards against a bug flooding it.
    maxQueue: options.threads * 4,
    idleTimeout: 60_000,
  });
  let destroyed = false;
  return {
    threads: options.threads,
    processImage: (task: ProcessTask, signal?: AbortSignal) =>
      pool.run(task, { name: 'processImage', signal }) as Promise<ProcessResult>,
    extractMetadata: (task: MetadataTask, signal?: AbortSignal) =>
      pool.run(task, { name: 'extractMetadata', signal }) as Promise<MetadataResult>,
    isAlive: () => !destroyed && pool.threads.length > 0,
    destroy: () => {
      destroyed = true;
      return pool.destroy();
    },
  };
}

export type ImagePool = ReturnType<typeof createImagePool>;
