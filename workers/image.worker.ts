/**
 * Piscina entry point. Each export is a task the pool can run by name; each takes and returns
 * plain data. No database, no config: workers are pure (input path, options) → files, numbers.
 */
import sharp from 'sharp';
import { lowerThreadPriority } from './priority.js';

// Parallelism comes from the pool (one image per thread); libvips' own threads would only
// compete with the other workers for the same cores.
sharp.concurrency(1);
// The libvips operation cache helps repeated operations on the same image, which a batch
// processor never does; it only holds memory.
sharp.cache(false);
lowerThreadPriority();

export { processImage } from './pipeline.js';
export { extractMetadata } from './metadata.js';
