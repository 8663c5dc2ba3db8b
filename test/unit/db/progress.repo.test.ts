/** The desktop badge's count through the database port, on every dialect. */
import { describe, expect, it } from 'vitest';
import type { ImageStatus } from '../../../server/db/images.repo.js';
import { DIALECTS } from '../../helpers/database.js';

const image = (id: string, status: ImageStatus) => ({
  id,
  customer: 'acme',
  status,
  filename: `${id}.jpg`,
  bytes: 1,
  sha256: 'ab'.repeat(32),
  format: 'jpeg',
  width: 1,
  height: 1,
  source: 'upload',
  created_at: 1,
});

describe.each(DIALECTS)('progress repository on $dialect', ({ open }) => {
  it('counts the images queued or processing, not those finished or failed', async () => {
    const db = await open();
    expect(await db.repos.progress.countUnfinished()).toBe(0);
    await db.insert('images', [image('a', 'queued'), image('b', 'processing'), image('c', 'done'), image('d', 'failed'), image('e', 'queued')]);
    expect(await db.repos.progress.countUnfinished()).toBe(3);
  });
});
