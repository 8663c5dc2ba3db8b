/** Schedule slots through the database port, on every dialect (test/helpers/database.ts). */
import { describe, expect, it } from 'vitest';
import { DIALECTS } from '../../helpers/database.js';

describe.each(DIALECTS)('schedules repository on $dialect', ({ open }) => {
  it('gives each slot of a schedule to its first taker only', async () => {
    const { repos } = await open();
    expect(await repos.schedules.takeSlot('purge', 60_000)).toBe(true);
    expect(await repos.schedules.takeSlot('purge', 60_000)).toBe(false);
    expect(await repos.schedules.takeSlot('purge', 120_000)).toBe(true);
    // A clock set back finds its earlier slots free unless taken: it skips nothing it has not run.
    expect(await repos.schedules.takeSlot('purge', 0)).toBe(true);
    // Another schedule has slots of its own.
    expect(await repos.schedules.takeSlot('rollup', 60_000)).toBe(true);
  });

  it('gives a slot once when several nodes ask at the same moment', async () => {
    const { repos } = await open();
    const taken = await Promise.all([1, 2, 3].map(() => repos.schedules.takeSlot('purge', 600_000)));
    expect(taken.filter(Boolean)).toHaveLength(1);
  });

  it('forgets the slots of one schedule before a time', async () => {
    const db = await open();
    for (const slot of [1_000, 2_000, 3_000]) await db.repos.schedules.takeSlot('purge', slot);
    await db.repos.schedules.takeSlot('rollup', 1_000);
    expect(await db.repos.schedules.forgetBefore('purge', 2_500)).toBe(2);
    expect((await db.rows('schedule_slots')).map((r) => `${r.name}:${r.slot}`)).toEqual(['purge:3000', 'rollup:1000']);
  });
});
