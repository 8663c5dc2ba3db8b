/**
 * The purge's schedule fires on every node; its job is queued once per scheduled time across
 * them (CONTRACT §9). Three schedulers share one real SQLite database, as three nodes share one
 * PostgreSQL database.
 */
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { schedulePurge } from '../../server/jobs/scheduler.js';
import { systemClock } from '../../server/util/clock.js';
import { openTestSqlite } from '../helpers/database.js';

const stops: Array<() => void> = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

function threeNodes(expression: string, onWake: () => void = () => {}) {
  const database = openTestSqlite();
  const nodes = [1, 2, 3].map(() => {
    const scheduler = schedulePurge({ expression, database, clock: systemClock, maxAttempts: 3, logger: pino({ level: 'silent' }), wake: onWake });
    stops.push(scheduler.stop);
    return scheduler;
  });
  const purgeJobs = async () => (await database.rows('jobs')).filter((j) => j.kind === 'purge');
  return { database, nodes, purgeJobs };
}

describe('the purge schedule across nodes', () => {
  it('queues one purge when three nodes fire for the same scheduled time, and one again at the next', async () => {
    // A schedule that does not fire during the test: the slots are fired by hand.
    const { database, nodes, purgeJobs } = threeNodes('0 0 1 1 *');
    const slot = Date.UTC(2026, 0, 1, 12, 10);
    const queued = await Promise.all(nodes.map((n) => n.fire(slot)));
    expect(queued.filter(Boolean)).toHaveLength(1);
    expect(await purgeJobs()).toHaveLength(1);
    // The purge ran (a done job of no image leaves the table); the next slot queues one again, once.
    database.connection.prepare(`DELETE FROM jobs WHERE kind = 'purge'`).run();
    const next = await Promise.all(nodes.map((n) => n.fire(slot + 10 * 60_000)));
    expect(next.filter(Boolean)).toHaveLength(1);
    expect(await purgeJobs()).toHaveLength(1);
    // A node late to fire for the first slot changes nothing.
    expect(await nodes[2]!.fire(slot)).toBe(false);
    expect(await purgeJobs()).toHaveLength(1);
  });

  it('with the real schedule every second, three nodes queue one purge per second, not three', async () => {
    let wakes = 0;
    let clear = () => {};
    const { database, purgeJobs } = threeNodes('* * * * * *', () => {
      wakes++;
      // The purge runs at once (it is queued again only when none waits in its lane).
      clear();
    });
    clear = () => void database.connection.prepare(`DELETE FROM jobs WHERE kind = 'purge'`).run();
    const started = Date.now();
    await new Promise((r) => setTimeout(r, 3_500));
    const seconds = Math.ceil((Date.now() - started) / 1000);
    for (const stop of stops.splice(0)) stop();
    expect(wakes).toBeGreaterThanOrEqual(2);
    expect(wakes).toBeLessThanOrEqual(seconds + 1);
    const slots = (await database.rows('schedule_slots')).map((r) => r.slot);
    expect(slots).toHaveLength(wakes);
    // Each slot is a whole second, the time the schedule fired for.
    for (const slot of slots) expect(slot % 1000).toBe(0);
    expect(await purgeJobs()).toHaveLength(0);
  });
});
