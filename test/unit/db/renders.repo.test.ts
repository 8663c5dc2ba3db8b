/** The result cache of renders (claims, stored files, expiry), through the database port, on every dialect (test/helpers/database.ts). */
import { describe, expect, it } from 'vitest';
import { DIALECTS } from '../../helpers/database.js';
import { imageId, imageRow } from '../../helpers/image-rows.js';

const id = imageId;
const image = (n: number) => imageRow(n);

const claimOf = (key: string, token: string, until: number, n = 1) => ({ key, imageId: id(n), format: 'webp', token, until });
const stored = (path: string, expiresAt = 100_000) => ({ path, bytes: 321, writtenAt: 10_000, expiresAt });

describe.each(DIALECTS)('renders repository on $dialect', ({ open }) => {
  async function seeded() {
    const db = await open();
    await db.insert('images', [image(1), image(2)]);
    return db;
  }

  it('gives a render to one claimant; the others find it rendering, then stored', async () => {
    const { repos } = await seeded();
    const claims = await Promise.all(['a', 'b', 'c', 'd'].map((token) => repos.renders.claim(claimOf('k1', token, 30_000), 0)));
    expect(claims.filter(Boolean)).toHaveLength(1);
    const holder = ['a', 'b', 'c', 'd'][claims.indexOf(true)]!;
    expect(await repos.renders.find('k1')).toMatchObject({ status: 'rendering', token: holder, path: null });
    // Only the holder records its file.
    expect(await repos.renders.complete('k1', 'someone-else', stored('processed/x/r-k1.webp'))).toBe(false);
    expect(await repos.renders.complete('k1', holder, stored('processed/x/r-k1.webp'))).toBe(true);
    expect(await repos.renders.find('k1')).toMatchObject({ status: 'done', path: 'processed/x/r-k1.webp', bytes: 321, written_at: 10_000, expires_at: 100_000 });
    // A current stored render is not claimed again.
    expect(await repos.renders.claim(claimOf('k1', 'e', 60_000), 50_000)).toBe(false);
    expect(await repos.renders.names('processed/x/r-k1.webp')).toBe(true);
    expect(await repos.renders.names('processed/x/r-other.webp')).toBe(false);
  });

  it('lets the next claimant take over a lapsed claim and an expired file; the one who lost it records nothing', async () => {
    const { repos } = await seeded();
    expect(await repos.renders.claim(claimOf('k1', 'a', 30_000), 0)).toBe(true);
    expect(await repos.renders.claim(claimOf('k1', 'b', 40_000), 10_000)).toBe(false);
    expect(await repos.renders.renew('k1', 'a', 50_000)).toBe(true);
    expect(await repos.renders.claim(claimOf('k1', 'b', 70_000), 40_000)).toBe(false);
    // Its node died: past its claim, the next one has it.
    expect(await repos.renders.claim(claimOf('k1', 'b', 90_000), 60_000)).toBe(true);
    expect(await repos.renders.renew('k1', 'a', 99_000)).toBe(false);
    expect(await repos.renders.complete('k1', 'a', stored('processed/x/a.webp'))).toBe(false);
    expect(await repos.renders.complete('k1', 'b', stored('processed/x/b.webp', 200_000))).toBe(true);
    // Expired: claimed again, keeping the old path so its file can go when the new one is recorded.
    expect(await repos.renders.claim(claimOf('k1', 'c', 260_000), 200_000)).toBe(true);
    expect(await repos.renders.find('k1')).toMatchObject({ status: 'rendering', token: 'c', path: 'processed/x/b.webp' });
  });

  it('releases a failed claim (holder only), and forgets a stored render whose file is gone', async () => {
    const { repos } = await seeded();
    expect(await repos.renders.claim(claimOf('k1', 'a', 30_000), 0)).toBe(true);
    await repos.renders.release('k1', 'b');
    expect(await repos.renders.find('k1')).toBeDefined();
    await repos.renders.release('k1', 'a');
    expect(await repos.renders.find('k1')).toBeUndefined();
    expect(await repos.renders.claim(claimOf('k1', 'b', 30_000), 0)).toBe(true);
    expect(await repos.renders.complete('k1', 'b', stored('processed/x/b.webp'))).toBe(true);
    expect(await repos.renders.forget('k1', 'processed/x/other.webp')).toBe(false);
    expect(await repos.renders.forget('k1', 'processed/x/b.webp')).toBe(true);
    expect(await repos.renders.find('k1')).toBeUndefined();
  });

  it('lists expired stored renders oldest first and removes one only while it is still expired and the same file', async () => {
    const { repos } = await seeded();
    for (const [key, expiresAt] of [['k1', 5_000], ['k2', 3_000], ['k3', 9_000]] as const) {
      expect(await repos.renders.claim(claimOf(key, 't', 1_000), 0)).toBe(true);
      expect(await repos.renders.complete(key, 't', stored(`processed/x/${key}.webp`, expiresAt))).toBe(true);
    }
    // One still rendering is not a stored file.
    expect(await repos.renders.claim(claimOf('k4', 't', 1_000_000), 0)).toBe(true);
    expect((await repos.renders.expired(6_000, 10)).map((r) => r.key)).toEqual(['k2', 'k1']);
    expect((await repos.renders.expired(6_000, 1)).map((r) => r.key)).toEqual(['k2']);
    expect(await repos.renders.removeExpired('k1', 'processed/x/k1.webp', 4_000)).toBe(false);
    expect(await repos.renders.removeExpired('k1', 'processed/x/other.webp', 6_000)).toBe(false);
    expect(await repos.renders.removeExpired('k1', 'processed/x/k1.webp', 6_000)).toBe(true);
    expect((await repos.renders.expired(6_000, 10)).map((r) => r.key)).toEqual(['k2']);
  });

  it("removes an image's renders with it: by reprocessing (naming their files) and by its delete", async () => {
    const db = await seeded();
    const { repos } = db;
    for (const [key, n] of [['k1', 1], ['k2', 1], ['k3', 2]] as const) {
      expect(await repos.renders.claim(claimOf(key, 't', 1_000, n), 0)).toBe(true);
      expect(await repos.renders.complete(key, 't', stored(`processed/${id(n)}/${key}.webp`))).toBe(true);
    }
    expect(await repos.renders.claim(claimOf('k4', 't', 1_000, 1), 0)).toBe(true);
    expect((await repos.renders.pathsOf(id(1))).sort()).toEqual([`processed/${id(1)}/k1.webp`, `processed/${id(1)}/k2.webp`]);
    expect((await repos.integrity.pathsNamedBy(id(1))).sort()).toEqual([`processed/${id(1)}/k1.webp`, `processed/${id(1)}/k2.webp`]);
    expect((await repos.renders.removeOfImage(id(1))).sort()).toEqual([`processed/${id(1)}/k1.webp`, `processed/${id(1)}/k2.webp`]);
    expect(await repos.renders.find('k4')).toBeUndefined();
    expect(await repos.renders.find('k3')).toBeDefined();
    await repos.images.delete(id(2));
    expect(await repos.renders.find('k3')).toBeUndefined();
    expect(await db.rows('renders')).toEqual([]);
  });
});
