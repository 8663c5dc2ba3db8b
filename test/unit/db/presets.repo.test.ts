/** Presets and the generated link-signing key, through the database port, on every dialect (test/helpers/database.ts). */
import { describe, expect, it } from 'vitest';
import { DIALECTS } from '../../helpers/database.js';

describe.each(DIALECTS)('presets repository on $dialect', ({ open }) => {
  it('creates, replaces (keeping its creation time), lists by name and removes presets', async () => {
    const { repos } = await open();
    expect(await repos.presets.list()).toEqual([]);
    expect(await repos.presets.put('card', '{"w":480}', 1_000)).toEqual({ name: 'card', params: '{"w":480}', created_at: 1_000, updated_at: 1_000 });
    await repos.presets.put('avatar', '{"w":64,"h":64}', 2_000);
    expect(await repos.presets.put('card', '{"w":600}', 3_000)).toEqual({ name: 'card', params: '{"w":600}', created_at: 1_000, updated_at: 3_000 });
    expect((await repos.presets.list()).map((p) => [p.name, p.params])).toEqual([
      ['avatar', '{"w":64,"h":64}'],
      ['card', '{"w":600}'],
    ]);
    expect(await repos.presets.find('card')).toMatchObject({ params: '{"w":600}' });
    expect(await repos.presets.find('none')).toBeUndefined();
    expect(await repos.presets.remove('card')).toBe(true);
    expect(await repos.presets.remove('card')).toBe(false);
    expect((await repos.presets.list()).map((p) => p.name)).toEqual(['avatar']);
  });
});

describe.each(DIALECTS)('link signing key repository on $dialect', ({ open }) => {
  it('keeps the first key offered and gives it to every later caller', async () => {
    const db = await open();
    expect(await db.repos.linkSigningKey.ensure('first-key', 1_000)).toBe('first-key');
    expect(await db.repos.linkSigningKey.ensure('second-key', 2_000)).toBe('first-key');
    expect(await db.rows('link_signing_key')).toEqual([{ id: 1, secret: 'first-key', created_at: 1_000 }]);
  });

  it('agrees on one key when several nodes offer theirs at the same moment', async () => {
    const db = await open();
    const offered = ['a', 'b', 'c', 'd', 'e', 'f'].map((n) => `key-of-node-${n}`);
    const got = await Promise.all(offered.map((k) => db.repos.linkSigningKey.ensure(k, 1_000)));
    expect(new Set(got).size).toBe(1);
    expect(offered).toContain(got[0]);
    expect(await db.rows('link_signing_key')).toHaveLength(1);
  });
});
