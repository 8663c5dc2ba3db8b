/**
 * Piscina entry point. Each export is a task the pool can run by name; each takes and returns
 * plain data. No database, no config: workers are pure (input path, options) → files, numbers.
 */
import sharp from 'sharp';
import { configureDecoders } from './decoders.js';
import { lowerThreadPriority } from './priority.js';

// Parallelism comes from the pool (one image per thread); libvips' own threads would only
// compete with the other workers for the same cores.
sharp.concurrency(1);
// No loader that can reach other files, no operation cache (workers/decoders.ts).
configureDecoders();
lowerThreadPriority();

export { processImage } from './pipeline.js';
export { extractMetadata } from './metadata.js';
