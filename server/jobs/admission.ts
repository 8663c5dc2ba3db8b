import { AppError } from '../errors.js';

/**
 * The one check that admits new work to the processing queue: uploads, reprocessing (and
 * renders, when they come) are all refused with 429 while `--max-queued-jobs` jobs wait, so no
 * way in can fill the queue past the limit and starve the others.
 */
export async function assertQueueHasRoom(jobs: { countQueued(): Promise<number> }, maxQueuedJobs: number): Promise<void> {
  if ((await jobs.countQueued()) >= maxQueuedJobs) {
    throw new AppError('too_many_requests', 'the processing queue is full; try again shortly', { 'Retry-After': '30' });
  }
}
