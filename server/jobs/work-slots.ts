import { AppError } from '../errors.js';

export interface WorkSlotsOptions {
  /** The worker pool's threads: image jobs and renders together never run more at once. */
  threads: number;
  /** Image jobs the job runner runs now on this node. */
  jobsRunning: () => number;
  /** Jobs waiting in the queue (all nodes), for --max-queued-jobs. */
  jobsQueued: () => Promise<number>;
  /** Whether an image job is due now and waits for a slot. */
  jobsDue: () => Promise<boolean>;
  /** Wakes the job runner: a slot it may take is free. */
  kickRunner: () => void;
  /** --max-queued-jobs: renders waiting here and jobs queued count together. */
  maxQueuedJobs: number;
  /** --render-wait: a render waiting longer for a slot is answered 503. */
  waitMs: number;
  onError?: (err: unknown) => void;
}

interface Waiter {
  customer: string;
  grant: (release: () => void) => void;
  refuse: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** How long a slot left free for the job runner stays its own before waiting renders may take it. */
const RUNNER_RESERVATION_MS = 50;

/**
 * The worker pool's threads, shared between the job runner's image jobs and renders: the slot
 * a render takes is one image job fewer, so neither oversubscribes the pool (its own queue
 * stays empty) and a render never waits behind a backlog of uploads in piscina's FIFO.
 *
 * A render is admitted directly (no job row, no claim query, no poll): a free slot is taken at
 * once, in the request. When every slot is busy it waits here, in a queue per customer, and the
 * waiting customers are served round-robin as slots free, so one customer's burst of renders
 * does not hold up another's. Renders go before queued image jobs (a person waits on a render),
 * but never all of them: while image jobs are due, the runner keeps at least one slot (when it
 * has none and one frees, that one is its own for a moment), so uploads keep being processed
 * under any render load. Bounds: a render asked while `--max-queued-jobs` renders and jobs already
 * wait is refused (429), and one that waited `--render-wait` is answered 503; both
 * with Retry-After. A render refused or given up leaves nothing behind. docs/architecture.md,
 * "Renders", says why renders are not jobs.
 */
export function createWorkSlots(options: WorkSlotsOptions) {
  let rendersRunning = 0;
  /** Waiting renders, per customer, in order; the map's order is the round-robin's. */
  const waiting = new Map<string, Waiter[]>();
  let waitingCount = 0;
  /** The runner found no slot: the next one freed may be kept for it. */
  let runnerBlocked = false;
  let reservedUntil = 0;
  let pumping = false;

  const free = () => options.threads - options.jobsRunning() - rendersRunning;

  function release() {
    rendersRunning--;
    pump();
    if (runnerBlocked) options.kickRunner();
  }

  function grantNext(): boolean {
    const [customer, queue] = waiting.entries().next().value ?? [];
    if (!customer || !queue) return false;
    const waiter = queue.shift()!;
    waiting.delete(customer);
    // Round-robin: a customer with more waiting goes to the back of the line.
    if (queue.length) waiting.set(customer, queue);
    waitingCount--;
    clearTimeout(waiter.timer);
    rendersRunning++;
    let released = false;
    waiter.grant(() => {
      if (released) return;
      released = true;
      release();
    });
    return true;
  }

  /** Gives free slots to waiting renders, keeping one for the runner where it needs it. */
  function pump() {
    if (pumping) return;
    pumping = true;
    void (async () => {
      try {
        while (waitingCount > 0 && free() > 0) {
          if (Date.now() < reservedUntil && free() <= 1) break;
          if (runnerBlocked && options.jobsRunning() === 0 && free() === 1) {
            runnerBlocked = false;
            let due = false;
            try {
              due = await options.jobsDue();
            } catch (err) {
              options.onError?.(err);
            }
            if (due) {
              reservedUntil = Date.now() + RUNNER_RESERVATION_MS;
              options.kickRunner();
              setTimeout(pump, RUNNER_RESERVATION_MS + 1).unref();
              break;
            }
            continue;
          }
          if (!grantNext()) break;
        }
      } finally {
        pumping = false;
      }
    })();
  }

  return {
    /**
     * A slot for one render of `customer`'s: at once when one is free, else after waiting its
     * turn. Resolves to its release (call it once the render is done, whatever happened).
     */
    async acquire(customer: string): Promise<() => void> {
      // Like an upload (CONTRACT §14): refused while the queue is full, whether a slot is free
      // this instant or not. Renders waiting here count as queued work.
      if (waitingCount + (await options.jobsQueued()) >= options.maxQueuedJobs) {
        throw new AppError('too_many_requests', 'the processing queue is full; try again shortly', { 'Retry-After': '30' });
      }
      if (waitingCount === 0 && free() > 0 && !(Date.now() < reservedUntil && free() <= 1)) {
        rendersRunning++;
        let released = false;
        return () => {
          if (released) return;
          released = true;
          release();
        };
      }
      return await new Promise<() => void>((grant, refuse) => {
        const waiter: Waiter = {
          customer,
          grant,
          refuse,
          timer: setTimeout(() => {
            const queue = waiting.get(customer);
            const at = queue?.indexOf(waiter) ?? -1;
            if (at < 0) return;
            queue!.splice(at, 1);
            if (!queue!.length) waiting.delete(customer);
            waitingCount--;
            const seconds = Math.max(1, Math.ceil(options.waitMs / 1000));
            refuse(new AppError('unavailable', `the render waited ${seconds} s for a worker (--render-wait) and was given up; try again shortly`, { 'Retry-After': String(seconds) }));
          }, options.waitMs),
        };
        waiter.timer.unref();
        const queue = waiting.get(customer);
        if (queue) queue.push(waiter);
        else waiting.set(customer, [waiter]);
        waitingCount++;
        pump();
      });
    },

    /**
     * The job runner's question before each claim of an image job: a slot is free, and waiting
     * renders do not come first (they do unless the runner has no slot at all).
     */
    runnerMayClaim(): boolean {
      const room = free() > 0 && (waitingCount === 0 || options.jobsRunning() === 0);
      if (!room) runnerBlocked = true;
      // The slot kept for it is taken (or, if its claim finds nothing, the reservation's timer
      // hands it on): renders need not wait out the rest of the reservation when the job ends.
      else reservedUntil = 0;
      return room;
    },

    /** An image job ended: waiting renders may have a slot now. */
    jobSettled(): void {
      pump();
    },

    /** For /metrics and tests. */
    stats: () => ({ rendersRunning, rendersWaiting: waitingCount }),
  };
}

export type WorkSlots = ReturnType<typeof createWorkSlots>;
