import type { Sharp } from 'sharp';

/** How the runner stops a task that runs: part of every task it hands a worker (types.ts). */
export interface StopControl {
  /** Set to non-zero (Atomics) by the runner to stop the task at its next step; shared memory. */
  cancel?: Int32Array;
  /** When the job's time is up: epoch milliseconds, wall clock. */
  deadline?: number;
}

/** A task stopped on purpose: its job was superseded (`cancelled`) or ran out of time. */
export class Stopped extends Error {
  constructor(readonly code: 'cancelled' | 'processing_timeout') {
    super(code === 'cancelled' ? 'stopped: the job was cancelled' : 'stopped: the job ran past its time limit');
  }
}

/**
 * How a worker honours a stop without being terminated. Terminating a worker thread does not
 * stop sharp: its work runs on libuv's thread pool and carries on (with its memory) after the
 * thread is gone, so a terminated job would keep a core busy while the pool starts the next
 * one. Instead the task stops itself: libvips is told the time left (sharp's `timeout`, which
 * kills a pipeline while it computes pixels), and between steps the task checks the deadline
 * and the cancel flag the runner sets. What cannot be interrupted is one encoder call (AV1
 * encoding of one variant), which the output caps keep to seconds.
 */
export function createStopper(control: StopControl) {
  // The deadline arrives as a wall-clock time; from here it is kept on this thread's monotonic
  // clock, so a jump of the wall clock (a laptop waking up, NTP) does not end the job early.
  const endsAt = control.deadline === undefined ? undefined : performance.now() + (control.deadline - Date.now());
  const timeLeft = () => (endsAt === undefined ? Infinity : endsAt - performance.now());
  const check = () => {
    if (control.cancel && Atomics.load(control.cancel, 0) !== 0) throw new Stopped('cancelled');
    if (timeLeft() <= 0) throw new Stopped('processing_timeout');
  };
  return {
    check,
    /** A pipeline that libvips abandons once the job's time is up (whole seconds, at least one). */
    limit(image: Sharp): Sharp {
      check();
      if (endsAt === undefined) return image;
      return image.timeout({ seconds: Math.max(1, Math.ceil(timeLeft() / 1000)) });
    },
    /** Milliseconds until the deadline (Infinity without one), for steps outside libvips to bound themselves by. */
    timeLeft,
    /** True when an error is the deadline's doing (sharp's own timeout, or ours). */
    timedOut: () => timeLeft() <= 0,
  };
}

export type Stopper = ReturnType<typeof createStopper>;
