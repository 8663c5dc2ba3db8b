/** The journal of a remote store's deletes through the database port, on every dialect. */
import { describe, expect, it } from 'vitest';
import { DIALECTS } from '../../helpers/database.js';

describe.each(DIALECTS)('blob deletes repository on $dialect', ({ open }) => {
  it('lists what is due and not claimed, oldest first; a claim holds until it runs out or is released', async () => {
    const db = await open();
    const repo = db.repos.blobDeletes;
    expect(await repo.nextDueAt()).toBeUndefined();
    await repo.schedule({ id: 'b', key: 'originals/bb', dueAt: 200 });
    await repo.schedule({ id: 'a', key: 'originals/aa', dueAt: 100 });
    await repo.schedule({ id: 'later', key: 'originals/cc', dueAt: 5_000 });
    expect(await repo.nextDueAt()).toBe(100);
    expect((await repo.due(1_000, 10)).map((r) => r.id)).toEqual(['a', 'b']);
    expect((await repo.due(1_000, 1)).map((r) => r.id)).toEqual(['a']);

    expect(await repo.claim('a', 1_500, 1_000)).toBe(true);
    // Another node cannot claim it while the claim is live; it is not due for anyone.
    expect(await repo.claim('a', 1_600, 1_100)).toBe(false);
    expect((await repo.due(1_000, 10)).map((r) => r.id)).toEqual(['b']);
    expect(await repo.isBeingDeleted('originals/aa', 1_200)).toBe(true);
    expect(await repo.isBeingDeleted('originals/aa', 1_501)).toBe(false);
    // Run out: due again, and claimable.
    expect((await repo.due(1_501, 10)).map((r) => r.id)).toEqual(['a', 'b']);
    expect(await repo.claim('a', 2_100, 1_600)).toBe(true);
    await repo.release('a');
    expect(await repo.isBeingDeleted('originals/aa', 1_700)).toBe(false);

    await repo.remove('a');
    expect(await repo.find('a')).toBeUndefined();
    expect(await repo.find('b')).toMatchObject({ key: 'originals/bb', due_at: 200, claimed_until: null });
  });

  it('an intent (due in the future) says its key is being written until it falls due', async () => {
    const db = await open();
    const repo = db.repos.blobDeletes;
    await repo.schedule({ id: 'intent', key: 'processed/x/thumb.1.webp', dueAt: 1_000 });
    expect(await repo.isBeingWritten('processed/x/thumb.1.webp', 999)).toBe(true);
    expect(await repo.isBeingWritten('processed/x/thumb.1.webp', 1_000)).toBe(false);
    expect(await repo.isBeingWritten('processed/x/other.1.webp', 0)).toBe(false);
  });
});
