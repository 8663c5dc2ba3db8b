import cron from 'node-cron';
import type { Logger } from 'pino';
import type { JobsRepo } from '../db/jobs.repo.js';
import type { Clock } from '../util/clock.js';

/**
 * Queues the retention purge (a `purge` job) on `--purge-schedule` (UTC). One purge waits at a
 * time (its lane): a schedule that fires while one is still queued adds nothing, and the engine
 * runs one at a time, so two never overlap.
 */
export function schedulePurge(deps: { expression: string; jobs: JobsRepo; clock: Clock; maxAttempts: number; logger: Logger; wake: () => void }) {
  const task = cron.schedule(
    deps.expression,
    async () => {
      try {
        if (await deps.jobs.enqueue({ kind: 'purge', lane: 'purge', maxAttempts: deps.maxAttempts }, deps.clock.now())) deps.wake();
      } catch (err) {
        // The database is busy: the next tick of the schedule queues it.
        deps.logger.warn({ err }, 'could not queue the purge; the next scheduled time will');
      }
    },
    { name: 'purge', timezone: 'UTC', noOverlap: true },
  );
  return { stop: () => task.destroy() };
}
