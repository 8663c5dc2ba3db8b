import type { ImageStatusEvent, Lifecycle } from '../services/lifecycle.js';

export interface QueueProgress {
  /** Images still queued or processing. */
  pending: number;
  /** Of the current batch: finished, failed, and all images (finished + failed + pending). */
  processed: number;
  failed: number;
  total: number;
}

export interface QueueProgressDeps {
  countUnfinished: () => Promise<number>;
  lifecycle: Pick<Lifecycle, 'events'>;
  onChange: (progress: QueueProgress) => void;
  /** The queue ran empty after a batch: what it did. */
  onBatchFinished: (batch: { processed: number; failed: number }) => void;
  intervalMs?: number;
}

/**
 * Follows the processing queue for the desktop shell's badge and notification. A batch starts
 * when work appears in an idle queue and finishes when the queue is empty again; images
 * finished meanwhile are counted from the lifecycle's status events.
 */
export function createQueueProgress(deps: QueueProgressDeps) {
  let batch: { processed: number; failed: number } | undefined;
  let last = '';

  let scheduled = false;
  /** Status changes come in bursts: look at the queue once per burst, soon after it. */
  const scheduleTick = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      void tick();
    });
  };

  const onStatus = (event: ImageStatusEvent) => {
    if (event.status === 'done' || event.status === 'failed') {
      batch ??= { processed: 0, failed: 0 };
      if (event.status === 'done') batch.processed++;
      else batch.failed++;
    }
    scheduleTick();
  };

  // One look at a time: a look started while another awaits the count runs again after it, so
  // two looks never both finish the same batch.
  let looking: Promise<void> | undefined;
  let lookAgain = false;
  function tick(): Promise<void> {
    if (looking) {
      lookAgain = true;
      return looking;
    }
    looking = (async () => {
      do {
        lookAgain = false;
        await look();
      } while (lookAgain);
    })().finally(() => {
      looking = undefined;
    });
    return looking;
  }

  async function look() {
    let pending: number;
    try {
      pending = await deps.countUnfinished();
    } catch {
      return; // the database is busy: looked at again at the next interval
    }
    if (pending > 0) batch ??= { processed: 0, failed: 0 };
    const current: QueueProgress = {
      pending,
      processed: batch?.processed ?? 0,
      failed: batch?.failed ?? 0,
      total: (batch?.processed ?? 0) + (batch?.failed ?? 0) + pending,
    };
    const key = JSON.stringify(current);
    if (key !== last) {
      last = key;
      deps.onChange(current);
    }
    if (pending === 0 && batch) {
      const finished = batch;
      batch = undefined;
      deps.onBatchFinished(finished);
      last = '';
      lookAgain = true;
    }
  }

  deps.lifecycle.events.on('status', onStatus);
  const timer = setInterval(() => void tick(), deps.intervalMs ?? 500);
  timer.unref();
  void tick();

  return {
    tick,
    stop() {
      clearInterval(timer);
      deps.lifecycle.events.off('status', onStatus);
    },
  };
}
