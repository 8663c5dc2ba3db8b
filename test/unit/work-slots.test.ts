/** The worker pool's slots shared by image jobs and renders (jobs/work-slots.ts), with a stand-in runner. */
import { describe, expect, it } from 'vitest';
import { createWorkSlots } from '../../server/jobs/work-slots.js';

function setup(over: { threads?: number; queued?: number; due?: boolean; waitMs?: number; maxQueuedJobs?: number } = {}) {
  const runner = { running: 0, kicks: 0 };
  const slots = createWorkSlots({
    threads: over.threads ?? 1,
    jobsRunning: () => runner.running,
    jobsQueued: async () => over.queued ?? 0,
    jobsDue: async () => over.due ?? false,
    kickRunner: () => runner.kicks++,
    maxQueuedJobs: over.maxQueuedJobs ?? 100,
    waitMs: over.waitMs ?? 5_000,
  });
  return { slots, runner };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('work slots', () => {
  it('admits a render at once while a slot is free, and never more than the threads together with image jobs', async () => {
    const { slots, runner } = setup({ threads: 2 });
    runner.running = 1;
    const release = await slots.acquire('a');
    expect(slots.stats()).toEqual({ rendersRunning: 1, rendersWaiting: 0 });
    expect(slots.runnerMayClaim()).toBe(false);
    let second = false;
    void slots.acquire('a').then(() => (second = true));
    await tick();
    expect(second).toBe(false);
    release();
    await tick();
    expect(second).toBe(true);
  });

  it('serves waiting customers round-robin', async () => {
    const { slots } = setup();
    const hold = await slots.acquire('x');
    const order: string[] = [];
    const wait = (who: string) => slots.acquire(who.split('-')[0]!).then((release) => (order.push(who), release()));
    const all = [wait('a-1'), wait('a-2'), wait('a-3'), wait('b-1'), wait('c-1'), wait('b-2')];
    await tick();
    hold();
    await Promise.all(all);
    expect(order).toEqual(['a-1', 'b-1', 'c-1', 'a-2', 'b-2', 'a-3']);
  });

  it('keeps a freed slot for the runner when it has none and image jobs are due', async () => {
    const { slots, runner } = setup({ due: true });
    const hold = await slots.acquire('x');
    let granted = false;
    void slots.acquire('a').then(() => (granted = true));
    await tick();
    expect(slots.runnerMayClaim()).toBe(false); // blocked: it wants a slot
    hold();
    await tick();
    expect(runner.kicks).toBeGreaterThan(0);
    expect(granted).toBe(false);
    expect(slots.runnerMayClaim()).toBe(true);
    runner.running = 1; // it took the slot
    slots.jobSettled();
    await tick();
    expect(granted).toBe(false);
    runner.running = 0;
    slots.jobSettled();
    await tick();
    expect(granted).toBe(true);
  });

  it('gives the freed slot to a waiting render when no image job is due', async () => {
    const { slots } = setup({ due: false });
    const hold = await slots.acquire('x');
    let granted = false;
    void slots.acquire('a').then(() => (granted = true));
    await tick();
    expect(slots.runnerMayClaim()).toBe(false);
    hold();
    await tick();
    expect(granted).toBe(true);
  });

  it('refuses with 429 while the queue is full, and gives up a wait after waitMs with 503', async () => {
    const full = setup({ queued: 3, maxQueuedJobs: 3 });
    await expect(full.slots.acquire('a')).rejects.toMatchObject({ code: 'too_many_requests', headers: { 'Retry-After': '30' } });
    const { slots } = setup({ waitMs: 50 });
    const hold = await slots.acquire('x');
    await expect(slots.acquire('a')).rejects.toMatchObject({ code: 'unavailable', headers: { 'Retry-After': '1' } });
    expect(slots.stats()).toEqual({ rendersRunning: 1, rendersWaiting: 0 });
    hold();
    hold(); // a second release changes nothing
    expect(slots.stats()).toEqual({ rendersRunning: 0, rendersWaiting: 0 });
  });
});
