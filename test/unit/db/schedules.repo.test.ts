/** Schedule slots through the database port, on every dialect (test/helpers/database.ts). */
import { describe, expect, it } from 'vitest';
import { DIALECTS } from '../../helpers/database.js';

describe.each(DIALECTS)('schedules repository on $dialect', ({ open }) => {
  it('gives each slot of a schedule to its first taker only, and never an older slot', async () => {
    const { repos } = open();
    expect(await repos.schedules.takeSlot('purge', 60_000)).toBe(true);
    expect(await repos.schedules.takeSlot('purge', 60_000)).toBe(false);
    expect(await repos.schedules.takeSlot('purge', 0)).toBe(false);
    expect(await repos.schedules.takeSlot('purge', 120_000)).toBe(true);
    // Another schedule has slots of its own.
    expect(await repos.schedules.takeSlot('rollup', 60_000)).toBe(true);
  });

  it('gives a slot once when several nodes ask at the same moment', async () => {
    const { repos } = open();
    const taken = await Promise.all([1, 2, 3].map(() => repos.schedules.takeSlot('purge', 600_000)));
    expect(taken.filter(Boolean)).toHaveLength(1);
  });
});
