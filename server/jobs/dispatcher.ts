import type { JobsRepo } from '../db/jobs.repo.js';
import type { DatabasePort } from '../db/port.js';
import type { Clock } from '../util/clock.js';
import { EVENT_JOBS } from './kinds.js';

const BATCH = 200;

/**
 * Turns outbox events into jobs. Each batch is one unit of work; an event is marked dispatched
 * in the same transaction that creates its jobs, and job creation is idempotent per
 * (event, kind), so a crash at any point neither loses nor doubles work.
 */
export function createDispatcher(deps: {
  jobs: JobsRepo;
  database: Pick<DatabasePort, 'unitOfWork'>;
  clock: Clock;
  maxAttempts: number;
}) {
  const { jobs, clock } = deps;
  return {
    async dispatch(): Promise<number> {
      let total = 0;
      for (;;) {
        const events = jobs.pendingEvents(BATCH);
        if (!events.length) return total;
        await deps.database.unitOfWork(async () => {
          const now = clock.now();
          for (const event of events) {
            const kinds = EVENT_JOBS[event.type] ?? [];
            // A reprocess names its generation: when a later one superseded it before this
            // event was dispatched (a restart in between), it starts nothing.
            const generation = kinds.length ? generationOf(event.payload) : null;
            if (event.image_id) for (const kind of kinds) jobs.insertJob(kind, event.image_id, event.id, deps.maxAttempts, now, generation);
            jobs.markDispatched(event.id, now);
          }
        });
        total += events.length;
      }
    },
  };
}

function generationOf(payload: string): number | null {
  const { generation } = JSON.parse(payload) as { generation?: unknown };
  return typeof generation === 'number' ? generation : null;
}

export type Dispatcher = ReturnType<typeof createDispatcher>;
