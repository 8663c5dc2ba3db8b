import cron from 'node-cron';
import type { Logger } from 'pino';
import type { DatabasePort } from '../db/port.js';
import type { Clock } from '../util/clock.js';

/** How long a taken slot is remembered: far longer than any two nodes' clocks may disagree. */
const SLOT_MEMORY_MS = 24 * 3600_000;

/**
 * Queues the retention purge (a `purge` job) on `--purge-schedule` (UTC), once per scheduled
 * time across every node sharing the database: each node's node-cron fires, but only the first
 * to take the slot (the time the schedule fired for, the same on every node whose clock is
 * right to the second) queues the job, in the unit of work that takes it. One purge waits at a
 * time (its lane): a slot that fires while one is still queued adds nothing, and the engine
 * runs one at a time, so two never overlap.
 *
 * node-cron's own `distributed` option was not used: its coordinator decides apart from the
 * database, so a node could take a slot and die before queuing anything; here both commit
 * together or not at all.
 */
export function schedulePurge(deps: {
  expression: string;
  database: Pick<DatabasePort, 'unitOfWork'>;
  clock: Clock;
  maxAttempts: number;
  logger: Logger;
  wake: () => void;
}) {
  /** The schedule fired for `slot` (epoch ms) on this node: queues the purge if no node has for this slot. Resolves to whether it did. */
  const fire = async (slot: number): Promise<boolean> => {
    try {
      const queued = await deps.database.unitOfWork(async (repos) => {
        if (!(await repos.schedules.takeSlot('purge', slot))) return false;
        await repos.schedules.forgetBefore('purge', slot - SLOT_MEMORY_MS);
        return repos.jobs.enqueue({ kind: 'purge', lane: 'purge', maxAttempts: deps.maxAttempts }, deps.clock.now());
      });
      if (queued) deps.wake();
      return queued;
    } catch (err) {
      // The database is busy: the next tick of the schedule queues it.
      deps.logger.warn({ err }, 'could not queue the purge; the next scheduled time will');
      return false;
    }
  };
  // `date` is the time the schedule fired for (whole seconds), not when the timer ran: a node
  // whose event loop was busy for a moment still names the same slot as the others.
  const task = cron.schedule(deps.expression, (context) => fire(context.date.getTime()), { name: 'purge', timezone: 'UTC', noOverlap: true });
  return { stop: () => task.destroy(), fire };
}
