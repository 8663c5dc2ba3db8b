/** The records the data-dir checks compare files against, through the database port, on every dialect. */
import { describe, expect, it } from 'vitest';
import { DIALECTS, type TestDatabase } from '../../helpers/database.js';
import { imageId, imageRow } from '../../helpers/image-rows.js';

const id = imageId;
const sha = (hex2: string) => hex2.repeat(32);

const image = (n: number, sha256: string, bytes = 100, status: 'queued' | 'done' = 'done') => imageRow(n, { sha256, bytes, status });

const variant = (n: number, name: string, over: { status?: 'pending' | 'done'; path?: string | null; expires_at?: number | null } = {}) => ({
  image_id: id(n),
  name,
  spec: '{}',
  status: over.status ?? 'done',
  format: 'webp',
  width: 20,
  height: 15,
  bytes: 10,
  path: over.path === undefined ? `${name}.webp` : over.path,
  etag: sha('cd'),
  written_at: 5_000,
  expires_at: over.expires_at === undefined ? 9_000 : over.expires_at,
});

describe.each(DIALECTS)('integrity repository on $dialect', ({ open }) => {
  /** Three originals: one shared by two images, one synced and evicted to the bucket, one never synced. */
  async function seeded(): Promise<TestDatabase> {
    const db = await open();
    await db.insert('images', [image(1, sha('ab'), 100), image(2, sha('ab'), 120), image(3, sha('ac'), 50), image(4, sha('f0'), 7, 'queued')]);
    await db.insert('s3_originals', [
      { sha256: sha('ac'), bytes: 50, local: 0, synced_at: 3_000, last_used_at: 3_000 },
      { sha256: sha('f0'), bytes: 7, local: 1, synced_at: null, last_used_at: 3_000 },
    ]);
    return db;
  }

  it('reads each original once, with the largest size its images recorded and what the S3 sync knows of it', async () => {
    const { repos } = await seeded();
    const between = await repos.integrity.originalsBetween('ab', 'ag');
    expect(between.sort((a, b) => a.sha256.localeCompare(b.sha256))).toEqual([
      { sha256: sha('ab'), bytes: 120, local: null, synced: false },
      { sha256: sha('ac'), bytes: 50, local: 0, synced: true },
    ]);
    // The range is half-open, and 'g' sorts after every hex digit.
    expect(await repos.integrity.originalsBetween('ac', 'ac')).toEqual([]);
    expect(await repos.integrity.originalsBetween('f0', 'fg')).toEqual([{ sha256: sha('f0'), bytes: 7, local: 1, synced: false }]);

    expect(await repos.integrity.original(sha('ac'))).toEqual({ sha256: sha('ac'), bytes: 50, local: 0, synced: true });
    expect(await repos.integrity.original(sha('99'))).toBeUndefined();
    expect(await repos.integrity.originalsTotal()).toEqual({ originals: 3, bytes: 120 + 50 + 7 });
  });

  it('counts nothing in an empty database', async () => {
    const { repos } = await open();
    expect(await repos.integrity.originalsTotal()).toEqual({ originals: 0, bytes: 0 });
    expect(await repos.integrity.originalsBetween('00', 'ffg')).toEqual([]);
  });

  it('names the images using an original, oldest first, and an image’s status', async () => {
    const { repos } = await seeded();
    expect(await repos.integrity.imagesUsing(sha('ab'), 3)).toEqual([id(1), id(2)]);
    expect(await repos.integrity.imagesUsing(sha('ab'), 1)).toEqual([id(1)]);
    expect(await repos.integrity.imagesUsing(sha('99'), 3)).toEqual([]);
    expect(await repos.integrity.imageStatus(id(4))).toBe('queued');
    expect(await repos.integrity.imageStatus(id(9))).toBeUndefined();
  });

  it('pages through the variants marked done that name a file, in (image, name) order', async () => {
    const db = await seeded();
    await db.insert('variants', [
      variant(2, 'thumb'),
      variant(1, 'thumb'),
      variant(1, 'display', { expires_at: null }),
      variant(1, 'pending', { status: 'pending', path: null }),
      variant(3, 'fileless', { path: null }),
      variant(4, 'old', { status: 'pending', path: 'old.webp' }),
    ]);
    const keys = (rows: Array<{ image_id: string; name: string }>) => rows.map((r) => [r.image_id, r.name]);
    const first = await db.repos.integrity.doneVariantsAfter('', '', 2);
    expect(keys(first)).toEqual([
      [id(1), 'display'],
      [id(1), 'thumb'],
    ]);
    expect(first[0]).toEqual({ image_id: id(1), name: 'display', path: 'display.webp', etag: sha('cd'), bytes: 10, expires_at: null });
    expect(keys(await db.repos.integrity.doneVariantsAfter(id(1), 'thumb', 2))).toEqual([[id(2), 'thumb']]);
    expect(await db.repos.integrity.doneVariantsAfter(id(2), 'thumb', 2)).toEqual([]);

    expect(await db.repos.integrity.doneVariant(id(2), 'thumb')).toMatchObject({ path: 'thumb.webp', expires_at: 9_000 });
    expect(await db.repos.integrity.doneVariant(id(4), 'old')).toBeUndefined();
    expect(await db.repos.integrity.doneVariant(id(3), 'fileless')).toBeUndefined();

    // Every file a variant row names counts as named, whatever the row's status.
    expect((await db.repos.integrity.pathsNamedBy(id(1))).sort()).toEqual(['display.webp', 'thumb.webp']);
    expect(await db.repos.integrity.pathsNamedBy(id(4))).toEqual(['old.webp']);
    expect(await db.repos.integrity.pathsNamedBy(id(9))).toEqual([]);
  });

  it('finds nothing wrong with a sound database by its engine’s own check', async () => {
    const db = await seeded();
    expect(await db.checkIntegrity()).toEqual([]);
  });
});
