import cron from 'node-cron';
import type { Logger } from 'pino';

/** Runs the retention purge on `--purge-schedule` (UTC), never two at once. */
export function schedulePurge(expression: string, purge: () => number, logger: Logger, onPurged: (n: number) => void) {
  const task = cron.schedule(
    expression,
    () => {
      try {
        const removed = purge();
        onPurged(removed);
        if (removed) logger.info({ removed }, 'purged expired processed files');
      } catch (err) {
        logger.error({ err }, 'purge failed');
      }
    },
    { name: 'purge', timezone: 'UTC', noOverlap: true },
  );
  return { stop: () => task.destroy() };
}
