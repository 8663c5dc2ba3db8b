/** The locks of resumable uploads across nodes, through the database port, on every dialect (test/helpers/database.ts). */
import { describe, expect, it } from 'vitest';
import { DIALECTS } from '../../helpers/database.js';

describe.each(DIALECTS)('upload locks repository on $dialect', ({ open }) => {
  it('gives an upload\'s lock to one holder at a time, and a lapsed lease to the next', async () => {
    const { repos } = await open();
    expect(await repos.uploadLocks.take('u1', 'node-a', 30_000, 0)).toBe(true);
    expect(await repos.uploadLocks.take('u1', 'node-b', 31_000, 1_000)).toBe(false);
    // Another upload has its own lock.
    expect(await repos.uploadLocks.take('u2', 'node-b', 31_000, 1_000)).toBe(true);
    // Renewed by its holder only.
    expect(await repos.uploadLocks.renew('u1', 'node-b', 99_000)).toBe(false);
    expect(await repos.uploadLocks.renew('u1', 'node-a', 40_000)).toBe(true);
    expect(await repos.uploadLocks.take('u1', 'node-b', 65_000, 35_000)).toBe(false);
    // Its holder died: once the lease ran out, the next taker has it, and the old one cannot renew.
    expect(await repos.uploadLocks.take('u1', 'node-b', 71_000, 41_000)).toBe(true);
    expect(await repos.uploadLocks.renew('u1', 'node-a', 80_000)).toBe(false);
  });

  it('is released by its holder only', async () => {
    const { repos } = await open();
    expect(await repos.uploadLocks.take('u1', 'node-a', 30_000, 0)).toBe(true);
    await repos.uploadLocks.release('u1', 'node-b');
    expect(await repos.uploadLocks.take('u1', 'node-c', 30_000, 1_000)).toBe(false);
    await repos.uploadLocks.release('u1', 'node-a');
    expect(await repos.uploadLocks.take('u1', 'node-c', 30_000, 1_000)).toBe(true);
  });

  it('gives it once when several nodes ask at the same moment', async () => {
    const { repos } = await open();
    const taken = await Promise.all(['a', 'b', 'c', 'd'].map((n) => repos.uploadLocks.take('u1', n, 30_000, 0)));
    expect(taken.filter(Boolean)).toHaveLength(1);
  });
});
