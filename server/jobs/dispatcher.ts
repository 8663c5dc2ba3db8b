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
  database: Pick<DatabasePort, 'repos' | 'unitOfWork'>;
  clock: Clock;
  maxAttempts: number;
}) {
  const { clock } = deps;
  return {
    async dispatch(): Promise<number> {
      let total = 0;
      for (;;) {
        // Nothing pending (most wake-ups: a status change writes no event): a plain read says
        // so without taking the write lock, which another process may hold (a CLI command).
        if (!(await deps.database.repos.jobs.pendingEvents(1)).length) return total;
        // Read inside the unit of work too: two dispatches never read the same pending events.
        const dispatched = await deps.database.unitOfWork(async ({ jobs }) => {
          const events = await jobs.pendingEvents(BATCH);
          const now = clock.now();
          for (const event of events) {
            const kinds = EVENT_JOBS[event.type] ?? [];
            // A reprocess names its generation: when a later one superseded it before this
            // event was dispatched (a restart in between), it starts nothing.
            const generation = kinds.length ? generationOf(event.payload) : null;
            if (event.image_id) for (const kind of kinds) await jobs.insertJob(kind, event.image_id, event.id, deps.maxAttempts, now, generation);
            await jobs.markDispatched(event.id, now);
          }
          return events.length;
        });
        total += dispatched;
        if (dispatched < BATCH) return total;
      }
    },
  };
}

function generationOf(payload: string): number | null {
  const { generation } = JSON.parse(payload) as { generation?: unknown };
  return typeof generation === 'number' ? generation : null;
}

export type Dispatcher = ReturnType<typeof createDispatcher>;
