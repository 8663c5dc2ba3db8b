import type { Insertable } from 'kysely';
import type { NewImage } from '../../server/db/images.repo.js';
import type { ImagesTable } from '../../server/db/schema.js';

/** The n-th image id of a repository test: a valid uuid v7 shape, ordered by n. */
export const imageId = (n: number) => `00000000-0000-7000-8000-${String(n).padStart(12, '0')}`;

/** An image as `repos.images.insert` takes it (a 40×30 JPEG of customer acme), with what the test changes. */
export const newImage = (n: number, over: Partial<NewImage> = {}): NewImage => ({
  id: imageId(n),
  customer: 'acme',
  filename: `${n}.jpg`,
  bytes: 100,
  sha256: 'ab'.repeat(32),
  format: 'jpeg',
  width: 40,
  height: 30,
  pages: 1,
  source: 'upload',
  created_at: 1_000 + n,
  ...over,
});

/** A whole `images` row as a test seeds it (`db.insert('images', …)`): processed, with what the test changes. */
export const imageRow = (n: number, over: Partial<Insertable<ImagesTable>> = {}): Insertable<ImagesTable> => ({
  ...newImage(n),
  status: 'done',
  processed_at: null,
  error_code: null,
  error_message: null,
  thumbhash: null,
  dominant_color: null,
  queued_at: null,
  raw_format: null,
  preview_width: null,
  preview_height: null,
  ...over,
});
