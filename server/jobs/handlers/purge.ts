import type { Logger } from 'pino';
import type { RetentionService } from '../../services/retention.service.js';
import type { JobHandler } from '../runner.js';

/** The retention purge as a job (queued by jobs/scheduler.ts): expired processed files leave. */
export function createPurgeHandler(deps: {
  retention: RetentionService;
  logger: Logger;
  onPurged: (n: number) => void;
  /** Other history that ages out on the same schedule (webhook deliveries); resolves to how much left. */
  alsoPrune?: () => Promise<number>;
}): JobHandler {
  return {
    async run(ctx) {
      // Each file is removed and marked in its own step (services/retention.service.ts): a purge
      // stopped half-way leaves nothing half done, and the next one takes the rest.
      const removed = await deps.retention.purge();
      const pruned = (await deps.alsoPrune?.()) ?? 0;
      await ctx.complete(() => {});
      if (pruned) deps.logger.info({ pruned }, 'forgot webhook deliveries past their history');
      deps.onPurged(removed);
      if (removed) deps.logger.info({ removed }, 'purged expired processed files');
    },
    giveUp(_job, error) {
      deps.logger.error({ err: error.message }, 'purge failed; the next scheduled one tries again');
    },
  };
}
