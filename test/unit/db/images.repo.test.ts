/** Images, their variants and their metadata through the database port, on every dialect. */
import { describe, expect, it } from 'vitest';
import type { NewImage } from '../../../server/db/images.repo.js';
import type { VariantSpec } from '../../../workers/types.js';
import { DIALECTS } from '../../helpers/database.js';
import { imageId, newImage } from '../../helpers/image-rows.js';

const id = imageId;

const image = (n: number, over: Partial<NewImage> = {}): NewImage => newImage(n, { bytes: 100 + n, ...over });

const SPECS: VariantSpec[] = [
  { name: 'thumb', width: 256, fit: 'inside', format: 'webp', withoutEnlargement: true },
  { name: 'display', width: 2048, fit: 'inside', format: 'avif', withoutEnlargement: true },
];

const file = (over: Partial<{ bytes: number; path: string; expiresAt: number }> = {}) => ({
  width: 20,
  height: 15,
  bytes: 10,
  path: 'thumb-1.webp',
  etag: 'cd'.repeat(32),
  writtenAt: 5_000,
  expiresAt: 9_000,
  ...over,
});

describe.each(DIALECTS)('images repository on $dialect', ({ open }) => {
  it('inserts a queued image with its variants pending, in the order given', async () => {
    const { repos } = await open();
    await repos.images.insert(image(1, { raw_format: 'cr2' }), SPECS);
    expect(await repos.images.findById(id(1))).toEqual({
      ...image(1),
      status: 'queued',
      generation: 1,
      processed_at: null,
      error_code: null,
      error_message: null,
      thumbhash: null,
      dominant_color: null,
      queued_at: 1_001,
      raw_format: 'cr2',
      preview_width: null,
      preview_height: null,
    });
    const variants = await repos.images.variantsOf(id(1));
    expect(variants.map((v) => [v.name, v.status, v.format])).toEqual([
      ['thumb', 'pending', 'webp'],
      ['display', 'pending', 'avif'],
    ]);
    expect(JSON.parse(variants[0]!.spec)).toEqual(SPECS[0]);
    expect(await repos.images.findVariant(id(1), 'display')).toMatchObject({ name: 'display', path: null, bytes: null });
    expect(await repos.images.findVariant(id(1), 'nope')).toBeUndefined();
    expect(await repos.images.findById(id(2))).toBeUndefined();
  });

  it('counts the images of the same bytes, and deletes an image with its variants', async () => {
    const { repos } = await open();
    await repos.images.insert(image(1), SPECS);
    await repos.images.insert(image(2), []);
    await repos.images.insert(image(3, { sha256: 'ef'.repeat(32) }), []);
    expect(await repos.images.countBySha256('ab'.repeat(32))).toBe(2);
    expect(await repos.images.delete(id(1))).toBe(true);
    expect(await repos.images.delete(id(1))).toBe(false);
    expect(await repos.images.countBySha256('ab'.repeat(32))).toBe(1);
    expect(await repos.images.variantsOf(id(1))).toEqual([]);
    expect(await repos.images.countBySha256('00'.repeat(32))).toBe(0);
  });

  it('lists newest first, filtered by customer and status, a page after a cursor (ties by id)', async () => {
    const { repos } = await open();
    await repos.images.insert(image(1, { customer: 'a' }), []);
    await repos.images.insert(image(2, { customer: 'b' }), []);
    await repos.images.insert(image(3, { customer: 'a', created_at: 1_002 }), []); // same time as 2
    await repos.images.insert(image(4, { customer: 'a' }), []);
    await repos.images.finish(id(4), 'done', 2_000);
    const ids = (rows: Array<{ id: string }>) => rows.map((r) => r.id);

    expect(ids(await repos.images.list({ limit: 10 }))).toEqual([id(4), id(3), id(2), id(1)]);
    expect(ids(await repos.images.list({ limit: 2 }))).toEqual([id(4), id(3)]);
    expect(ids(await repos.images.list({ limit: 10, before: { createdAt: 1_002, id: id(3) } }))).toEqual([id(2), id(1)]);
    expect(ids(await repos.images.list({ customer: 'a', limit: 10 }))).toEqual([id(4), id(3), id(1)]);
    expect(ids(await repos.images.list({ status: 'queued', limit: 10 }))).toEqual([id(3), id(2), id(1)]);
    expect(ids(await repos.images.list({ customer: 'a', status: 'queued', limit: 10, before: { createdAt: 1_002, id: id(3) } }))).toEqual([id(1)]);
    expect(await repos.images.list({ customer: 'nobody', limit: 10 })).toEqual([]);
  });

  it('starts processing a queued image once, then records its variants, summary and settling', async () => {
    const { repos } = await open();
    await repos.images.insert(image(1), SPECS);
    expect(await repos.images.startProcessing(id(1))).toBe(true);
    expect(await repos.images.startProcessing(id(1))).toBe(false);
    expect(await repos.images.findById(id(1))).toMatchObject({ status: 'processing' });

    await repos.images.completeVariant(id(1), 'thumb', file());
    await repos.images.saveSummary(id(1), 'hash', '#112233');
    await repos.images.savePreview(id(1), { width: 600, height: 400 });
    expect(await repos.images.doneVariantBytes(id(1))).toBe(10);
    await repos.images.setError(id(1), 'corrupt_image', 'broken');
    await repos.images.failVariants(id(1));
    await repos.images.finish(id(1), 'failed', 6_000);

    expect(await repos.images.findVariant(id(1), 'thumb')).toMatchObject({
      status: 'done', width: 20, height: 15, bytes: 10, path: 'thumb-1.webp', etag: 'cd'.repeat(32), written_at: 5_000, expires_at: 9_000,
    });
    // Only the pending one failed.
    expect(await repos.images.findVariant(id(1), 'display')).toMatchObject({ status: 'failed' });
    expect(await repos.images.findById(id(1))).toMatchObject({
      status: 'failed', processed_at: 6_000, error_code: 'corrupt_image', error_message: 'broken',
      thumbhash: 'hash', dominant_color: '#112233', preview_width: 600, preview_height: 400,
    });
    expect(await repos.images.startProcessing(id(1))).toBe(false);
    expect(await repos.images.doneVariantBytes(id(2))).toBe(0);
  });

  it('starts a new generation: variants pending, the error and processing time cleared, queued again from now', async () => {
    const { repos } = await open();
    await repos.images.insert(image(1), SPECS);
    await repos.images.completeVariant(id(1), 'thumb', file());
    await repos.images.setError(id(1), 'timeout', 'slow');
    await repos.images.finish(id(1), 'failed', 6_000);
    expect(await repos.images.startGeneration(id(1), 7_000)).toBe(2);
    expect(await repos.images.startGeneration(id(1), 8_000)).toBe(3);
    expect(await repos.images.findById(id(1))).toMatchObject({
      status: 'queued', generation: 3, error_code: null, error_message: null, processed_at: null, queued_at: 8_000,
    });
    expect((await repos.images.variantsOf(id(1))).map((v) => v.status)).toEqual(['pending', 'pending']);
  });

  it('finds the done variants past their expiry, oldest first, and marks one expired only while it still is', async () => {
    const { repos } = await open();
    await repos.images.insert(image(1), SPECS);
    await repos.images.insert(image(2), SPECS);
    await repos.images.completeVariant(id(1), 'thumb', file({ expiresAt: 300 }));
    await repos.images.completeVariant(id(1), 'display', file({ expiresAt: 900 }));
    await repos.images.completeVariant(id(2), 'thumb', file({ expiresAt: 100 }));
    await repos.images.completeVariant(id(2), 'display', file({ expiresAt: 200 }));

    const due = (rows: Array<{ image_id: string; name: string }>) => rows.map((v) => `${v.image_id.slice(-1)}/${v.name}`);
    expect(due(await repos.images.expiredVariants(500, 10))).toEqual(['2/thumb', '2/display', '1/thumb']);
    expect(due(await repos.images.expiredVariants(500, 2))).toEqual(['2/thumb', '2/display']);

    expect(await repos.images.markExpired(id(1), 'thumb', 500)).toBe(true);
    expect(await repos.images.findVariant(id(1), 'thumb')).toMatchObject({ status: 'expired', path: null });
    // Marked already, or not past its expiry at this time: left alone.
    expect(await repos.images.markExpired(id(1), 'thumb', 500)).toBe(false);
    expect(await repos.images.markExpired(id(1), 'display', 500)).toBe(false);
    expect(due(await repos.images.expiredVariants(500, 10))).toEqual(['2/thumb', '2/display']);
  });

  it('keeps the extracted metadata, replaced when extracted again', async () => {
    const { repos } = await open();
    await repos.images.insert(image(1), []);
    expect(await repos.images.metadata(id(1))).toBeUndefined();
    await repos.images.saveMetadata(id(1), { orientation: 6, exif: { Make: 'Canon' } }, 1);
    await repos.images.saveMetadata(id(1), { orientation: 1 }, 2);
    expect(await repos.images.metadata(id(1))).toEqual({ orientation: 1 });
  });

  it('records an image in a unit of work, undone with it', async () => {
    const db = await open();
    await expect(
      db.unitOfWork(async (repos) => {
        await repos.images.insert(image(1), SPECS);
        throw new Error('the upload was refused after all');
      }),
    ).rejects.toThrow();
    expect(await db.repos.images.findById(id(1))).toBeUndefined();
    expect(await db.repos.images.variantsOf(id(1))).toEqual([]);
  });
});
