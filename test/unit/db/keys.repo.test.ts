/** The keys repository through the database port, on every dialect (test/helpers/database.ts). */
import { describe, expect, it } from 'vitest';
import type { NewApiKeyRow } from '../../../server/db/keys.repo.js';
import { DIALECTS } from '../../helpers/database.js';

const key = (id: string, over: Partial<NewApiKeyRow> = {}): NewApiKeyRow => ({
  id,
  key_hash: `hash-${id}`,
  key_prefix: `drk_${id}`,
  customer: 'acme',
  role: 'user',
  name: null,
  created_at: 1_000,
  ...over,
});

describe.each(DIALECTS)('keys repository on $dialect', ({ open }) => {
  it('finds an inserted key by hash and by id, with nothing used or revoked yet', async () => {
    const { repos } = await open();
    await repos.keys.insert(key('a', { name: 'laptop', role: 'admin' }));
    const expected = { ...key('a', { name: 'laptop', role: 'admin' }), last_used_at: null, revoked_at: null };
    expect(await repos.keys.findByHash('hash-a')).toEqual(expected);
    expect(await repos.keys.findById('a')).toEqual(expected);
    expect(await repos.keys.findByHash('hash-nope')).toBeUndefined();
    expect(await repos.keys.findById('nope')).toBeUndefined();
  });

  it('lists active keys newest first (ties by id, descending) and leaves revoked ones out', async () => {
    const { repos } = await open();
    await repos.keys.insert(key('a', { created_at: 1 }));
    await repos.keys.insert(key('b', { created_at: 3 }));
    await repos.keys.insert(key('c', { created_at: 3 }));
    await repos.keys.insert(key('d', { created_at: 2 }));
    expect(await repos.keys.revoke('d', 50)).toBe(true);
    expect((await repos.keys.listActive()).map((k) => k.id)).toEqual(['c', 'b', 'a']);
  });

  it('revokes a key once: a second revoke or an unknown id changes nothing', async () => {
    const { repos } = await open();
    await repos.keys.insert(key('a'));
    expect(await repos.keys.revoke('a', 10)).toBe(true);
    expect(await repos.keys.revoke('a', 20)).toBe(false);
    expect(await repos.keys.revoke('nope', 20)).toBe(false);
    expect((await repos.keys.findById('a'))!.revoked_at).toBe(10);
  });

  it('counts only active admin keys', async () => {
    const { repos } = await open();
    expect(await repos.keys.countActiveAdmins()).toBe(0);
    await repos.keys.insert(key('a', { role: 'admin' }));
    await repos.keys.insert(key('b', { role: 'admin' }));
    await repos.keys.insert(key('c', { role: 'business' }));
    await repos.keys.revoke('b', 5);
    expect(await repos.keys.countActiveAdmins()).toBe(1);
  });

  it('records when a key was last used', async () => {
    const { repos } = await open();
    await repos.keys.insert(key('a'));
    await repos.keys.touch('a', 77);
    expect((await repos.keys.findById('a'))!.last_used_at).toBe(77);
  });

  it('refuses a second key with the same hash', async () => {
    const { repos } = await open();
    await repos.keys.insert(key('a'));
    await expect(repos.keys.insert(key('b', { key_hash: 'hash-a' }))).rejects.toThrow();
    expect(await repos.keys.findById('b')).toBeUndefined();
  });
});
