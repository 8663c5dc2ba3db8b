/**
 * The stop a worker task honours keeps its deadline on the thread's monotonic clock: the wall
 * clock may jump (a laptop waking up, NTP) without ending or extending a job.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createStopper, Stopped } from '../../workers/stopper.js';

afterEach(() => {
  vi.restoreAllMocks();
});

const realNow = Date.now.bind(Date);
const jumpWallClock = (ms: number) => vi.spyOn(Date, 'now').mockImplementation(() => realNow() + ms);

describe('worker stopper', () => {
  it('does not stop a task when the wall clock jumps ahead past its deadline', () => {
    const stop = createStopper({ deadline: realNow() + 60_000 });
    jumpWallClock(3600_000);
    expect(() => stop.check()).not.toThrow();
    expect(stop.timedOut()).toBe(false);
  });

  it('stops it when its time is up, however far the wall clock went back', async () => {
    const stop = createStopper({ deadline: realNow() + 100 });
    jumpWallClock(-3600_000);
    await new Promise((r) => setTimeout(r, 150));
    expect(() => stop.check()).toThrow(Stopped);
    expect(stop.timedOut()).toBe(true);
  });

  it('stops it at once when the runner sets the cancel flag', () => {
    const cancel = new Int32Array(new SharedArrayBuffer(4));
    const stop = createStopper({ cancel, deadline: realNow() + 60_000 });
    expect(() => stop.check()).not.toThrow();
    Atomics.store(cancel, 0, 1);
    expect(() => stop.check()).toThrow('stopped: the job was cancelled');
  });
});
