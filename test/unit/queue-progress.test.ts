/**
 * The desktop's queue progress: batches start when work appears and finish when the queue is
 * empty again, counted from the lifecycle's status events, with the count read asynchronously.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { createQueueProgress, type QueueProgress } from '../../server/desktop/queue-progress.js';
import type { Lifecycle } from '../../server/services/lifecycle.js';

function setup(unfinished: () => Promise<number>) {
  const events = new EventEmitter();
  const changes: QueueProgress[] = [];
  const batches: Array<{ processed: number; failed: number }> = [];
  const progress = createQueueProgress({
    countUnfinished: unfinished,
    lifecycle: { events } as unknown as Pick<Lifecycle, 'events'>,
    onChange: (p) => changes.push(p),
    onBatchFinished: (b) => batches.push(b),
    intervalMs: 60_000,
  });
  return { events, changes, batches, progress };
}

describe('queue progress', () => {
  it('reports a batch as it runs and once when it finishes', async () => {
    let pending = 2;
    const { events, changes, batches, progress } = setup(async () => pending);
    await progress.tick();
    expect(changes.at(-1)).toEqual({ pending: 2, processed: 0, failed: 0, total: 2 });
    pending = 1;
    events.emit('status', { status: 'done' });
    await progress.tick();
    expect(changes.at(-1)).toEqual({ pending: 1, processed: 1, failed: 0, total: 2 });
    pending = 0;
    events.emit('status', { status: 'failed' });
    // Two looks asked for at once (the interval and a burst of events): the batch finishes once.
    await Promise.all([progress.tick(), progress.tick()]);
    expect(batches).toEqual([{ processed: 1, failed: 1 }]);
    expect(changes.at(-1)).toEqual({ pending: 0, processed: 0, failed: 0, total: 0 });
    progress.stop();
  });

  it('skips a look when the database is busy and reports at the next one', async () => {
    let busy = true;
    const { changes, progress } = setup(async () => {
      if (busy) throw new Error('SQLITE_BUSY');
      return 3;
    });
    await progress.tick();
    expect(changes).toEqual([]);
    busy = false;
    await progress.tick();
    expect(changes.at(-1)).toEqual({ pending: 3, processed: 0, failed: 0, total: 3 });
    progress.stop();
  });
});
