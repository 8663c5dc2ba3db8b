import type { JobsRepo } from '../db/jobs.repo.js';
import type { Clock } from '../util/clock.js';
import { EVENT_JOBS } from './kinds.js';

const BATCH = 200;

/**
 * Turns outbox events into jobs. Each batch is one transaction; an event is marked dispatched
 * in the same transaction that creates its jobs, and job creation is idempotent per
 * (event, kind), so a crash at any point neither loses nor doubles work.
 */
export function createDispatcher(deps: {
  jobs: JobsRepo;
  transaction: <T>(fn: () => T) => T;
  clock: Clock;
  maxAttempts: number;
}) {
  const { jobs, clock } = deps;
  return {
    dispatch(): number {
      let total = 0;
      for (;;) {
        const events = jobs.pendingEvents(BATCH);
        if (!events.length) return total;
        deps.transaction(() => {
          const now = clock.now();
          for (const event of events) {
            const kinds = EVENT_JOBS[event.type] ?? [];
            if (event.image_id) for (const kind of kinds) jobs.insertJob(kind, event.image_id, event.id, deps.maxAttempts, now);
            jobs.markDispatched(event.id, now);
          }
        });
        total += events.length;
      }
    },
  };
}

export type Dispatcher = ReturnType<typeof createDispatcher>;
